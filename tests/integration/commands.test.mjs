// Remote commands over REST (start, stop, limit, reset, unlock, trigger,
// configuration, target SoC), answered by a strict OCPP 1.6 charge point
// (ocpp-rpc validates every call we send against the official schemas), with
// the cost, precharge and command events a subscribed UI client sees.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import rpc from 'ocpp-rpc';
const { createRPCError, NOREPLY } = rpc;
import { Server, until, sleep, iso } from './lib/server.mjs';
import { Rig } from './lib/rig.mjs';

const SECRET = 'commands-test-secret-0123456789abcdef';
const CP = 'CP-CMD';
const CP_SOC = 'CP-SOC';
const CP_OFF = 'CP-OFF';
const TIMEOUT_MS = 2500;
const TARIFF = { currency: 'EUR', perKwh: 0.30, perMinute: 0.02, perSession: 0.50 };

const rig = new Rig('commands', SECRET, CP);
let srv;
let cp;
let ui;
const tokens = rig.tokens;
const seen = { calls: [] }; // what the charger received
// REST command: method path body token → {status, json}; a browser on /ws.
const { token, cmd, Ui } = rig.bound();

// Registers handlers that record the call and answer with answer(params).
function answer(client, method, fn) {
  client.handle(method, ({ params }) => {
    seen.calls.push({ charger: client.identity, method, params });
    return fn(params);
  });
}

const lastCall = (method, charger = CP) =>
  seen.calls.filter((c) => c.method === method && c.charger === charger).at(-1);

async function boot(client) {
  await client.call('BootNotification', { chargePointVendor: 'flashCharge', chargePointModel: 'T1' });
  await client.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' });
}

before(async () => {
  srv = await Server.start({
    chargers: [{ id: CP }, { id: CP_SOC }, { id: CP_OFF }, { id: 'CP-OTHER' }],
    tags: [{ tag: 'TAG-OK' }],
    env: { FLASHCHARGE_JWT_SECRET: SECRET },
    args: ['--command-timeout', String(TIMEOUT_MS), '--ui-max-per-ip', '1000'],
  });
  // the tariff comes from the config file: restart with one
  const file = path.join(srv.dir, 'config.json');
  writeFileSync(file, JSON.stringify({ tariff: TARIFF }));
  await srv.stop();
  srv.opts.args = [...srv.opts.args, '--config', file];
  await srv.spawn();

  rig.srv = srv;
  rig.mintTokens();
  tokens.other = token('op-dave', 'operator', 'CP-OTHER');
  cp = await srv.connect(CP);
  await boot(cp);
  ui = new Ui(CP);
  await ui.ready();
});

after(async () => {
  await srv?.cleanup();
});

const base = (id = CP) => `/api/chargers/${id}`;

let tx; // the transaction of CP's connector 1

test('start with a current limit: RemoteStartTransaction carries a schema-valid TxProfile', async () => {
  answer(cp, 'RemoteStartTransaction', () => ({ status: 'Accepted' }));
  const r = await cmd('POST', `${base()}/start`, { connectorId: 1, idTag: 'TAG-OK', maxCurrentA: 16 });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { status: 'Accepted', result: { status: 'Accepted' } });
  const got = lastCall('RemoteStartTransaction').params;
  assert.deepEqual(got, {
    connectorId: 1,
    idTag: 'TAG-OK',
    chargingProfile: {
      chargingProfileId: 101,
      stackLevel: 1,
      chargingProfilePurpose: 'TxProfile',
      chargingProfileKind: 'Relative',
      chargingSchedule: {
        chargingRateUnit: 'A',
        chargingSchedulePeriod: [{ startPeriod: 0, limit: 16 }],
      },
    },
  });
  assert.deepEqual(cp.strictFailures, [], 'ocpp-rpc strict mode found nothing wrong');
  const ev = await ui.wait((e) => e.type === 'command' && e.data.command === 'start', 'command event');
  assert.equal(ev.data.status, 'Accepted');
  assert.equal(ev.data.by, 'op-alice');
  assert.equal(ev.data.action, 'RemoteStartTransaction');
  assert.equal(ev.data.params.connectorId, 1);
  assert.equal(ev.data.params.maxCurrentA, 16);
  assert.deepEqual(ev.data.result, { status: 'Accepted' });
  const rows = srv.sql(`SELECT * FROM commands WHERE charger_id = '${CP}' AND command = 'start'`);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].status, 'Accepted');
  assert.equal(rows[0].by_sub, 'op-alice');
  assert.equal(rows[0].action, 'RemoteStartTransaction');
  assert.deepEqual(JSON.parse(rows[0].result), { status: 'Accepted' });

  // the charger starts the transaction as asked
  const start = Date.now() - 10 * 60_000; // ten minutes ago, by its clock
  const st = await cp.call('StartTransaction',
    { connectorId: 1, idTag: 'TAG-OK', meterStart: 1000, timestamp: iso(start) });
  tx = st.transactionId;
  assert.ok(tx > 0);
  await ui.wait((e) => e.type === 'transaction.started', 'transaction.started');
});

