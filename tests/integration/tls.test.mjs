// TLS and OCPP Security Profiles 1-3: wss:// with the whitepaper's cipher
// suites, Basic auth over TLS (profile 2), client certificates (profile 3),
// every refusal (no certificate, wrong CA, expired, CN of another charger,
// plain HTTP on the TLS port, a ClientHello that never comes), no downgrade
// to the plain port, https and wss for browsers (HSTS, the redirect port),
// certificate expiry in /metrics and /healthz, and reload without restart.
// The PKI is made with openssl at test time (lib/tlsca.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import https from 'node:https';
import http from 'node:http';
import { copyFileSync, writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import { RPCClient } from 'ocpp-rpc';
import { Server, handshake, until, withTimeout, parseLogfmt, cli } from './lib/server.mjs';
import { makeTestPki } from './lib/tlsca.mjs';
import { mint } from './lib/ui.mjs';
import { checkApiResponse } from './lib/contract.mjs';

// A response checked against schemas/api/openapi.json (as Server.http does over http).
function checked(method, p, r) {
  checkApiResponse({ method, path: p, status: r.status, contentType: r.headers['content-type'] ?? '', text: r.body });
  return r;
}

const PW = 'tls-test-authorization-key-0123456789';
const SECRET = 'tls-test-secret-0123456789abcdef0123456789';
let srv, pki, plainPort, redirectPort;

before(async () => {
  pki = makeTestPki(['CP-3']);
  // the server reads its files from names of its own, which the reload test overwrites
  copyFileSync(pki.file('server.pem'), pki.file('live.pem'));
  copyFileSync(pki.file('server.key'), pki.file('live.key'));
  srv = await Server.start({
    chargers: [
      { id: 'CP-1', password: PW, profile: 1 },
      { id: 'CP-2', password: PW, profile: 2 },
      { id: 'CP-D', password: PW },
      { id: 'CP-3', profile: 3 },
      { id: 'CP-3P', password: PW, profile: 3 },
    ],
    env: { FLASHCHARGE_JWT_SECRET: SECRET },
    args: ['--tls-cert', pki.file('live.pem'), '--tls-key', pki.file('live.key'),
      '--tls-client-ca', pki.file('ca.pem'), '--handshake-timeout', '2',
      '--ocpp-plain-port', '0', '--web-redirect-port', '0'],
  });
  const port = (kind) => {
    const l = srv.stderr.split('\n').map(parseLogfmt).find((f) => f.event === 'listening' && f.kind === kind);
    return l && Number(l.port);
  };
  await until(() => port('ocpp-plain') && port('http-redirect'), { what: 'the extra ports' });
  plainPort = port('ocpp-plain');
  redirectPort = port('http-redirect');
});

after(async () => {
  await srv?.cleanup();
  pki?.cleanup();
});

const wss = (id) => `wss://localhost:${srv.ocppPort}/ocpp/${id}`;
const plain = (id) => `ws://127.0.0.1:${plainPort}/ocpp/${id}`;
const auth = (id, password = PW) => ({ user: id, password });
const boot = (c) => c.call('BootNotification', { chargePointVendor: 'flashCharge', chargePointModel: 'ESP32' });

function charger(id, { password, cert } = {}) {
  const c = new RPCClient({
    endpoint: `wss://localhost:${srv.ocppPort}/ocpp`,
    identity: id,
    password,
    protocols: ['ocpp1.6'],
    strictMode: true,
    reconnect: false,
    wsOpts: pki.clientOpts(cert),
  });
  srv.clients.add(c);
  return c;
}

// A log line of the server with event ev whose fields match.
function logged(ev, match = {}) {
  return srv.stderr.split('\n').map(parseLogfmt)
    .find((f) => f.event === ev && Object.entries(match).every(([k, v]) =>
      v instanceof RegExp ? v.test(f[k] ?? '') : f[k] === v));
}

test('profile 2: wss:// with Basic auth, TLS 1.2 or 1.3, an AES-GCM suite', async () => {
  const c = charger('CP-2', { password: PW });
  await withTimeout(c.connect(), 5000, 'CP-2 over wss');
  assert.equal((await boot(c)).status, 'Accepted');
  await c.close();
  const r = await handshake(wss('CP-2'), { auth: auth('CP-2'), tls: pki.clientOpts() });
  assert.equal(r.open, true, JSON.stringify(r));
});

test('the cipher suites are the whitepaper\'s: ECDHE with AES-GCM; CBC and TLS 1.1 are refused', async () => {
  const suite = (opts) => new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: srv.ocppPort, servername: 'localhost',
      ca: pki.read('ca.pem'), ...opts }, () => {
      resolve({ ok: true, cipher: s.getCipher().name, version: s.getProtocol() });
      s.end();
    });
    s.on('error', (e) => resolve({ ok: false, error: e.code ?? e.message }));
  });
  const t13 = await suite({});
  assert.equal(t13.version, 'TLSv1.3');
  assert.match(t13.cipher, /AES_(128|256)_GCM/);
  const t12 = await suite({ maxVersion: 'TLSv1.2' });
  assert.equal(t12.version, 'TLSv1.2');
  assert.match(t12.cipher, /^ECDHE-ECDSA-AES(128|256)-GCM-SHA(256|384)$/);
  const cbc = await suite({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA' });
  assert.equal(cbc.ok, false, `a CBC suite was accepted: ${JSON.stringify(cbc)}`);
  const chacha = await suite({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305' });
  assert.equal(chacha.ok, false, `a suite outside the list was accepted: ${JSON.stringify(chacha)}`);
  const old = await suite({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' });
  assert.equal(old.ok, false, `TLS 1.1 was accepted: ${JSON.stringify(old)}`);
});

test('profile 2: a wrong password over TLS is 401', async () => {
  const r = await handshake(wss('CP-2'), { auth: auth('CP-2', 'wrong-password-0123456789'), tls: pki.clientOpts() });
  assert.equal(r.status, 401);
});

test('no downgrade: profile 2 and 3, and the default (2 with TLS), are refused on the plain port with 403', async () => {
  for (const id of ['CP-2', 'CP-D', 'CP-3P']) {
    const r = await handshake(plain(id), { auth: auth(id) });
    assert.equal(r.status, 403, `${id}: ${JSON.stringify(r)}`);
  }
  assert.ok(logged('handshake_refused', { reason: 'security_profile', detail: /plain ws/ }), srv.tail());
});

test('profile 1 connects on the plain port with Basic auth, and over TLS too', async () => {
  assert.equal((await handshake(plain('CP-1'), { auth: auth('CP-1') })).open, true);
  assert.equal((await handshake(plain('CP-1'), { auth: auth('CP-1', 'wrong-password-0123456789') })).status, 401);
  assert.equal((await handshake(wss('CP-1'), { auth: auth('CP-1'), tls: pki.clientOpts() })).open, true);
});

test('profile 3: a client certificate naming the charger, no Basic auth needed', async () => {
  const c = charger('CP-3', { cert: 'CP-3' });
  await withTimeout(c.connect(), 5000, 'CP-3 with its certificate');
  assert.equal((await boot(c)).status, 'Accepted');
  await c.close();
});

test('profile 3 without a client certificate: 401, even with the right password', async () => {
  assert.equal((await handshake(wss('CP-3'), { tls: pki.clientOpts() })).status, 401);
  assert.equal((await handshake(wss('CP-3P'), { auth: auth('CP-3P'), tls: pki.clientOpts() })).status, 401);
  assert.ok(logged('handshake_refused', { reason: 'client_certificate', detail: /without a client certificate/ }));
});

test('profile 3 with a certificate whose CN is another charger (or the URL names another): 403', async () => {
  assert.equal((await handshake(wss('CP-3'), { tls: pki.clientOpts('wrongcn') })).status, 403);
  assert.equal((await handshake(wss('CP-3P'), { tls: pki.clientOpts('CP-3') })).status, 403);
  assert.ok(logged('handshake_refused', { reason: 'client_certificate', detail: /CN is not the chargeBoxId/ }));
});

test('an expired client certificate, or one from another CA, fails the TLS handshake (logged why)', async () => {
  const expired = await handshake(wss('CP-3'), { tls: pki.clientOpts('expired') });
  assert.equal(expired.open, undefined, JSON.stringify(expired));
  assert.equal(expired.status, undefined, 'refused in TLS, before any HTTP');
  await until(() => logged('tls_handshake_failed', { reason: /expired/ }), { what: 'the expired line' });
  const other = await handshake(wss('CP-3'), { tls: { ...pki.clientOpts(), cert: pki.read('wrongca.pem'), key: pki.read('wrongca.key') } });
  assert.equal(other.open, undefined, JSON.stringify(other));
  assert.equal(other.status, undefined);
  await until(() => logged('tls_handshake_failed', { reason: /issuer|unable to verify|self.signed/ }),
    { what: 'the wrong-CA line' });
});

// Opens a TCP connection, writes what, and resolves when the server closes it.
function tcpUntilClosed(port, what) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => { if (what) s.write(what); });
    let got = '';
    s.on('data', (d) => { got += d.toString('latin1'); });
    s.on('error', () => {});
    s.on('close', () => resolve(got));
    s.setTimeout(15000, () => { s.destroy(); reject(new Error('the server kept the connection open')); });
  });
}

