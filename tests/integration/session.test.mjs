// A whole charging session through a strict OCPP 1.6 charge point (ocpp-rpc
// validates every answer of ours against the official schemas), then the rows
// it left in SQLite.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, iso, field, until } from './lib/server.mjs';

const HB = 77;
const CP = 'CP-SESSION';
const PW = 'session-key-0123456789abcdef';
const FUTURE = new Date(Date.now() + 30 * 86400e3).toISOString().replace(/\.\d+Z$/, 'Z');

let srv;
let cp;
const s = {}; // state shared along the session

before(async () => {
  srv = await Server.start({
    chargers: [{ id: CP, password: PW }, { id: 'CP-SESSION-2' }],
    tags: [
      { tag: 'TAG-OK' },
      { tag: 'TAG-BLOCKED', status: 'Blocked' },
      { tag: 'TAG-EXPIRED', status: 'Expired' },
      { tag: 'TAG-PAST', status: 'Accepted', expiry: '2020-01-01T00:00:00Z' },
      { tag: 'TAG-CHILD', status: 'Accepted', expiry: FUTURE, parent: 'TAG-OK' },
    ],
    args: ['--heartbeat-interval', String(HB)],
  });
  cp = await srv.connect(CP, { password: PW });
});

after(async () => {
  await srv?.cleanup();
});

const rows = (table) => srv.sql(`SELECT * FROM ${table}`);
const chargerOf = (r) => field(r, 'charger_id', 'charge_box_id', 'charger', 'chargebox_id');
const connectorOf = (r) => field(r, 'connector_id', 'connector');
const txOf = (r) => field(r, 'transaction_id', 'tx_id');

test('BootNotification: Accepted, interval = --heartbeat-interval, currentTime is now', async () => {
  const r = await cp.call('BootNotification', {
    chargePointVendor: 'flashCharge',
    chargePointModel: 'ESP32-MicroOcpp',
    chargePointSerialNumber: 'SN-0001',
    firmwareVersion: '1.2.3',
  });
  assert.equal(r.status, 'Accepted');
  assert.equal(r.interval, HB);
  const t = Date.parse(r.currentTime);
  assert.ok(Number.isFinite(t), `currentTime ${r.currentTime} parses`);
  assert.ok(Math.abs(t - Date.now()) < 60_000, `currentTime ${r.currentTime} is close to now`);
});

test('StatusNotification Available → Preparing → Charging answered {}', async () => {
  const base = Date.now() - 10_000;
  assert.deepEqual(await cp.call('StatusNotification',
    { connectorId: 0, errorCode: 'NoError', status: 'Available', timestamp: iso(base) }), {});
  let i = 1;
  for (const status of ['Available', 'Preparing', 'Charging']) {
    const r = await cp.call('StatusNotification', {
      connectorId: 1, errorCode: 'NoError', status, timestamp: iso(base + 1000 * i++),
      info: `step ${status}`, vendorId: 'flashCharge',
    });
    assert.deepEqual(r, {});
  }
});

test('Authorize: Accepted, Blocked, Expired, unknown → Invalid', async () => {
  const st = async (idTag) => (await cp.call('Authorize', { idTag })).idTagInfo;
  assert.equal((await st('TAG-OK')).status, 'Accepted');
  assert.equal((await st('TAG-BLOCKED')).status, 'Blocked');
  assert.equal((await st('TAG-EXPIRED')).status, 'Expired');
  assert.equal((await st('NO-SUCH-TAG')).status, 'Invalid');
});

test('Authorize: expiryDate and parentIdTag of a tag are answered', async () => {
  const info = (await cp.call('Authorize', { idTag: 'TAG-CHILD' })).idTagInfo;
  assert.equal(info.status, 'Accepted');
  assert.equal(info.parentIdTag, 'TAG-OK');
  assert.ok(info.expiryDate, 'expiryDate present');
  assert.equal(Date.parse(info.expiryDate), Date.parse(FUTURE));
});

test('Authorize: an Accepted tag whose expiry has passed is answered Expired', async () => {
  // Beyond the written contract, but OCPP's meaning of expiryDate: a tag past
  // its expiry date must not authorize.
  const info = (await cp.call('Authorize', { idTag: 'TAG-PAST' })).idTagInfo;
  assert.equal(info.status, 'Expired');
});

