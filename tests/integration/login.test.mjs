// Sign-in: POST /api/login with users made by `flashcharge user`, the
// first-start one-time code, throttling, and the random secret a server
// makes for itself when none is configured. (Throttling per address, the
// queue and the code under load: hardening-http.test.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server, until } from './lib/server.mjs';

const WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web');
const SECRET = 'login-test-secret-0123456789abcdef-XYZ';

const login = (srv, body) => srv.http('/api/login', {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
});

test('users sign in with their password; failures answer alike; tokens work', async () => {
  const srv = new Server({ env: { FLASHCHARGE_JWT_SECRET: SECRET } });
  try {
    srv.cli(['user', 'add', 'alice', '--role', 'operator', '--password', 'alice-password']);
    const list = srv.cli(['user', 'list']);
    assert.match(list.stdout, /alice\s+operator/);
    assert.equal(srv.cli(['user', 'add', 'bob', '--role', 'root', '--password', 'bob-password']).code, 2);
    assert.equal(srv.cli(['user', 'add', 'bob', '--role', 'viewer', '--password', 'short']).code, 1);
    await srv.spawn();
    assert.doesNotMatch(srv.stderr, /first_start/); // a user exists

    const ok = await login(srv, { username: 'alice', password: 'alice-password' });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.role, 'operator');
    assert.equal(ok.json.sub, 'alice');
    const exp = Date.parse(ok.json.expiresAt);
    assert.ok(exp > Date.now() + 11 * 3600e3 && exp <= Date.now() + 12 * 3600e3 + 5000);
    const claims = JSON.parse(Buffer.from(ok.json.token.split('.')[1], 'base64url'));
    assert.deepEqual([claims.sub, claims.role, claims.chargers], ['alice', 'operator', '*']);
    const r = await srv.http('/api/chargers', { headers: { authorization: `Bearer ${ok.json.token}` } });
    assert.equal(r.status, 200);
    assert.doesNotMatch(srv.stderr, /alice-password/);

    const wrong = await login(srv, { username: 'alice', password: 'not-her-password' });
    const nobody = await login(srv, { username: 'nobody', password: 'not-her-password' });
    assert.equal(wrong.status, 401);
    assert.equal(nobody.status, 401);
    assert.deepEqual(wrong.json, nobody.json); // nothing tells which names exist
    assert.equal((await login(srv, { username: 'alice' })).status, 400);
    assert.equal((await srv.http('/api/login', { method: 'POST', body: 'not json' })).status, 400);
    assert.equal((await srv.http('/api/login')).status, 405);

    // after `user remove` the password no longer works
    srv.cli(['user', 'remove', 'alice']);
    assert.equal((await login(srv, { username: 'alice', password: 'alice-password' })).status, 401);
  } finally {
    await srv.cleanup();
  }
});

const verifications = async (srv) => Number((await srv.http('/metrics')).text
  .match(/^flashcharge_login_verifications_total (\d+)$/m)[1]);

test('failed sign-ins are throttled per name and address (429 with Retry-After), before any hashing', async () => {
  const srv = new Server({ env: { FLASHCHARGE_JWT_SECRET: SECRET } });
  try {
    srv.cli(['user', 'add', 'carol', '--role', 'viewer', '--password', 'carol-password']);
    await srv.spawn();
    for (let i = 0; i < 5; i++) {
      assert.equal((await login(srv, { username: 'carol', password: `guess-${i}-xxxx` })).status, 401);
    }
    const checked = await verifications(srv);
    const blocked = await login(srv, { username: 'carol', password: 'carol-password' });
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.headers.get('retry-after')) > 0);
    assert.equal(await verifications(srv), checked, 'answered without verifying a password');
    // another name from the same address is not blocked yet
    assert.equal((await login(srv, { username: 'dave', password: 'whatever-xx' })).status, 401);
  } finally {
    await srv.cleanup();
  }
});

test('first start: a one-time URL signs in once as admin; a random secret when none is set', async () => {
  // no FLASHCHARGE_JWT_SECRET; the link is logged only where the page is served
  const srv = new Server({ args: ['--web-root', WEB_ROOT] });
  try {
    await srv.spawn();
    await until(() => /event=first_start/.test(srv.stderr), { what: 'the first-start line' });
    assert.match(srv.stderr, /event=jwt_secret_generated/);
    const url = srv.stderr.match(/url=(\S+)/)[1];
    assert.equal(new URL(url).port, String(srv.httpPort));
    const code = url.split('#login=')[1];
    assert.ok(code.length >= 32);

    const ok = await login(srv, { code });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.role, 'admin');
    const r = await srv.http('/api/chargers', { headers: { authorization: `Bearer ${ok.json.token}` } });
    assert.equal(r.status, 200);
    assert.equal((await login(srv, { code })).status, 401, 'the code works once');
    assert.equal((await login(srv, { code: 'x'.repeat(code.length) })).status, 401);

    // the random secret dies with the process: the old token is refused after a restart
    await srv.stop();
    await srv.spawn();
    const again = await srv.http('/api/chargers', { headers: { authorization: `Bearer ${ok.json.token}` } });
    assert.equal(again.status, 401);
    await until(() => /#login=/.test(srv.stderr), { what: 'the second first-start line' });
    const code2 = srv.stderr.match(/#login=(\S+)/)[1];
    assert.notEqual(code2, code);
    // once a user exists, the new code no longer works
    srv.cli(['user', 'add', 'erin', '--role', 'admin', '--password', 'erin-password']);
    assert.equal((await login(srv, { code: code2 })).status, 401);
  } finally {
    await srv.cleanup();
  }
});