test('plain HTTP on the TLS port is refused and logged', async () => {
  const got = await tcpUntilClosed(srv.ocppPort, 'GET /ocpp/CP-2 HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.ok(!got.startsWith('HTTP/1.1 101'), got);
  await until(() => logged('tls_handshake_failed', { reason: /no request after the TLS handshake/ }), { what: 'the not-TLS line' });
});

test('a ClientHello that never completes is cut at the handshake timeout', async () => {
  // half a TLS record header, then nothing; and a silent connection
  await tcpUntilClosed(srv.ocppPort, Buffer.from([0x16, 0x03, 0x01]));
  await tcpUntilClosed(srv.ocppPort, null);
  await tcpUntilClosed(srv.httpPort, null);
  assert.ok(srv.alive);
});

function httpsGet(p, { token, port = srv.httpPort } = {}) {
  return new Promise((resolve, reject) => {
    // a fresh connection each time (no session reuse): it shows the certificate in use now
    const req = https.get({ host: '127.0.0.1', port, path: p, agent: false, servername: 'localhost', ca: pki.read('ca.pem'),
      headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      const fingerprint = res.socket.getPeerCertificate().fingerprint256;
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(checked('GET', p, { status: res.statusCode, headers: res.headers, body, fingerprint })));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
  });
}

test('browsers: /api and /healthz over https with HSTS, /ws over wss', async () => {
  const token = mint(SECRET, { sub: 'tls-viewer', role: 'viewer' });
  const h = await httpsGet('/healthz');
  assert.equal(h.status, 200);
  assert.match(h.headers['strict-transport-security'] ?? '', /max-age=\d+/);
  const health = JSON.parse(h.body);
  assert.ok(health.tlsCertDaysLeft >= 0 && health.tlsCertDaysLeft <= 2, h.body);
  const list = await httpsGet('/api/chargers', { token });
  assert.equal(list.status, 200, list.body);
  const ws = new WebSocket(`wss://localhost:${srv.httpPort}/ws?token=${token}`, { ca: pki.read('ca.pem') });
  srv.clients.add(ws);
  const first = await withTimeout(new Promise((resolve, reject) => {
    ws.once('message', (d) => resolve(JSON.parse(d.toString())));
    ws.once('error', reject);
  }), 5000, 'the hello over wss');
  assert.equal(first.type, 'hello');
  ws.close();
});

test('/metrics shows the days left of each server certificate', async () => {
  const m = await httpsGet('/metrics');
  assert.match(m.body, /^flashcharge_tls_cert_days_left\{port="ocpp"\} [0-9.]+$/m);
  assert.match(m.body, /^flashcharge_tls_cert_days_left\{port="http"\} [0-9.]+$/m);
  assert.match(m.body, /flashcharge_ocpp_handshakes_refused_total\{reason="client_certificate"\} [1-9]/);
});

test('the redirect port answers 301 to the same path over https', async () => {
  const r = await new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: redirectPort, path: '/api/chargers?x=1', headers: { host: 'example.test:80' } },
      (res) => { res.resume(); resolve({ status: res.statusCode, location: res.headers.location }); })
      .on('error', reject);
  });
  assert.equal(r.status, 301);
  assert.equal(r.location, `https://example.test:${srv.httpPort}/api/chargers`);
});