test('StartTransaction: integer transactionId; identical retry returns the same id', async () => {
  s.start = { connectorId: 1, idTag: 'TAG-OK', meterStart: 1000, timestamp: iso(Date.now() - 5000) };
  const r = await cp.call('StartTransaction', s.start);
  assert.ok(Number.isInteger(r.transactionId), `transactionId ${r.transactionId} is an integer`);
  assert.equal(r.idTagInfo.status, 'Accepted');
  s.txId = r.transactionId;
  // MicroOcpp retries the identical payload under a new message id after a CALLERROR
  // or a lost answer: it must get the same transaction back, not a second one.
  const again = await cp.call('StartTransaction', s.start);
  assert.equal(again.transactionId, s.txId);
  assert.equal(again.idTagInfo.status, 'Accepted');
});

function sampled(i) {
  return [
    { value: String(1000 + 500 * i + 0.31), measurand: 'Energy.Active.Import.Register', unit: 'Wh',
      context: 'Sample.Periodic', location: 'Outlet' },
    { value: '7200.5', measurand: 'Power.Active.Import', unit: 'W', context: 'Sample.Periodic' },
    { value: '10.1', measurand: 'Current.Import', unit: 'A', phase: 'L1' },
    { value: '10.2', measurand: 'Current.Import', unit: 'A', phase: 'L2' },
    { value: '10.3', measurand: 'Current.Import', unit: 'A', phase: 'L3' },
    { value: '230.4', measurand: 'Voltage', unit: 'V', phase: 'L1-N' },
    { value: String(40 + i), measurand: 'SoC', context: 'Sample.Periodic' }, // SoC: no unit
  ];
}
const PER_ENTRY = sampled(0).length;

test('MeterValues: several entries with several sampled values each', async () => {
  const t0 = Date.now() - 4000;
  s.meterEntries = [0, 1, 2].map((i) => ({ timestamp: iso(t0 + i * 1000), sampledValue: sampled(i) }));
  const r = await cp.call('MeterValues', { connectorId: 1, transactionId: s.txId, meterValue: s.meterEntries });
  assert.deepEqual(r, {});
});

test('StopTransaction with transactionData; identical retry answered too', async () => {
  const now = Date.now();
  s.stop = {
    transactionId: s.txId, idTag: 'TAG-OK', meterStop: 4500, timestamp: iso(now - 500), reason: 'EVDisconnected',
    transactionData: [
      { timestamp: iso(now - 5000), sampledValue: [
        { value: '1000', measurand: 'Energy.Active.Import.Register', unit: 'Wh', context: 'Transaction.Begin' }] },
      { timestamp: iso(now - 500), sampledValue: [
        { value: '4500', measurand: 'Energy.Active.Import.Register', unit: 'Wh', context: 'Transaction.End' }] },
    ],
  };
  const r = await cp.call('StopTransaction', s.stop);
  if (r.idTagInfo) assert.equal(r.idTagInfo.status, 'Accepted');
  const again = await cp.call('StopTransaction', s.stop);
  if (again.idTagInfo) assert.equal(again.idTagInfo.status, 'Accepted');
});

test('Heartbeat answers currentTime', async () => {
  const r = await cp.call('Heartbeat', {});
  assert.ok(Math.abs(Date.parse(r.currentTime) - Date.now()) < 60_000, `currentTime ${r.currentTime}`);
});

test('StatusNotification Finishing → Available', async () => {
  for (const status of ['Finishing', 'Available']) {
    assert.deepEqual(await cp.call('StatusNotification',
      { connectorId: 1, errorCode: 'NoError', status, timestamp: iso() }), {});
  }
});

test('SQLite: connector status and status history', () => {
  const conns = rows('connectors').filter((r) => chargerOf(r) === CP);
  const c1 = conns.find((r) => connectorOf(r) === 1);
  assert.ok(c1, `connector 1 row among ${JSON.stringify(conns)}`);
  assert.equal(field(c1, 'status', 'current_status'), 'Available');
  const c0 = conns.find((r) => connectorOf(r) === 0);
  assert.ok(c0, 'connector 0 row');
  const hist = rows('status_history').filter((r) => chargerOf(r) === CP && connectorOf(r) === 1)
    .map((r) => field(r, 'status'));
  for (const st of ['Available', 'Preparing', 'Charging', 'Finishing']) {
    assert.ok(hist.includes(st), `status_history has ${st}: ${JSON.stringify(hist)}`);
  }
  assert.equal(hist.length, 5, `5 notifications on connector 1 in history: ${JSON.stringify(hist)}`);
});

