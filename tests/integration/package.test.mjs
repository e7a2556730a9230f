// The Debian package, built once from the build directory of the binary
// under test (cpack -G DEB, the same as `make deb`), unpacked into a
// throwaway root (dpkg-deb -x): its control data, the unit checked by
// systemd-analyze verify, the man page against the binary's options, and
// the installed binary run the way the unit runs it (its ExecStart with the
// installed configuration, in a temporary state directory) and smoke-tested:
// /healthz, the dashboard from the installed web root, a charger's boot.
// Also: a missing web root is a start-up warning and a 404 page naming
// --web-root, with no first-start link. No systemctl: CI has no systemd
// running.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, Server, cliOk, until } from './lib/server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const WEB = path.resolve(here, '../../web');
const BUILD = path.dirname(BIN);
const PW = 'package-test-authorization-key-0123';

let dir; // the temporary directory: the .deb, the root, the state
let root; // where the package is unpacked
let deb;

const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 600_000, ...opts });
  if (r.error) throw r.error;
  return r;
};
const ok = (cmd, args, opts) => {
  const r = run(cmd, args, opts);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
};

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fc-package-'));
  ok('cpack', ['-G', 'DEB', '-B', dir, '--config', path.join(BUILD, 'CPackConfig.cmake')]);
  const debs = readdirSync(dir).filter((f) => /^flashcharge_.*\.deb$/.test(f));
  assert.equal(debs.length, 1, `one package: ${debs}`);
  deb = path.join(dir, debs[0]);
  root = path.join(dir, 'root');
  ok('dpkg-deb', ['-x', deb, root]);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the package: files in FHS places, dependencies, conffile, maintainer scripts', () => {
  for (const f of ['usr/bin/flashcharge', 'usr/bin/flashcharge-sim', 'usr/bin/flashcharge-bench',
    'usr/share/flashcharge/web/index.html', 'usr/share/flashcharge/schemas/api/openapi.json',
    'usr/share/flashcharge/schemas/ocpp16/BootNotification.json', 'usr/share/man/man1/flashcharge.1',
    'etc/flashcharge/flashcharge.json', 'usr/lib/systemd/system/flashcharge.service']) {
    assert.ok(existsSync(path.join(root, f)), `${f} in the package`);
  }
  const depends = ok('dpkg-deb', ['-f', deb, 'Depends']);
  for (const p of ['libwebsockets17', 'libwebsockets-evlib-uv', 'libuv1', 'libjansson4', 'libjwt0',
    'libsqlite3-0', 'libsodium23', 'adduser']) {
    assert.match(depends, new RegExp(`(^|, )${p}( |,|$)`), `Depends names ${p}: ${depends}`);
  }
  const ctl = path.join(dir, 'control');
  ok('dpkg-deb', ['-e', deb, ctl]);
  assert.equal(readFileSync(path.join(ctl, 'conffiles'), 'utf8').trim(), '/etc/flashcharge/flashcharge.json');
  for (const s of ['postinst', 'prerm', 'postrm']) ok('sh', ['-n', path.join(ctl, s)]);
  const postinst = readFileSync(path.join(ctl, 'postinst'), 'utf8');
  assert.match(postinst, /adduser --system --group/);
  assert.match(postinst, /deb-systemd-invoke "\$action"/);
  assert.match(readFileSync(path.join(ctl, 'postrm'), 'utf8'), /purge\)[\s\S]*rm -rf \/var\/lib\/flashcharge/);
});

test('the unit: hardened, and valid for systemd-analyze verify', () => {
  const unit = readFileSync(path.join(root, 'usr/lib/systemd/system/flashcharge.service'), 'utf8');
  for (const l of ['User=flashcharge', 'ProtectSystem=strict', 'NoNewPrivileges=yes',
    'StateDirectory=flashcharge', 'PrivateTmp=yes', 'ProtectHome=yes', 'Restart=on-failure',
    'ExecStart=/usr/bin/flashcharge serve --config /etc/flashcharge/flashcharge.json',
    'WantedBy=multi-user.target']) {
    assert.ok(unit.split('\n').includes(l), `the unit has ${l}`);
  }
  assert.ok(Number(unit.match(/^LimitNOFILE=(\d+)$/m)?.[1]) >= 65536, 'LimitNOFILE raised');
  // The binary is not at /usr/bin on this machine: verify a copy whose
  // ExecStart names the unpacked one.
  const copy = path.join(dir, 'flashcharge.service');
  writeFileSync(copy, unit.replace('ExecStart=/usr/bin/', `ExecStart=${root}/usr/bin/`));
  const r = run('systemd-analyze', ['verify', '--man=no', copy]);
  assert.equal(r.status, 0, `systemd-analyze verify: ${r.stdout}${r.stderr}`);
  assert.equal(r.stderr.trim(), '', 'no warnings');
});