test('charger list shows each charger\'s profile', () => {
  const out = srv.cli(['charger', 'list']).stdout;
  assert.match(out, /^CP-3\s+Accepted\s+none\s+3\s/m);
  assert.match(out, /^CP-D\s+Accepted\s+password\s+default\s/m);
});

test('reload: new certificate for new connections, established ones stay; a bad file keeps the old one', async () => {
  const c = charger('CP-3', { cert: 'CP-3' });
  await withTimeout(c.connect(), 5000, 'CP-3 before the reload');
  const before = await httpsGet('/healthz');
  assert.equal(before.fingerprint, pki.fingerprint('server'));

  copyFileSync(pki.file('server2.pem'), pki.file('live.pem'));
  copyFileSync(pki.file('server2.key'), pki.file('live.key'));
  const viewer = mint(SECRET, { sub: 'tls-viewer', role: 'viewer' });
  const admin = mint(SECRET, { sub: 'tls-admin', role: 'admin' });
  const post = (token) => new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: srv.httpPort, path: '/api/admin/tls/reload', method: 'POST',
      servername: 'localhost', ca: pki.read('ca.pem'), headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(checked('POST', '/api/admin/tls/reload', { status: res.statusCode, headers: res.headers, body })));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal((await post(viewer)).status, 403);
  const r = await post(admin);
  assert.equal(r.status, 200, r.body);
  assert.equal((await httpsGet('/healthz')).fingerprint, pki.fingerprint('server2'));
  const s = await handshake(wss('CP-2'), { auth: auth('CP-2'), tls: pki.clientOpts() });
  assert.equal(s.open, true, 'the OCPP port takes the new certificate');
  // the charger connected before the reload is still there
  assert.equal(typeof (await c.call('Heartbeat', {})).currentTime, 'string');

  // a key of another type cannot replace the one in use (OpenSSL would keep both)
  copyFileSync(pki.file('server-rsa.pem'), pki.file('live.pem'));
  copyFileSync(pki.file('server-rsa.key'), pki.file('live.key'));
  assert.equal((await post(admin)).status, 500);
  assert.ok(logged('tls_reload_failed', { reason: /another type/ }));
  assert.equal((await httpsGet('/healthz')).fingerprint, pki.fingerprint('server2'));

  // SIGHUP with a broken certificate file: logged, the one in use stays
  writeFileSync(pki.file('live.pem'), 'not a certificate\n');
  srv.proc.kill('SIGHUP');
  await until(() => logged('tls_reload_failed', { reason: /no PEM certificate/ }), { what: 'tls_reload_failed' });
  assert.equal((await httpsGet('/healthz')).fingerprint, pki.fingerprint('server2'));
  assert.equal(typeof (await c.call('Heartbeat', {})).currentTime, 'string');
  assert.ok(srv.alive);
  await c.close();
});

test('serve refuses TLS options that do not go together, and files that do not load', () => {
  const db = pki.file('refused.db');
  const serve = (...a) => cli(['serve', '--db', db, '--ocpp-port', '0', '--http-port', '0', '--bind', '127.0.0.1', ...a]);
  let r = serve('--tls-cert', pki.file('server.pem'));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--tls-cert and --tls-key go together/);
  r = serve('--ocpp-plain-port', '0');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /for a server with TLS/);
  r = serve('--tls-cert', pki.file('server.pem'), '--tls-key', pki.file('CP-3.key'));
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /event=tls_load_failed .*reason="the key does not belong to the certificate"/);
});