test('SQLite: one transaction, stopped, with meter start and stop', () => {
  const txs = rows('transactions').filter((r) => chargerOf(r) === CP);
  assert.equal(txs.length, 1, `exactly one transaction despite the retried start: ${JSON.stringify(txs)}`);
  const tx = txs[0];
  assert.equal(field(tx, 'id', 'transaction_id'), s.txId);
  assert.equal(connectorOf(tx), 1);
  assert.equal(field(tx, 'id_tag', 'idtag', 'start_id_tag'), 'TAG-OK');
  assert.equal(Number(field(tx, 'meter_start', 'meter_start_wh')), 1000);
  assert.equal(Number(field(tx, 'meter_stop', 'meter_stop_wh')), 4500);
  assert.ok(field(tx, 'stop_at', 'stop_ts', 'stopped_at', 'stop_timestamp', 'stop_time', 'ended_at') != null, 'stop time set');
  assert.equal(field(tx, 'stop_reason', 'reason'), 'EVDisconnected');
});

test('SQLite: one meter_values row per sampled value (no duplicates from the retried stop)', () => {
  const mv = rows('meter_values').filter((r) => chargerOf(r) === CP);
  const ofTx = mv.filter((r) => txOf(r) === s.txId);
  const expected = s.meterEntries.length * PER_ENTRY + s.stop.transactionData.length;
  assert.equal(ofTx.length, expected,
    `${expected} rows (${s.meterEntries.length}×${PER_ENTRY} + transactionData), got ${ofTx.length}`);
  const measurand = (r) => field(r, 'measurand');
  const byM = (m) => ofTx.filter((r) => measurand(r) === m);
  assert.equal(byM('Current.Import').length, 9);
  const phases = new Set(byM('Current.Import').map((r) => field(r, 'phase')));
  assert.deepEqual([...phases].sort(), ['L1', 'L2', 'L3']);
  assert.equal(byM('Voltage').length, 3);
  assert.equal(byM('Power.Active.Import').length, 3);
  const soc = byM('SoC');
  assert.equal(soc.length, 3);
  assert.deepEqual(soc.map((r) => Number(field(r, 'value'))).sort(), [40, 41, 42]);
  for (const r of soc) assert.ok([null, undefined, ''].includes(field(r, 'unit')), `SoC unit ${field(r, 'unit')}`);
  const energy = byM('Energy.Active.Import.Register').map((r) => Number(field(r, 'value'))).sort((a, b) => a - b);
  assert.deepEqual(energy, [1000, 1000.31, 1500.31, 2000.31, 4500]);
  for (const r of ofTx) assert.equal(connectorOf(r), 1);
});

test('SQLite: frames logged in both directions for every message', async () => {
  const sent = cp.frames.filter((f) => f.outbound).map((f) => JSON.parse(f.message)[1]);
  const got = cp.frames.filter((f) => !f.outbound).map((f) => JSON.parse(f.message)[1]);
  assert.ok(sent.length >= 15, `${sent.length} calls sent so far`);
  const dirOf = (r) => field(r, 'direction', 'dir');
  const has = (all, dir, id) => all.some((r) => dirOf(r) === dir &&
    Object.values(r).some((v) => typeof v === 'string' && v.includes(`"${id}"`)));
  await until(() => {
    const all = rows('frames');
    return sent.every((id) => has(all, 'in', id)) && got.every((id) => has(all, 'out', id));
  }, { timeout: 5000, what: 'every frame of the session in the frames table' }).catch((e) => {
    const all = rows('frames');
    const missIn = sent.filter((id) => !has(all, 'in', id));
    const missOut = got.filter((id) => !has(all, 'out', id));
    e.message += ` — missing in: ${missIn.length}, missing out: ${missOut.length}; sample row ${JSON.stringify(all[0])}`;
    throw e;
  });
});

