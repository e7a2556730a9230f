// Orderly shutdown: chargers are told the server is going away (1001), the
// process exits 0, and what was confirmed before is on disk.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, sleep, iso, field } from './lib/server.mjs';

const servers = [];
after(async () => {
  for (const s of servers) await s.cleanup();
});

async function start(opts) {
  const s = await Server.start(opts);
  servers.push(s);
  return s;
}

test('SIGTERM with chargers connected: they see close code 1001, the server exits 0', async () => {
  const srv = await start({ chargers: [{ id: 'CP-SD1' }, { id: 'CP-SD2', password: 'shutdown-key-0123456789' }] });
  const a = await srv.connect('CP-SD1');
  const b = await srv.connect('CP-SD2', { password: 'shutdown-key-0123456789' });
  assert.equal((await a.call('BootNotification', { chargePointVendor: 'v', chargePointModel: 'm' })).status, 'Accepted');
  assert.deepEqual(await b.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging', timestamp: iso() }), {});

  const exit = await srv.stop({ signal: 'SIGTERM' });
  const [ca, cb] = await Promise.all([
    Promise.race([a.closeEvent, sleep(3000).then(() => null)]),
    Promise.race([b.closeEvent, sleep(3000).then(() => null)]),
  ]);
  assert.deepEqual(exit, { code: 0, signal: null }, srv.tail());
  assert.ok(ca && cb, 'both chargers saw their connection close');
  assert.equal(ca.code, 1001, `CP-SD1 close: ${JSON.stringify(ca)}`);
  assert.equal(cb.code, 1001, `CP-SD2 close: ${JSON.stringify(cb)}`);

  // confirmed before the signal → on disk
  const conn = srv.sql('SELECT * FROM connectors')
    .find((r) => field(r, 'charger_id', 'charge_box_id') === 'CP-SD2' && field(r, 'connector_id') === 1);
  assert.equal(field(conn, 'status'), 'Charging');
});

test('SIGINT exits 0 too, and a raw charger sees 1001', async () => {
  const srv = await start({ chargers: [{ id: 'CP-SD3' }] });
  const r = await srv.raw('CP-SD3');
  const hb = await r.call('Heartbeat', {});
  assert.equal(hb[0], 3);
  const exit = await srv.stop({ signal: 'SIGINT' });
  assert.deepEqual(exit, { code: 0, signal: null }, srv.tail());
  const info = await Promise.race([r.closed, sleep(3000).then(() => null)]);
  assert.ok(info, 'connection closed');
  assert.equal(info.code, 1001);
});

test('SIGTERM with nobody connected exits 0; the db opens again', async () => {
  const srv = await start({ chargers: [{ id: 'CP-SD4' }] });
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
  await srv.spawn();
  const c = await srv.connect('CP-SD4');
  assert.ok((await c.call('Heartbeat', {})).currentTime);
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
});

test('SIGTERM the moment the listening lines appear (a supervisor may do this) → exit 0, every time', async () => {
  // The listening lines are the server's "ready" signal: a SIGTERM after them must be
  // handled (drain, exit 0), not kill the process through the default disposition.
  const srv = await start({});
  const outcomes = [];
  for (let i = 0; i < 8; i++) {
    if (i > 0) await srv.spawn();
    outcomes.push(await srv.stop());
  }
  const bad = outcomes.filter((e) => e.code !== 0 || e.signal !== null);
  assert.deepEqual(bad, [], `${bad.length}/8 starts died of the signal: ${JSON.stringify(outcomes)}`);
});
