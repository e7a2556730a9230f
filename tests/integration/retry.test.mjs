// A charger retries every message that was not confirmed, identical (with a
// new message id). State changes only when a write has committed, and a retry
// of what was committed already stores nothing new and raises no event: the
// store's fault file lands the failure exactly between the two.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { Server, iso, until, sleep } from './lib/server.mjs';

const TARIFF = { currency: 'EUR', perKwh: 0.30, perMinute: 0.02, perSession: 0.50 };

const servers = [];
after(async () => {
  for (const s of servers) await s.cleanup();
});

async function start(id) {
  const s = new Server();
  servers.push(s);
  const file = path.join(s.dir, 'config.json');
  writeFileSync(file, JSON.stringify({ tariff: TARIFF }));
  s.opts = {
    chargers: [{ id }], tags: [{ tag: 'TAG-R' }],
    args: ['--answer-timeout', '2000', '--fault-file', s.faultFile, '--config', file],
  };
  s.register();
  await s.spawn();
  return s;
}

const boot = (c) => c.call('BootNotification', { chargePointVendor: 'flashCharge', chargePointModel: 'ESP32' });

async function attempt(p) {
  try {
    return { ok: true, value: await p };
  } catch (e) {
    return { ok: false, code: e.rpcErrorCode, error: e };
  }
}

async function faulty(srv, mode) {
  srv.writeFault(mode);
  await sleep(200); // the fault file is re-read at most every 50 ms
}

async function healthy(srv) {
  srv.clearFault();
  await until(async () => (await srv.http('/healthz')).status === 200,
    { timeout: 15_000, interval: 200, what: 'healthz 200 after the fault is gone' });
}

const events = (srv, id, type) =>
  srv.sql(`SELECT seq, json FROM events WHERE charger_id = '${id}' AND type = '${type}' ORDER BY seq`)
    .map((r) => JSON.parse(r.json));

const meter = (transactionId, ts, wh, w) => ({
  connectorId: 1, transactionId,
  meterValue: [{ timestamp: iso(ts), sampledValue: [
    { value: String(wh), measurand: 'Energy.Active.Import.Register', unit: 'Wh' },
    { value: String(w), measurand: 'Power.Active.Import', unit: 'W' }] }],
});

test('a StopTransaction refused while the store fails keeps its energy and cost when retried', { timeout: 60_000 }, async () => {
  const ID = 'CP-RETRY-STOP';
  const srv = await start(ID);
  const cp = await srv.connect(ID, { callTimeoutMs: 8000 });
  assert.equal((await boot(cp)).status, 'Accepted');
  const t0 = Date.now() - 20 * 60_000;
  const { transactionId: tx } = await cp.call('StartTransaction',
    { connectorId: 1, idTag: 'TAG-R', meterStart: 1000, timestamp: iso(t0) });
  assert.deepEqual(await cp.call('MeterValues', meter(tx, t0 + 5 * 60_000, 3000, 11000)), {});

  await faulty(srv, 'fail');
  const stop = { transactionId: tx, meterStop: 3500, timestamp: iso(t0 + 10 * 60_000), reason: 'EVDisconnected' };
  const first = await attempt(cp.call('StopTransaction', stop));
  assert.equal(first.ok, false, `StopTransaction confirmed (${JSON.stringify(first.value)}) while every write fails`);
  assert.equal(first.code, 'InternalError');
  await healthy(srv);

  // The charger sends it again, identical.
  assert.deepEqual(await cp.call('StopTransaction', stop), {});
  const [row] = srv.sql(`SELECT * FROM transactions WHERE id = ${tx}`);
  assert.equal(row.meter_stop, 3500, JSON.stringify(row));
  // 0.50 + 0.30 x 2.5 kWh + 0.02 x 10 min = 1.45
  assert.ok(row.cost != null && Math.abs(row.cost - 1.45) < 0.011, `stored cost: ${JSON.stringify(row)}`);
  assert.equal(row.currency, 'EUR');
  const stopped = events(srv, ID, 'transaction.stopped');
  assert.equal(stopped.length, 1, JSON.stringify(stopped));
  assert.equal(stopped[0].data.energyWh, 2500, JSON.stringify(stopped[0]));
  assert.ok(Math.abs(stopped[0].data.cost - 1.45) < 0.011, JSON.stringify(stopped[0]));
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
});

