// Who may connect: HTTP Basic auth (OCPP security profile 1), the unknown-charger
// policies, registration status, subprotocol negotiation, SteVe-style URLs,
// duplicate connections, and chargers added by the CLI while running.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, handshake, until, sleep } from './lib/server.mjs';

const PW = 'c0ffee-authorization-key-0123456789';
let srv;

before(async () => {
  srv = await Server.start({
    chargers: [
      { id: 'CP-AUTH', password: PW },
      { id: 'CP-NOPW' },
      { id: 'CP-REJ', registration: 'Rejected' },
      { id: 'CP-PEND', registration: 'Pending' },
      { id: 'CP-DUP', password: PW },
    ],
  });
});

after(async () => {
  await srv?.cleanup();
});

const boot = (c) => c.call('BootNotification', { chargePointVendor: 'flashCharge', chargePointModel: 'ESP32' });
const basic = (user, password) => ({ user, password });

test('Basic auth with the right password: connected and Accepted', async () => {
  const c = await srv.connect('CP-AUTH', { password: PW });
  assert.equal(c.protocol, 'ocpp1.6');
  const r = await boot(c);
  assert.equal(r.status, 'Accepted');
  await c.close();
});

test('wrong password → HTTP 401, no WebSocket', async () => {
  const r = await handshake(srv.ocppUrl('CP-AUTH'), { auth: basic('CP-AUTH', 'wrong-password-000000000') });
  assert.equal(r.status, 401, JSON.stringify(r));
});

test('missing credentials for a charger that has a password → HTTP 401', async () => {
  const r = await handshake(srv.ocppUrl('CP-AUTH'));
  assert.equal(r.status, 401, JSON.stringify(r));
});

test('right password but a username other than the chargeBoxId → HTTP 401', async () => {
  const r = await handshake(srv.ocppUrl('CP-AUTH'), { auth: basic('CP-NOPW', PW) });
  assert.equal(r.status, 401, JSON.stringify(r));
});

test('ocpp-rpc with a wrong password sees the 401 too', async () => {
  const c = srv.client('CP-AUTH', { password: 'nope-nope-nope-nope' });
  await assert.rejects(c.connect(), (e) => e.code === 401);
});

test('a charger registered without password connects without auth', async () => {
  const c = await srv.connect('CP-NOPW');
  assert.equal((await boot(c)).status, 'Accepted');
  assert.ok((await c.call('Heartbeat', {})).currentTime);
  await c.close();
});

test('the Host header carries no port (MicroOcpp): still accepted', async () => {
  const r = await handshake(srv.ocppUrl('CP-NOPW'), { headers: { host: 'csms.example.com' } });
  assert.deepEqual(r, { open: true, protocol: 'ocpp1.6' });
});

test('unknown charger under the default policy (reject) → 401 or 404', async () => {
  const r = await handshake(srv.ocppUrl('CP-STRANGER'));
  assert.ok([401, 404].includes(r.status), JSON.stringify(r));
  const r2 = await handshake(srv.ocppUrl('CP-STRANGER'), { auth: basic('CP-STRANGER', 'whatever-password') });
  assert.ok([401, 404].includes(r2.status), JSON.stringify(r2));
});

test('registration Rejected → BootNotification Rejected', async () => {
  const c = await srv.connect('CP-REJ');
  const r = await boot(c);
  assert.equal(r.status, 'Rejected');
  assert.ok(Number.isInteger(r.interval));
  await c.close();
});

test('registration Pending → BootNotification Pending', async () => {
  const c = await srv.connect('CP-PEND');
  const r = await boot(c);
  assert.equal(r.status, 'Pending');
  await c.close();
});

test('no subprotocol → refused with HTTP 400', async () => {
  const r = await handshake(srv.ocppUrl('CP-NOPW'), { protocols: [] });
  assert.equal(r.status, 400, JSON.stringify(r));
});