test('the man page lists every option of serve, from the option table', () => {
  const man = readFileSync(path.join(root, 'usr/share/man/man1/flashcharge.1'), 'utf8');
  const help = cliOk(['serve', '--help']).stdout;
  const flags = [...help.matchAll(/^ {2}--([a-z0-9-]+)/gm)].map((m) => m[1]);
  assert.ok(flags.length > 50, `serve --help lists its options (${flags.length})`);
  for (const f of flags) {
    assert.ok(man.includes(`.B \\-\\-${f.replaceAll('-', '\\-')} `), `--${f} in the man page`);
  }
});

test('the installed binary, run as the unit runs it: healthz, dashboard, a charger boots', async () => {
  const bin = path.join(root, 'usr/bin/flashcharge');
  const config = path.join(root, 'etc/flashcharge/flashcharge.json');
  const state = path.join(dir, 'state'); // StateDirectory, WorkingDirectory
  mkdirSync(state);
  // The installed configuration as the unit passes it; the environment
  // (which overrides the file) moves the database into the temporary state
  // directory and the ports to free ones.
  const env = { FLASHCHARGE_DB: path.join(state, 'flashcharge.db') };
  cliOk(['charger', 'add', 'CP-PKG', '--password', PW], { env }); // the tree's CLI, same schema
  assert.match(run(bin, ['charger', 'list', '--config', config], { env }).stdout, /CP-PKG/);
  const srv = new Server({
    bin, cwd: state,
    serveArgs: ['--config', config],
    env: { ...env, FLASHCHARGE_OCPP_PORT: '0', FLASHCHARGE_HTTP_PORT: '0', FLASHCHARGE_BIND: '127.0.0.1' },
  });
  srv.db = env.FLASHCHARGE_DB;
  try {
    await srv.spawn();
    const webRoot = path.join(root, 'usr/share/flashcharge/web');
    assert.match(srv.stderr, new RegExp(`event=web_root path="${webRoot.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`));
    assert.doesNotMatch(srv.stderr, /web_root_missing/);
    const health = await srv.http('/healthz');
    assert.equal(health.status, 200, health.text);
    const page = await srv.http('/', { contract: false });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /text\/html/);
    assert.equal(page.text, readFileSync(path.join(WEB, 'index.html'), 'utf8'), 'the installed index.html');
    const css = await srv.http('/app.css', { contract: false });
    assert.equal(css.status, 200);
    assert.equal(css.text, readFileSync(path.join(WEB, 'app.css'), 'utf8'));
    // the first-start link points at the page that is there
    await until(() => /event=first_start/.test(srv.stderr), { what: 'the first-start line' });
    assert.match(srv.stderr, /event=first_start url=http:\/\/127\.0\.0\.1:\d+\/#login=/);

    const c = await srv.connect('CP-PKG', { password: PW });
    const boot = await c.call('BootNotification', { chargePointVendor: 'flashCharge', chargePointModel: 'ESP32' });
    assert.equal(boot.status, 'Accepted');
    assert.deepEqual(c.strictFailures, []);
    await c.close();
    assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
    assert.ok(existsSync(path.join(state, 'flashcharge.db')), 'the database in the state directory');
  } finally {
    await srv.cleanup();
  }
});

test('a missing web root: a start-up warning with the path, a 404 page naming --web-root', async () => {
  const missing = path.join(tmpdir(), `fc-no-web-${process.pid}`);
  const srv = new Server({ args: ['--web-root', missing] });
  try {
    await srv.spawn();
    assert.match(srv.stderr, new RegExp(`level=warn event=web_root_missing path="${missing}"`));
    await until(() => /event=first_start/.test(srv.stderr), { what: 'the first-start line' });
    assert.doesNotMatch(srv.stderr, /#login=/, 'no first-start link to a page that is not there');
    assert.match(srv.stderr, /event=first_start msg="no user yet, and no web UI/);
    for (const [p, headers] of [['/', {}], ['/index.html', {}], ['/chargers', { accept: 'text/html' }]]) {
      const r = await srv.http(p, { contract: false, headers });
      assert.equal(r.status, 404, p);
      assert.match(r.headers.get('content-type'), /^text\/html/, p);
      assert.match(r.text, /--web-root/, p);
      assert.ok(r.text.includes(missing), `${p}: the page names where it looked`);
    }
    // what is not a page keeps its JSON answer
    const api = await srv.http('/nope');
    assert.equal(api.status, 404);
    assert.equal(api.json?.error, 'not_found');
    assert.equal((await srv.http('/healthz')).status, 200);
  } finally {
    await srv.cleanup();
  }
});

test('serve started elsewhere than the tree finds no ./web: it warns, never an empty reply', async () => {
  const elsewhere = mkdtempSync(path.join(tmpdir(), 'fc-cwd-'));
  const srv = new Server({ cwd: elsewhere });
  try {
    await srv.spawn();
    assert.match(srv.stderr, /event=web_root_missing path="\.\/web"/);
    const r = await srv.http('/', { contract: false });
    assert.equal(r.status, 404);
    assert.match(r.text, /--web-root/);
  } finally {
    await srv.cleanup();
    rmSync(elsewhere, { recursive: true, force: true });
  }
});