test('late MeterValues for the stopped transaction is accepted and stored', async () => {
  const r = await cp.call('MeterValues', {
    connectorId: 1, transactionId: s.txId,
    meterValue: [{ timestamp: iso(Date.now() - 60_000), sampledValue: [
      { value: '3333', measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }],
  });
  assert.deepEqual(r, {});
  const hb = await cp.call('Heartbeat', {});
  assert.ok(hb.currentTime);
  const late = rows('meter_values').filter((r) => txOf(r) === s.txId && Number(field(r, 'value')) === 3333);
  assert.equal(late.length, 1);
  const tx = rows('transactions').find((r) => field(r, 'id', 'transaction_id') === s.txId);
  assert.equal(Number(field(tx, 'meter_stop', 'meter_stop_wh')), 4500, 'a late sample does not reopen or alter the stop');
});

test('MeterValues without transaction and with a register that went back to 0', async () => {
  const r = await cp.call('MeterValues', {
    connectorId: 1,
    meterValue: [{ timestamp: iso(), sampledValue: [{ value: '0', measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }],
  });
  assert.deepEqual(r, {});
  const meterNoTx = rows('meter_values').filter((r) => chargerOf(r) === CP && txOf(r) == null);
  assert.equal(meterNoTx.length, 1);
});

test('StartTransaction with an unknown or blocked tag still gets a transactionId', async () => {
  const a = await cp.call('StartTransaction', { connectorId: 1, idTag: 'NO-SUCH-TAG', meterStart: 5000, timestamp: iso() });
  assert.ok(Number.isInteger(a.transactionId));
  assert.equal(a.idTagInfo.status, 'Invalid');
  assert.notEqual(a.transactionId, s.txId);
  const b = await cp.call('StartTransaction', { connectorId: 1, idTag: 'TAG-BLOCKED', meterStart: 5001, timestamp: iso() });
  assert.ok(Number.isInteger(b.transactionId));
  assert.equal(b.idTagInfo.status, 'Blocked');
  assert.notEqual(b.transactionId, a.transactionId);
  for (const tx of [a, b]) {
    await cp.call('StopTransaction', { transactionId: tx.transactionId, meterStop: 5002, timestamp: iso(), reason: 'DeAuthorized' });
  }
});

test('StopTransaction for a transaction the server never saw is still answered', async () => {
  const r = await cp.call('StopTransaction', { transactionId: 987654, meterStop: 10, timestamp: iso(), reason: 'PowerLoss' });
  assert.ok(r && typeof r === 'object');
});

test('DataTransfer: unknown vendor → UnknownVendorId, flashCharge + unknown messageId → UnknownMessageId', async () => {
  const unknownVendor = await cp.call('DataTransfer', { vendorId: 'com.example.nobody', messageId: 'x', data: 'y' });
  assert.equal(unknownVendor.status, 'UnknownVendorId');
  const unknownMsg = await cp.call('DataTransfer', { vendorId: 'flashCharge', messageId: 'NoSuchMessage', data: '{}' });
  assert.equal(unknownMsg.status, 'UnknownMessageId');
  const dts = rows('data_transfers').filter((r) => chargerOf(r) === CP);
  assert.ok(dts.length >= 2, `data_transfers rows: ${JSON.stringify(dts)}`);
  assert.ok(dts.some((r) => field(r, 'vendor_id', 'vendorid', 'vendor') === 'com.example.nobody'));
});

test('DataTransfer flashCharge/PreChargeData (DESIGN.md) → Accepted, as a string or a bare object', async () => {
  const data = { connectorId: 1, soc: 42, batteryVoltage: 51.2, batteryCapacityWh: 3700, model: 'Pro' };
  const pre = await cp.call('DataTransfer', { vendorId: 'flashCharge', messageId: 'PreChargeData', data: JSON.stringify(data) });
  assert.equal(pre.status, 'Accepted');
  // strict mode would refuse to send a non-string data: send the bare object raw
  const id = 'precharge-bare-1';
  const answer = new Promise((resolve) => {
    const on = ({ message, outbound }) => {
      if (outbound) return;
      const m = JSON.parse(String(message));
      if (m[1] === id) { cp.off('message', on); resolve(m); }
    };
    cp.on('message', on);
  });
  cp.sendRaw(JSON.stringify([2, id, 'DataTransfer', { vendorId: 'flashCharge', messageId: 'PreChargeData', data }]));
  const m = await answer;
  assert.equal(m[0], 3, `bare-object PreChargeData: ${JSON.stringify(m)}`);
  assert.equal(m[2].status, 'Accepted');
});

test('DiagnosticsStatusNotification and FirmwareStatusNotification answered {}', async () => {
  for (const status of ['Uploading', 'Uploaded']) {
    assert.deepEqual(await cp.call('DiagnosticsStatusNotification', { status }), {});
  }
  for (const status of ['Downloading', 'Downloaded', 'Installing', 'Installed']) {
    assert.deepEqual(await cp.call('FirmwareStatusNotification', { status }), {});
  }
});

test('an action the server does not know (CustomOperation) gets NotImplemented, then life goes on', async () => {
  // Strict mode would refuse to send an unknown action: send it raw on the same socket.
  const id = 'custom-op-1';
  const answer = new Promise((resolve) => {
    const on = ({ message, outbound }) => {
      if (outbound) return;
      const m = JSON.parse(String(message));
      if (m[1] === id) { cp.off('message', on); resolve(m); }
    };
    cp.on('message', on);
  });
  cp.sendRaw(JSON.stringify([2, id, 'CustomOperation', {}]));
  const m = await answer;
  assert.equal(m[0], 4);
  assert.equal(m[2], 'NotImplemented');
  assert.ok((await cp.call('Heartbeat', {})).currentTime);
});

test('a reconnect without BootNotification is served (MicroOcpp boots once per process start)', async () => {
  await cp.close({ code: 1000 });
  cp = await srv.connect(CP, { password: PW });
  assert.deepEqual(await cp.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: iso() }), {});
  assert.ok((await cp.call('Heartbeat', {})).currentTime);
});

test('an older StatusNotification arriving late does not overwrite the newer status (kept as history)', async () => {
  const now = Date.now();
  assert.deepEqual(await cp.call('StatusNotification',
    { connectorId: 2, errorCode: 'NoError', status: 'Charging', timestamp: iso(now) }), {});
  // flushed from the charger's offline queue: older than what we already have
  assert.deepEqual(await cp.call('StatusNotification',
    { connectorId: 2, errorCode: 'NoError', status: 'Preparing', timestamp: iso(now - 120_000) }), {});
  const c2 = rows('connectors').find((r) => chargerOf(r) === CP && connectorOf(r) === 2);
  assert.equal(field(c2, 'status'), 'Charging', `connector 2 row: ${JSON.stringify(c2)}`);
  const hist = rows('status_history').filter((r) => chargerOf(r) === CP && connectorOf(r) === 2);
  assert.equal(hist.length, 2, JSON.stringify(hist));
  assert.ok(hist.some((r) => field(r, 'status') === 'Preparing'), 'the late notification is kept in history');
});

test('an offline burst (start, meter values, stop with old time stamps) is stored with its own times', async () => {
  const t0 = Date.now() - 3 * 3600e3; // three hours ago, while "offline"
  const start = { connectorId: 2, idTag: 'TAG-OK', meterStart: 0, timestamp: iso(t0) }; // register restarted at 0
  const { transactionId } = await cp.call('StartTransaction', start);
  assert.ok(Number.isInteger(transactionId));
  assert.deepEqual(await cp.call('MeterValues', { connectorId: 2, transactionId, meterValue: [
    { timestamp: iso(t0 + 60_000), sampledValue: [{ value: '250', measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }] }), {});
  await cp.call('StopTransaction', { transactionId, meterStop: 900, timestamp: iso(t0 + 600_000), reason: 'Local' });
  const tx = rows('transactions').find((r) => field(r, 'id', 'transaction_id') === transactionId);
  const asMs = (v) => (typeof v === 'number' ? v : Date.parse(v));
  assert.equal(asMs(field(tx, 'start_at', 'start_ts', 'started_at')), t0, `start time from the payload: ${JSON.stringify(tx)}`);
  assert.equal(asMs(field(tx, 'stop_at', 'stop_ts', 'stopped_at')), t0 + 600_000, 'stop time from the payload');
  assert.equal(Number(field(tx, 'meter_start')), 0);
  assert.equal(Number(field(tx, 'meter_stop')), 900);
  const mv = rows('meter_values').filter((r) => txOf(r) === transactionId);
  assert.equal(mv.length, 1);
  assert.equal(asMs(field(mv[0], 'ts', 'timestamp')), t0 + 60_000);
});

test('a second charger without password works alongside', async () => {
  const c2 = await srv.connect('CP-SESSION-2');
  const r = await c2.call('BootNotification', { chargePointVendor: 'v', chargePointModel: 'm' });
  assert.equal(r.status, 'Accepted');
  assert.equal((await c2.call('Authorize', { idTag: 'TAG-OK' })).idTagInfo.status, 'Accepted');
  await c2.close();
});

test('no strict-mode validation failure was seen on any answer', () => {
  // only answers received from the server (our own calls failing validation are test cascades)
  const failures = [...srv.clients].flatMap((c) => c.strictFailures ?? [])
    .filter((f) => !f.outbound && !f.isCall);
  assert.deepEqual(failures.map((f) => `${f.method}: ${f.error?.message}`), []);
});

test('SIGTERM: the server exits 0', async () => {
  const e = await srv.stop();
  assert.deepEqual(e, { code: 0, signal: null }, srv.tail());
});