test('only another subprotocol (ocpp2.0.1) → refused with HTTP 400', async () => {
  const r = await handshake(srv.ocppUrl('CP-NOPW'), { protocols: ['ocpp2.0.1'] });
  assert.equal(r.status, 400, JSON.stringify(r));
});

test('ocpp1.6 offered among others → ocpp1.6 selected', async () => {
  const r = await handshake(srv.ocppUrl('CP-NOPW'), { protocols: ['ocpp2.0.1', 'ocpp1.6', 'ocpp1.5'] });
  assert.deepEqual(r, { open: true, protocol: 'ocpp1.6' });
});

test('SteVe-style path /steve/websocket/CentralSystemService/{id} works', async () => {
  const c = await srv.connect('CP-AUTH', { password: PW, prefix: '/steve/websocket/CentralSystemService' });
  assert.equal((await boot(c)).status, 'Accepted');
  assert.ok((await c.call('Heartbeat', {})).currentTime);
  await c.close();
});

test('a second connection with the same chargeBoxId replaces the first', async () => {
  const c1 = await srv.connect('CP-DUP', { password: PW });
  assert.equal((await boot(c1)).status, 'Accepted');
  const c2 = await srv.connect('CP-DUP', { password: PW });
  const closed = await Promise.race([c1.closeEvent, sleep(5000).then(() => 'still open')]);
  assert.notEqual(closed, 'still open', 'the first connection was not closed within 5 s');
  assert.ok((await c2.call('Heartbeat', {})).currentTime);
  assert.deepEqual(await c2.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' }), {});
  await c2.close();
});

test('a charger added with the CLI while the server runs can connect within a few seconds', async () => {
  const pw = 'late-key-abcdefabcdef0123';
  srv.addCharger({ id: 'CP-LATE', password: pw });
  const t0 = Date.now();
  const ok = await until(async () => {
    const r = await handshake(srv.ocppUrl('CP-LATE'), { auth: basic('CP-LATE', pw) });
    return r.open ? r : false;
  }, { timeout: 6000, interval: 250, what: 'CP-LATE to be accepted' });
  assert.equal(ok.protocol, 'ocpp1.6');
  const c = await srv.connect('CP-LATE', { password: pw });
  assert.equal((await boot(c)).status, 'Accepted');
  await c.close();
  assert.ok(Date.now() - t0 < 6000);
});

test('a charger removed with the CLI right after it disconnected stays removed and is refused', async () => {
  // The previous test ended with CP-LATE closing its connection just now: its offline
  // bookkeeping may still be queued when the CLI removes it. That must not bring the
  // charger back (least of all without its password).
  const r = srv.cli(['charger', 'remove', 'CP-LATE']);
  assert.equal(r.code, 0, r.stderr);
  await sleep(3000); // the server re-reads the registry every ~2 s
  const rowsLeft = srv.sql("SELECT id, auth IS NULL AS no_password, registration FROM chargers WHERE id = 'CP-LATE'");
  assert.deepEqual(rowsLeft, [], `CP-LATE is back in the chargers table after 'charger remove': ${JSON.stringify(rowsLeft)}`);
  const noAuth = await handshake(srv.ocppUrl('CP-LATE'));
  assert.ok([401, 404].includes(noAuth.status), `removed CP-LATE without credentials: ${JSON.stringify(noAuth)}`);
  const withAuth = await handshake(srv.ocppUrl('CP-LATE'), { auth: basic('CP-LATE', 'late-key-abcdefabcdef0123') });
  assert.ok([401, 404].includes(withAuth.status), `removed CP-LATE with its old password: ${JSON.stringify(withAuth)}`);
});

test('a charger that reconnects in the moment it is removed does not come back without its password', async () => {
  const pw = 'gone-key-0123456789abcdef';
  srv.addCharger({ id: 'CP-GONE', password: pw });
  await until(async () => (await handshake(srv.ocppUrl('CP-GONE'), { auth: basic('CP-GONE', pw) })).open,
    { timeout: 6000, interval: 250, what: 'CP-GONE to be accepted' });
  const r = srv.cli(['charger', 'remove', 'CP-GONE']);
  assert.equal(r.code, 0, r.stderr);
  // MicroOcpp reconnects every ~10 s: one attempt lands before the server re-reads its registry.
  await handshake(srv.ocppUrl('CP-GONE'), { auth: basic('CP-GONE', pw) });
  await sleep(3000);
  const noAuth = await handshake(srv.ocppUrl('CP-GONE'));
  assert.ok([401, 404].includes(noAuth.status), `removed CP-GONE, no credentials: ${JSON.stringify(noAuth)}`);
  const back = srv.sql("SELECT id, auth IS NULL AS no_password, registration FROM chargers WHERE id = 'CP-GONE'");
  assert.deepEqual(back, [], `CP-GONE is back in the chargers table after 'charger remove': ${JSON.stringify(back)}`);
});

test('charger list shows the registered chargers', () => {
  const r = srv.cli(['charger', 'list']);
  assert.equal(r.code, 0, r.stderr);
  for (const id of ['CP-AUTH', 'CP-NOPW', 'CP-REJ']) assert.ok(r.stdout.includes(id), r.stdout);
  assert.ok(!r.stdout.includes(PW), 'charger list does not print the password');
});

test('the password is not stored in clear', () => {
  const dump = srv.sql('SELECT * FROM chargers');
  assert.ok(!JSON.stringify(dump).includes(PW), 'AuthorizationKey found in clear in the chargers table');
});

test('SIGTERM: exit 0', async () => {
  const e = await srv.stop();
  assert.deepEqual(e, { code: 0, signal: null }, srv.tail());
});

test('unknown charger under --unknown-chargers pending: Pending boot, other calls SecurityError', async () => {
  const p = await Server.start({ args: ['--unknown-chargers', 'pending'] });
  try {
    const c = await p.connect('CP-NEW-PENDING');
    const r = await boot(c);
    assert.equal(r.status, 'Pending');
    assert.ok(Number.isInteger(r.interval));
    await assert.rejects(c.call('Authorize', { idTag: 'X' }), (e) => e.rpcErrorCode === 'SecurityError');
    await assert.rejects(c.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' }),
      (e) => e.rpcErrorCode === 'SecurityError');
    // a Pending charger may boot again and is still Pending
    assert.equal((await boot(c)).status, 'Pending');
    await c.close();
    assert.deepEqual(await p.stop(), { code: 0, signal: null }, p.tail());
  } finally {
    await p.cleanup();
  }
});

test('unknown charger under --unknown-chargers accept: Accepted', async () => {
  const p = await Server.start({ args: ['--unknown-chargers', 'accept'] });
  try {
    const c = await p.connect('CP-NEW-ACCEPT');
    assert.equal((await boot(c)).status, 'Accepted');
    assert.ok((await c.call('Heartbeat', {})).currentTime);
    await c.close();
    assert.deepEqual(await p.stop(), { code: 0, signal: null }, p.tail());
  } finally {
    await p.cleanup();
  }
});

test('--unknown-chargers reject given explicitly (and via env) → 401 or 404', async () => {
  const p = await Server.start({ args: ['--unknown-chargers', 'reject'] });
  try {
    const r = await handshake(p.ocppUrl('CP-NEW-REJECT'));
    assert.ok([401, 404].includes(r.status), JSON.stringify(r));
    assert.deepEqual(await p.stop(), { code: 0, signal: null }, p.tail());
  } finally {
    await p.cleanup();
  }
  const q = await Server.start({ env: { FLASHCHARGE_UNKNOWN_CHARGERS: 'accept' } });
  try {
    const c = await q.connect('CP-ENV-ACCEPT');
    assert.equal((await boot(c)).status, 'Accepted', 'FLASHCHARGE_UNKNOWN_CHARGERS=accept honoured');
    await c.close();
    assert.deepEqual(await q.stop(), { code: 0, signal: null }, q.tail());
  } finally {
    await q.cleanup();
  }
});