test('meter values of the running transaction raise cost events (tariff from the config)', async () => {
  const start = Date.now() - 10 * 60_000;
  await cp.call('MeterValues', {
    connectorId: 1, transactionId: tx,
    meterValue: [{
      timestamp: iso(start + 5 * 60_000),
      sampledValue: [{ value: '3500', measurand: 'Energy.Active.Import.Register', unit: 'Wh' }],
    }],
  });
  const ev = await ui.wait((e) => e.type === 'cost', 'cost event');
  assert.equal(ev.connector, 1);
  assert.equal(ev.data.transactionId, tx);
  assert.equal(ev.data.energyWh, 2500);
  assert.equal(ev.data.currency, 'EUR');
  assert.ok(Math.abs(ev.data.minutes - 5) < 0.05, `minutes ${ev.data.minutes}`);
  // 0.50 + 0.30 x 2.5 + 0.02 x 5 = 1.35
  assert.ok(Math.abs(ev.data.cost - 1.35) < 0.011, `cost ${ev.data.cost}`);
  // the snapshot's transaction shows it too
  const snap = await cmd('GET', base());
  const conn = snap.json.connectors.find((c) => c.connectorId === 1);
  assert.equal(conn.transaction.cost, ev.data.cost);
});

test('limit in amperes and in watts: SetChargingProfile on the running transaction', async () => {
  answer(cp, 'SetChargingProfile', (p) =>
    ({ status: p.csChargingProfiles.chargingSchedule.chargingRateUnit === 'A' ? 'Accepted' : 'Rejected' }));
  let r = await cmd('POST', `${base()}/limit`, { maxCurrentA: 10 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'Accepted');
  let got = lastCall('SetChargingProfile').params;
  assert.deepEqual(got, {
    connectorId: 1,
    csChargingProfiles: {
      chargingProfileId: 101,
      transactionId: tx,
      stackLevel: 1,
      chargingProfilePurpose: 'TxProfile',
      chargingProfileKind: 'Relative',
      chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 10 }] },
    },
  });
  // a charger that limits in watts only rejects amperes, and vice versa: reported as it is
  r = await cmd('POST', `${base()}/limit`, { maxPowerW: 7400, connectorId: 1 });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { status: 'Rejected', result: { status: 'Rejected' } });
  got = lastCall('SetChargingProfile').params;
  assert.equal(got.csChargingProfiles.chargingSchedule.chargingRateUnit, 'W');
  assert.equal(got.csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].limit, 7400);
  assert.deepEqual(cp.strictFailures, []);
  const ev = await ui.wait((e) => e.type === 'command' && e.data.command === 'limit' &&
    e.data.status === 'Rejected', 'command event of the rejected limit');
  assert.equal(ev.data.params.maxPowerW, 7400);
});