test('a MeterValues committed but never confirmed, retried after kill -9: stored once, its events raised once', { timeout: 60_000 }, async () => {
  const ID = 'CP-RETRY-MV';
  const srv = await start(ID);
  let cp = await srv.connect(ID, { callTimeoutMs: 8000 });
  assert.equal((await boot(cp)).status, 'Accepted');
  const t0 = Date.now() - 20 * 60_000;
  const { transactionId: tx } = await cp.call('StartTransaction',
    { connectorId: 1, idTag: 'TAG-R', meterStart: 1000, timestamp: iso(t0) });
  assert.deepEqual(await cp.call('MeterValues', meter(tx, t0 + 60_000, 1500, 11000)), {});
  await sleep(300); // lazy writes (the frame log) are committed with company or after 100 ms

  // The disk takes the commit but cannot sync it: the charger is not told…
  await faulty(srv, 'fail-sync');
  const mv = meter(tx, t0 + 120_000, 2000, 11000);
  const first = await attempt(cp.call('MeterValues', mv));
  assert.equal(first.ok, false, `MeterValues confirmed (${JSON.stringify(first.value)}) though its sync failed`);
  assert.equal(first.code, 'InternalError');
  const ts = t0 + 120_000;
  assert.equal(srv.sql(`SELECT * FROM meter_readings WHERE charger_id = '${ID}' AND ts = ${ts}`).length, 1,
    'the reading was committed');
  // …and the server dies before the charger tries again.
  await srv.kill9();
  srv.clearFault();
  await srv.spawn();
  cp = await srv.connect(ID, { callTimeoutMs: 8000 });
  assert.deepEqual(await cp.call('MeterValues', mv), {});

  assert.equal(srv.sql(`SELECT * FROM meter_readings WHERE charger_id = '${ID}' AND ts = ${ts}`).length, 1,
    'the retried reading is stored once');
  const stamp = iso(ts);
  for (const type of ['meter', 'energy', 'cost']) {
    const evs = events(srv, ID, type).filter((e) => e.ts === stamp);
    assert.equal(evs.length, 1, `one ${type} event for the reading: ${JSON.stringify(evs)}`);
  }
  const energy = events(srv, ID, 'energy');
  assert.deepEqual(energy.map((e) => e.data.energyWh), [500, 1000]);

  // The next reading counts from it, once.
  assert.deepEqual(await cp.call('MeterValues', meter(tx, t0 + 180_000, 2600, 11000)), {});
  assert.deepEqual(events(srv, ID, 'energy').map((e) => e.data.energyWh), [500, 1000, 1600]);
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
});

test('a StatusNotification retried after its commit was not confirmed: no second event', { timeout: 60_000 }, async () => {
  const ID = 'CP-RETRY-ST';
  const srv = await start(ID);
  let cp = await srv.connect(ID, { callTimeoutMs: 8000 });
  assert.equal((await boot(cp)).status, 'Accepted');
  await sleep(300);
  await faulty(srv, 'fail-sync');
  const sn = { connectorId: 1, errorCode: 'NoError', status: 'Charging', timestamp: iso(Date.now() - 1000) };
  const first = await attempt(cp.call('StatusNotification', sn));
  assert.equal(first.code, 'InternalError');
  await srv.kill9();
  srv.clearFault();
  await srv.spawn();
  cp = await srv.connect(ID, { callTimeoutMs: 8000 });
  assert.deepEqual(await cp.call('StatusNotification', sn), {});
  const evs = events(srv, ID, 'status');
  assert.equal(evs.length, 1, JSON.stringify(evs));
  assert.equal(srv.sql(`SELECT * FROM status_history WHERE charger_id = '${ID}'`).length, 1);
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
});
