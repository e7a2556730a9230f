// A test PKI made with the openssl CLI at test time, in a temporary
// directory (no key is committed): a charger CA, the server's certificate
// (CN localhost, SAN localhost and 127.0.0.1) and charger certificates
// (valid, expired, CN of another charger, issued by another CA).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

function openssl(args, cwd) {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8', timeout: 20000 });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

export class TestCA {
  constructor() {
    this.dir = mkdtempSync(path.join(tmpdir(), 'fc-tls-'));
    this.serial = 1;
  }

  file(name) {
    return path.join(this.dir, name);
  }

  read(name) {
    return readFileSync(this.file(name));
  }

  // A self-signed CA: NAME.pem and NAME.key.
  ca(name, { rsa = false } = {}) {
    openssl(['req', '-x509', ...keyArgs(rsa), '-nodes', '-keyout', `${name}.key`,
      '-out', `${name}.pem`, '-subj', `/CN=flashcharge test ${name}`, '-days', '2',
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], this.dir);
    return { cert: this.file(`${name}.pem`), key: this.file(`${name}.key`) };
  }

  // A certificate NAME.pem / NAME.key with subject CN cn, issued by ca.
  // days < 0: already expired. server: a TLS server certificate for
  // localhost and 127.0.0.1; otherwise a client one.
  issue(name, cn, { ca = 'ca', days = 2, server = false, rsa = false } = {}) {
    openssl(['req', ...keyArgs(rsa), '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`,
      '-subj', `/CN=${cn}`], this.dir);
    const ext = `${name}.ext`;
    writeFileSync(this.file(ext), server
      ? 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n'
      : 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`,
      '-set_serial', String(this.serial++), '-days', String(days), '-extfile', ext,
      '-out', `${name}.pem`], this.dir);
    return { cert: this.file(`${name}.pem`), key: this.file(`${name}.key`) };
  }

  // Node tls options for a client that trusts the CA, with a client
  // certificate NAME when given.
  clientOpts(name) {
    const o = { ca: this.read('ca.pem') };
    if (name) {
      o.cert = this.read(`${name}.pem`);
      o.key = this.read(`${name}.key`);
    }
    return o;
  }

  // SHA-256 fingerprint of NAME.pem as Node prints it (AB:CD:…).
  fingerprint(name) {
    const out = openssl(['x509', '-in', `${name}.pem`, '-noout', '-fingerprint', '-sha256'], this.dir);
    return out.trim().split('=')[1];
  }

  cleanup() {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function keyArgs(rsa) {
  return rsa ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
}

// The usual test PKI: ca (charger and server CA), server, charger
// certificates for the ids given, and the bad ones.
export function makeTestPki(ids = ['CP-3']) {
  const pki = new TestCA();
  pki.ca('ca');
  pki.ca('otherca');
  pki.issue('server', 'localhost', { server: true });
  pki.issue('server2', 'localhost', { server: true }); // for the reload
  pki.issue('server-rsa', 'localhost', { server: true, rsa: true }); // another key type
  for (const id of ids) pki.issue(id, id);
  pki.issue('expired', ids[0], { days: -1 });
  pki.issue('wrongcn', 'SOMEONE-ELSE');
  pki.issue('wrongca', ids[0], { ca: 'otherca' });
  return pki;
}