test('stop without transactionId stops the running one; the stop carries the final cost', async () => {
  answer(cp, 'RemoteStopTransaction', () => ({ status: 'Accepted' }));
  const r = await cmd('POST', `${base()}/stop`, {});
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'Accepted');
  assert.deepEqual(lastCall('RemoteStopTransaction').params, { transactionId: tx });
  const start = Date.now() - 10 * 60_000;
  await cp.call('StopTransaction',
    { transactionId: tx, meterStop: 4000, timestamp: iso(start + 10 * 60_000), reason: 'Remote' });
  const ev = await ui.wait((e) => e.type === 'transaction.stopped', 'transaction.stopped');
  assert.equal(ev.data.energyWh, 3000);
  assert.equal(ev.data.currency, 'EUR');
  // 0.50 + 0.30 x 3 + 0.02 x 10 = 1.60
  assert.ok(Math.abs(ev.data.cost - 1.60) < 0.011, `cost ${ev.data.cost}`);
  assert.equal(ev.data.stoppedBy, undefined);
  const t = await cmd('GET', `/api/transactions/${tx}`);
  assert.equal(t.status, 200, t.text);
  assert.equal(t.json.cost, ev.data.cost);
  assert.equal(t.json.currency, 'EUR');
  // nothing runs now: stop has nothing to stop
  const again = await cmd('POST', `${base()}/stop`, {});
  assert.equal(again.status, 409, again.text);
});

test('reset Soft/Hard, and the charger rejecting it', async () => {
  answer(cp, 'Reset', (p) => ({ status: p.type === 'Soft' ? 'Accepted' : 'Rejected' }));
  let r = await cmd('POST', `${base()}/reset`, { type: 'Soft' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { status: 'Accepted', result: { status: 'Accepted' } });
  r = await cmd('POST', `${base()}/reset`, { type: 'Hard' }, tokens.admin);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { status: 'Rejected', result: { status: 'Rejected' } });
  const ev = await ui.wait((e) => e.type === 'command' && e.data.command === 'reset' &&
    e.data.status === 'Rejected', 'command event of the rejected reset');
  assert.equal(ev.data.by, 'admin-bob');
  assert.deepEqual(ev.data.params, { type: 'Hard' });
});

test('unlock and trigger', async () => {
  answer(cp, 'UnlockConnector', () => ({ status: 'Unlocked' }));
  answer(cp, 'TriggerMessage', () => ({ status: 'Accepted' }));
  let r = await cmd('POST', `${base()}/unlock`, { connectorId: 1 });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { status: 'Unlocked', result: { status: 'Unlocked' } });
  assert.deepEqual(lastCall('UnlockConnector').params, { connectorId: 1 });
  r = await cmd('POST', `${base()}/trigger`, { requestedMessage: 'StatusNotification', connectorId: 1 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'Accepted');
  assert.deepEqual(lastCall('TriggerMessage').params, { requestedMessage: 'StatusNotification', connectorId: 1 });
  assert.deepEqual(cp.strictFailures, []);
});

test('get configuration masks AuthorizationKey; change configuration', async () => {
  const KEY = 'secret-authorization-key-0123456789';
  answer(cp, 'GetConfiguration', (p) => ({
    configurationKey: [
      { key: 'AuthorizationKey', readonly: false, value: KEY },
      { key: 'HeartbeatInterval', readonly: false, value: '300' },
    ],
    unknownKey: (p.key ?? []).filter((k) => !['AuthorizationKey', 'HeartbeatInterval'].includes(k)),
  }));
  answer(cp, 'ChangeConfiguration', () => ({ status: 'Accepted' }));
  let r = await cmd('GET', `${base()}/configuration?key=AuthorizationKey,HeartbeatInterval,Nope`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(lastCall('GetConfiguration').params, { key: ['AuthorizationKey', 'HeartbeatInterval', 'Nope'] });
  assert.equal(r.json.status, 'Accepted');
  assert.deepEqual(r.json.result.configurationKey, [
    { key: 'AuthorizationKey', readonly: false, value: null, masked: true },
    { key: 'HeartbeatInterval', readonly: false, value: '300' },
  ]);
  assert.deepEqual(r.json.result.unknownKey, ['Nope']);
  assert.ok(!r.text.includes(KEY));
  // all keys
  r = await cmd('GET', `${base()}/configuration`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(lastCall('GetConfiguration').params, {});

  r = await cmd('PUT', `${base()}/configuration`, { key: 'HeartbeatInterval', value: '60' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { status: 'Accepted', result: { status: 'Accepted' } });
  assert.deepEqual(lastCall('ChangeConfiguration').params, { key: 'HeartbeatInterval', value: '60' });
  r = await cmd('PUT', `${base()}/configuration`, { key: 'AuthorizationKey', value: KEY });
  assert.equal(r.status, 200, r.text);
  assert.equal(lastCall('ChangeConfiguration').params.value, KEY, 'the charger gets the value');
  await ui.wait((e) => e.type === 'command' && e.data.action === 'ChangeConfiguration' &&
    e.data.params.key === 'AuthorizationKey', 'command event of the key change');
  // never stored, never pushed
  const dump = JSON.stringify(srv.sql('SELECT * FROM commands')) + JSON.stringify(srv.sql('SELECT * FROM events'));
  assert.ok(!dump.includes(KEY), 'the AuthorizationKey is nowhere in commands or events');
  assert.ok(!JSON.stringify(ui.events).includes(KEY));
});

test('a CALLERROR from the charger → 502 with its code and description', async () => {
  cp.handle('UnlockConnector', () => { throw createRPCError('NotSupported', 'no motor on this socket'); });
  const r = await cmd('POST', `${base()}/unlock`, { connectorId: 1 });
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error, 'charger_error');
  assert.equal(r.json.code, 'NotSupported');
  assert.equal(r.json.description, 'no motor on this socket');
  const ev = await ui.wait((e) => e.type === 'command' && e.data.status === 'CallError', 'command event');
  assert.deepEqual(ev.data.error, { code: 'NotSupported', description: 'no motor on this socket' });
});

test('no answer from the charger → 504 after the command timeout', async () => {
  cp.handle('TriggerMessage', () => NOREPLY);
  const t0 = Date.now();
  const r = await cmd('POST', `${base()}/trigger`, { requestedMessage: 'Heartbeat' });
  assert.equal(r.status, 504, r.text);
  assert.equal(r.json.error, 'timeout');
  assert.ok(Date.now() - t0 >= TIMEOUT_MS - 100, 'waited for the timeout');
  const rows = srv.sql(`SELECT status FROM commands WHERE command = 'trigger' ORDER BY id DESC LIMIT 1`);
  assert.equal(rows[0].status, 'Timeout');
  // the charger is still usable afterwards
  answer(cp, 'Reset', () => ({ status: 'Accepted' }));
  assert.equal((await cmd('POST', `${base()}/reset`, { type: 'Soft' })).status, 200);
});

test('offline charger → 409, and the attempt is recorded', async () => {
  const r = await cmd('POST', `${base(CP_OFF)}/reset`, { type: 'Soft' });
  assert.equal(r.status, 409, r.text);
  assert.equal(r.json.error, 'offline');
  const rows = await until(() => {
    const v = srv.sql(`SELECT status, by_sub FROM commands WHERE charger_id = '${CP_OFF}'`);
    return v.length ? v : null;
  }, { what: 'the command row' });
  assert.deepEqual(rows, [{ status: 'Offline', by_sub: 'op-alice' }]);
});

test('rights: no token 401, viewer 403, charger not granted 403', async () => {
  let r = await cmd('POST', `${base()}/reset`, { type: 'Soft' }, null);
  assert.equal(r.status, 401, r.text);
  r = await cmd('POST', `${base()}/reset`, { type: 'Soft' }, 'not.a.token');
  assert.equal(r.status, 401, r.text);
  r = await cmd('POST', `${base()}/reset`, { type: 'Soft' }, tokens.viewer);
  assert.equal(r.status, 403, r.text);
  r = await cmd('GET', `${base()}/configuration`, undefined, tokens.viewer);
  assert.equal(r.status, 403, r.text);
  r = await cmd('POST', `${base()}/reset`, { type: 'Soft' }, tokens.other);
  assert.equal(r.status, 403, r.text);
});

test('bad parameters → 400 before anything is sent', async () => {
  const before = seen.calls.length;
  const bad = [
    ['POST', 'start', { idTag: 'TAG-OK', connectorId: 0 }],
    ['POST', 'start', { connectorId: 1 }],
    ['POST', 'start', { connectorId: 'one', idTag: 'TAG-OK' }],
    ['POST', 'start', { connectorId: 1, idTag: 'X'.repeat(21) }],
    ['POST', 'start', { connectorId: 1, idTag: 'TAG-OK', maxCurrentA: -6 }],
    ['POST', 'start', { connectorId: 1, idTag: 'TAG-OK', targetSoc: 120 }],
    ['POST', 'reset', { type: 'Medium' }],
    ['POST', 'reset', {}],
    ['POST', 'unlock', { connectorId: 'x' }],
    ['POST', 'trigger', { requestedMessage: 'Coffee' }],
    ['PUT', 'configuration', { key: 'HeartbeatInterval' }],
    ['POST', 'limit', { maxCurrentA: 10, maxPowerW: 2000 }],
    ['POST', 'target-soc', { targetSoc: 0 }],
    ['POST', 'reset', '{"type":'],
    ['POST', 'reset', '[1,2]'],
  ];
  for (const [m, verb, body] of bad) {
    const r = await cmd(m, `${base()}/${verb}`, body);
    assert.equal(r.status, 400, `${m} ${verb} ${JSON.stringify(body)}: ${r.status} ${r.text}`);
    assert.equal(r.json.error, 'bad_request');
    assert.ok(r.json.detail);
  }
  assert.equal(seen.calls.length, before, 'nothing reached the charger');
  // wrong method, too large
  assert.equal((await cmd('GET', `${base()}/reset`)).status, 405);
  assert.equal((await cmd('POST', `${base()}/meter-values`, {})).status, 405);
  const big = await cmd('POST', `${base()}/reset`, JSON.stringify({ type: 'Soft', pad: 'x'.repeat(70000) }))
    .catch((e) => ({ status: 'error', text: e.message }));
  assert.equal(big.status, 413, big.text);
});

test('target SoC: reached in MeterValues → RemoteStopTransaction once, stopped by targetSoc', async () => {
  const soc = await srv.connect(CP_SOC);
  await boot(soc);
  const sui = new Ui(CP_SOC);
  await sui.ready();
  answer(soc, 'RemoteStartTransaction', () => ({ status: 'Accepted' }));
  answer(soc, 'RemoteStopTransaction', () => ({ status: 'Accepted' }));
  const r = await cmd('POST', `${base(CP_SOC)}/start`, { connectorId: 1, idTag: 'TAG-OK', targetSoc: 80 });
  assert.equal(r.status, 200, r.text);
  assert.equal(lastCall('RemoteStartTransaction', CP_SOC).params.chargingProfile, undefined);
  const { transactionId } = await soc.call('StartTransaction',
    { connectorId: 1, idTag: 'TAG-OK', meterStart: 0, timestamp: iso() });
  const started = await sui.wait((e) => e.type === 'transaction.started', 'transaction.started');
  assert.equal(started.data.targetSoc, 80);
  const stops = () => seen.calls.filter((c) => c.charger === CP_SOC && c.method === 'RemoteStopTransaction');
  let wh = 0;
  for (const s of [50, 70, 79.9, 81, 85, 90]) {
    wh += 100;
    await soc.call('MeterValues', {
      connectorId: 1, transactionId,
      meterValue: [{
        timestamp: iso(),
        sampledValue: [
          { value: String(wh), measurand: 'Energy.Active.Import.Register', unit: 'Wh' },
          { value: String(s), measurand: 'SoC', unit: 'Percent' },
        ],
      }],
    });
    if (s < 80) {
      await sleep(100);
      assert.equal(stops().length, 0, `no stop at SoC ${s}`);
    }
  }
  await until(() => stops().length === 1, { what: 'RemoteStopTransaction' });
  await sleep(300);
  assert.equal(stops().length, 1, 'sent once');
  assert.deepEqual(stops()[0].params, { transactionId });
  const cev = await sui.wait((e) => e.type === 'command' && e.data.by === 'system:targetSoc', 'command event');
  assert.equal(cev.data.status, 'Accepted');
  await soc.call('StopTransaction', { transactionId, meterStop: wh, timestamp: iso(), reason: 'Remote' });
  const ev = await sui.wait((e) => e.type === 'transaction.stopped', 'transaction.stopped');
  assert.equal(ev.data.stoppedBy, 'targetSoc');
  assert.equal(ev.data.reason, 'Remote');
  assert.equal(ev.data.targetSoc, 80);
  assert.deepEqual(soc.strictFailures, []);
});

test('target SoC set while running, reached in PreChargeData; precharge events; malformed → Rejected', async () => {
  const soc = [...srv.clients].find((c) => c.identity === CP_SOC);
  const sui = new Ui(CP_SOC);
  await sui.ready();
  const { transactionId } = await soc.call('StartTransaction',
    { connectorId: 1, idTag: 'TAG-OK', meterStart: 0, timestamp: iso() });
  await sui.wait((e) => e.type === 'transaction.started', 'transaction.started');
  const r = await cmd('POST', `${base(CP_SOC)}/target-soc`, { targetSoc: 60 });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { status: 'Accepted', result: { connectorId: 1, transactionId, targetSoc: 60 } });
  await sui.wait((e) => e.type === 'command' && e.data.command === 'target-soc', 'command event');
  const before = seen.calls.filter((c) => c.charger === CP_SOC && c.method === 'RemoteStopTransaction').length;
  const pre = async (data) => (await soc.call('DataTransfer',
    { vendorId: 'flashCharge', messageId: 'PreChargeData', data: JSON.stringify(data) })).status;
  assert.equal(await pre({ connectorId: 1, soc: 40, batteryCapacityWh: 3700, batteryVoltage: 51.2 }), 'Accepted');
  const pev = await sui.wait((e) => e.type === 'precharge', 'precharge event');
  assert.equal(pev.data.soc, 40);
  assert.equal(pev.data.model, 'Pro');
  assert.ok(pev.data.rangeKm > 0);
  for (const bad of [{ soc: 140 }, { batteryCapacityWh: 3700 }, { soc: '40' }, { soc: 40, batteryCapacityWh: -1 }]) {
    assert.equal(await pre(bad), 'Rejected', JSON.stringify(bad));
  }
  assert.equal((await soc.call('DataTransfer',
    { vendorId: 'flashCharge', messageId: 'PreChargeData', data: '{not json' })).status, 'Rejected');
  assert.equal(await pre({ connectorId: 1, soc: 65 }), 'Accepted');
  await until(() => seen.calls.filter((c) => c.charger === CP_SOC &&
    c.method === 'RemoteStopTransaction').length === before + 1, { what: 'RemoteStopTransaction' });
  assert.deepEqual(lastCall('RemoteStopTransaction', CP_SOC).params, { transactionId });
  await soc.call('StopTransaction', { transactionId, meterStop: 10, timestamp: iso(), reason: 'Remote' });
  const ev = await sui.wait((e) => e.type === 'transaction.stopped', 'transaction.stopped');
  assert.equal(ev.data.stoppedBy, 'targetSoc');
  assert.equal(ev.data.targetSoc, 60);
});

test('the server shuts down cleanly after all this (no leak reports under ASan)', async () => {
  const exit = await srv.stop();
  assert.equal(exit.code, 0, srv.tail());
  assert.ok(!/LeakSanitizer|AddressSanitizer|runtime error/.test(srv.stderr), srv.tail());
});
