// A hostile charger's payloads: connector ids that would bloat its dashboard
// (and 64-bit numbers that would be truncated), AuthorizationKeys that would
// land in the frame log, strings that would forge log lines, and time stamps
// far in the future that would freeze a connector. Each case is what a real
// peer can send over a real socket; each answer is what the README promises.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Server, until, iso } from './lib/server.mjs';
import { mint, uiOpen, get, boot, meterPayload } from './lib/ui.mjs';

const SECRET = 'hardening-ocpp-test-secret-0123456789abcdef';
const ENV = { FLASHCHARGE_JWT_SECRET: SECRET };
const KEY = 'Secret-AuthKey-0123456789abcdefXYZ';

let srv;
let admin;

before(async () => {
  srv = await Server.start({
    chargers: [{ id: 'CPA' }, { id: 'CPB' }, { id: 'CPK' }, { id: 'CPL' }, { id: 'CPS' }],
    tags: [{ tag: 'TAG1' }],
    env: ENV,
    args: ['--rate-limit', '100000', '--max-inflight', '64'],
  });
  admin = mint(SECRET, { sub: 'hardening', role: 'admin' });
});

after(async () => {
  await srv?.cleanup();
});

async function metric(name) {
  const m = await srv.http('/metrics');
  const line = m.text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
  return line ? Number(line.split(' ').pop()) : undefined;
}

function logLines(event) {
  return srv.stderr.split('\n').filter((l) => l.includes(` event=${event} `) || l.endsWith(` event=${event}`));
}

const isCallError = (m, code) => Array.isArray(m) && m[0] === 4 && (code == null || m[2] === code);

// ---- 4: connector ids ------------------------------------------------------

test('connector ids beyond --max-connectors (64), negative or above 2^31 are refused with PropertyConstraintViolation, counted and logged once', async () => {
  const c = await srv.raw('CPA');
  assert.equal((await c.call('BootNotification', { chargePointVendor: 'v', chargePointModel: 'm' }))[0], 3);
  const st = (connectorId) => c.call('StatusNotification',
    { connectorId, errorCode: 'NoError', status: 'Available', timestamp: iso() });
  // the bound itself and 0 (the charger as a whole) are fine
  assert.equal((await st(64))[0], 3);
  assert.equal((await st(0))[0], 3);
  const before = (await metric('flashcharge_ocpp_connector_refused_total')) ?? 0;
  for (const id of [65, 24000, 2147483648, -2147483648, -1, 9007199254740991]) {
    const m = await st(id);
    assert.ok(isCallError(m, 'PropertyConstraintViolation'), `${id}: ${JSON.stringify(m)}`);
  }
  let m = await c.call('MeterValues', meterPayload({ connectorId: 65 }));
  assert.ok(isCallError(m, 'PropertyConstraintViolation'), JSON.stringify(m));
  m = await c.call('StartTransaction', { connectorId: 4294967297, idTag: 'TAG1', meterStart: 0, timestamp: iso() });
  assert.ok(isCallError(m, 'PropertyConstraintViolation'), JSON.stringify(m));
  // PreChargeData names its connector inside data: refused as Rejected
  m = await c.call('DataTransfer', { vendorId: 'flashCharge', messageId: 'PreChargeData',
    data: JSON.stringify({ connectorId: 900, soc: 40 }) });
  assert.equal(m[0], 3);
  assert.equal(m[2].status, 'Rejected');
  assert.equal(await metric('flashcharge_ocpp_connector_refused_total'), before + 9);
  // one log line for the offender, not one per attempt
  assert.equal(logLines('connector_refused').filter((l) => l.includes('cp=CPA ')).length, 1,
    logLines('connector_refused').join('\n'));

  const snap = (await get(srv, '/api/chargers/CPA', admin)).json;
  assert.deepEqual(snap.connectors.map((k) => k.connectorId), [0, 64]);
  const rows = srv.sql("SELECT DISTINCT connector_id AS k FROM status_history WHERE charger_id = 'CPA'");
  assert.ok(rows.every((r) => r.k >= 0 && r.k <= 64), JSON.stringify(rows));
  c.close();
});

test('--max-connectors is an option (a smaller bound refuses earlier); one whose snapshot cannot fit --ui-queue-hard is lowered, with a warning', async () => {
  for (const [args, max] of [[['--max-connectors', '2'], 2],
    [['--max-connectors', '1000', '--ui-queue-hard', '65536'], 19]]) {
    const s = await Server.start({ chargers: [{ id: 'CPX' }], env: ENV, args });
    try {
      const c = await s.raw('CPX');
      await c.call('BootNotification', { chargePointVendor: 'v', chargePointModel: 'm' });
      const st = (connectorId) => c.call('StatusNotification',
        { connectorId, errorCode: 'NoError', status: 'Available' });
      assert.equal((await st(max))[0], 3);
      const m = await st(max + 1);
      assert.ok(isCallError(m, 'PropertyConstraintViolation'), JSON.stringify(m));
      assert.equal(m[3], `connectorId: not in 0..${max}`);
      const lowered = s.stderr.split('\n').filter((l) => l.includes('event=max_connectors_lowered'));
      assert.equal(lowered.length, max === 2 ? 0 : 1, s.tail());
    } finally {
      await s.cleanup();
    }
  }
});

test('64 connectors full of data: the snapshot stays under the browser queue bound and a new subscriber gets it', async () => {
  const cp = await srv.connect('CPB');
  await boot(cp);
  const phases = [];
  for (const ph of ['L1', 'L2', 'L3']) {
    for (const [meas, unit] of [['Voltage', 'V'], ['Current.Import', 'A'], ['Power.Active.Import', 'W'],
      ['Energy.Active.Import.Register', 'Wh'], ['SoC', 'Percent']]) {
      phases.push({ value: '-1.2345678901234567e+300', measurand: meas, unit, phase: ph });
    }
  }
  // Every connector at its longest: a vehicle (a 32-character model of
  // characters JSON escapes), a finished transaction, a running one with
  // energy and cost, a status, a meter reading of every phase.
  const model = '\u0001'.repeat(32);
  for (let k = 1; k <= 64; k++) {
    await cp.call('DataTransfer', { vendorId: 'flashCharge', messageId: 'PreChargeData',
      data: JSON.stringify({ connectorId: k, soc: 42.123456789, batteryVoltage: 51.2345678901, batteryCapacityWh: 3700.123456789, model }) });
    const t1 = await cp.call('StartTransaction', { connectorId: k, idTag: 'TAG1', meterStart: 2 ** 40 + k, timestamp: iso() });
    const p1 = meterPayload({ connectorId: k, transactionId: t1.transactionId, energy: 2 ** 40 + 99.456789 });
    p1.meterValue[0].sampledValue.push(...phases);
    await cp.call('MeterValues', p1); // kept in lastTransaction.meter once stopped
    await cp.call('StopTransaction', { transactionId: t1.transactionId, meterStop: 2 ** 41, timestamp: iso(), reason: 'EVDisconnected' });
    const t2 = await cp.call('StartTransaction', { connectorId: k, idTag: 'TAG1', meterStart: 2 ** 40, timestamp: iso() });
    // the running session's vehicle too (the stopped one's stays in lastTransaction)
    await cp.call('DataTransfer', { vendorId: 'flashCharge', messageId: 'PreChargeData',
      data: JSON.stringify({ connectorId: k, soc: 43.123456789, batteryVoltage: 51.2345678901, batteryCapacityWh: 3700.123456789, model }) });
    await cp.call('StatusNotification', { connectorId: k, errorCode: 'GroundFailure', status: 'SuspendedEVSE',
      timestamp: iso() });
    const p = meterPayload({ connectorId: k, transactionId: t2.transactionId, energy: 2 ** 40 + 123.456789 });
    p.meterValue[0].sampledValue.push(...phases);
    await cp.call('MeterValues', p);
  }
  // 64-bit numbers travel whole: a transactionId above 2^32
  const big = 2 ** 40 + 1;
  const u0 = await uiOpen(srv, { token: admin, charger: 'CPB' });
  await u0.waitType('snapshot');
  await cp.call('MeterValues', meterPayload({ connectorId: 8, transactionId: big }));
  const ev = await u0.waitFor((e) => e.type === 'meter' && e.connector === 8 && e.data.transactionId === big,
    { what: 'the meter event of transaction 2^40+1' });
  assert.equal(ev.data.late, true, 'a transaction that is not running');
  await u0.close();
  const r = await get(srv, '/api/chargers/CPB', admin);
  assert.equal(r.status, 200);
  assert.equal(r.json.connectors.length, 64);
  const k7 = r.json.connectors.find((k) => k.connectorId === 7);
  assert.equal(k7.transaction.meterStart, 2 ** 40);
  assert.equal(k7.lastTransaction.meterStop, 2 ** 41);
  assert.equal(k7.precharge.model, model);
  assert.equal(k7.lastTransaction.precharge.model, model);
  const longest = Math.max(...r.json.connectors.map((k) => JSON.stringify(k).length));
  console.log(`# snapshot of 64 full connectors: ${r.text.length} bytes, the longest connector ${longest}`);
  assert.ok(longest < 3072, 'within FC_SNAPSHOT_CONNECTOR_MAX (ocpp/bounds.c)');
  assert.ok(r.text.length < 524288, `snapshot ${r.text.length} bytes`);
  const u = await uiOpen(srv, { token: admin, charger: 'CPB' });
  const s = await u.waitType('snapshot');
  assert.equal(s.data.connectors.length, 64);
  assert.equal(u.closeInfo, null);
  await u.close();
  await cp.close();
});

test('integers beyond 64 bits are refused, not wrapped', async () => {
  const c = await srv.raw('CPA');
  await c.call('BootNotification', { chargePointVendor: 'v', chargePointModel: 'm' });
  for (const n of ['99999999999999999999', '18446744073709551617', '-9223372036854775809', '1e300']) {
    const id = `big-${n}`;
    c.send(`[2,"${id}","StatusNotification",{"connectorId":${n},"errorCode":"NoError","status":"Available"}]`);
    // not JSON the parser takes (FormationViolation under "-1"), or not an integer
    const m = await c.waitFor((f) => Array.isArray(f) && (f[1] === id || f[1] === '-1'), 5000, `the answer to ${n}`);
    assert.ok(isCallError(m), `${n}: ${JSON.stringify(m)}`);
  }
  const rows = srv.sql("SELECT DISTINCT connector_id AS k FROM status_history WHERE charger_id = 'CPA'");
  assert.ok(rows.every((r) => r.k >= 0 && r.k <= 64), JSON.stringify(rows));
  c.close();
});

// ---- 9: secrets in the frame log --------------------------------------------

test('AuthorizationKey values never reach the frame log: GetConfiguration answers, ChangeConfiguration calls, any case', async () => {
  const cp = await srv.connect('CPK');
  await boot(cp);
  cp.handle('GetConfiguration', () => ({
    configurationKey: [
      { key: 'AuthorizationKey', readonly: false, value: KEY },
      { key: 'authorizationkey', readonly: false, value: KEY + 'lower' },
      { key: 'HeartbeatInterval', readonly: false, value: '300' },
    ],
  }));
  cp.handle('ChangeConfiguration', () => ({ status: 'Accepted' }));
  const op = mint(SECRET, { sub: 'op', role: 'operator' });
  const hdr = { authorization: `Bearer ${op}`, 'content-type': 'application/json' };
  let r = await srv.http('/api/chargers/CPK/configuration', { headers: hdr });
  assert.equal(r.status, 200, r.text);
  r = await srv.http('/api/chargers/CPK/configuration', { method: 'PUT', headers: hdr,
    body: JSON.stringify({ key: 'AuthorizationKey', value: KEY }) });
  assert.equal(r.status, 200, r.text);
  r = await srv.http('/api/chargers/CPK/configuration', { method: 'PUT', headers: hdr,
    body: JSON.stringify({ key: 'AUTHORIZATIONKEY', value: KEY + 'upper' }) });
  assert.equal(r.status, 200, r.text);
  await cp.close();
  // a hostile charger sending the call itself, and an answer nobody asked for
  const c = await srv.raw('CPK');
  await c.call('ChangeConfiguration', { key: 'AuthorizationKey', value: KEY + 'inbound' });
  c.send(JSON.stringify([3, 'nobody-asked', { configurationKey: [{ key: 'AuthorizationKey', readonly: false, value: KEY + 'stray' }] }]));
  c.send(`[3,"broken",{"configurationKey":[{"key":"AuthorizationKey","value":"${KEY}broken"}]`);
  assert.equal((await c.call('Heartbeat', {}))[0], 3);
  c.close();
  await until(() => srv.sql("SELECT count(*) AS n FROM frames WHERE charger_id = 'CPK' AND text LIKE '%nobody-asked%'")[0].n >= 1,
    { what: 'the stray answer in the frame log' });
  await until(() => srv.sql("SELECT count(*) AS n FROM frames WHERE charger_id = 'CPK' AND text LIKE '%ChangeConfiguration%'")[0].n >= 3,
    { what: 'the ChangeConfiguration frames in the frame log' });
  const all = srv.sql("SELECT text FROM frames WHERE charger_id = 'CPK'").map((x) => x.text);
  const leaks = all.filter((t) => t.includes(KEY));
  assert.deepEqual(leaks, [], 'no frame holds the key');
  // the frames are still there, masked the way the REST answer masks
  const get1 = all.find((t) => t.includes('HeartbeatInterval') && t.startsWith('[3,'));
  assert.ok(get1, all.join('\n'));
  const cfg = JSON.parse(get1)[2].configurationKey;
  assert.deepEqual(cfg[0], { key: 'AuthorizationKey', readonly: false, value: null, masked: true });
  assert.deepEqual(cfg[2], { key: 'HeartbeatInterval', readonly: false, value: '300' });
  assert.ok(all.includes('[frame withheld: not JSON, and it names a secret configuration key]'));
  const change = all.filter((t) => t.startsWith('[')).map((t) => { try { return JSON.parse(t); } catch { return []; } })
    .filter((f) => f[0] === 2 && f[2] === 'ChangeConfiguration');
  assert.equal(change.length, 3);
  for (const f of change) assert.equal(f[3].value, null);
});

test('migration 009 masks AuthorizationKey values already in the frame log (a database of schema 8)', async () => {
  const s = await Server.start({ chargers: [{ id: 'CPM' }], env: ENV });
  await s.stop();
  // Back to schema 8 with frames as the previous server wrote them.
  const rows = [
    [2, 'a1', 'ChangeConfiguration', { key: 'AuthorizationKey', value: KEY + 'm1' }],
    [3, 'a2', { configurationKey: [{ key: 'HeartbeatInterval', readonly: false, value: '60' },
      { key: 'AuthorizationKEY', readonly: false, value: KEY + 'm2' }], unknownKey: [] }],
    [2, 'a3', 'ChangeConfiguration', { key: 'HeartbeatInterval', value: '60' }],
    [2, 'a4', 'GetConfiguration', { key: ['AuthorizationKey'] }],
  ].map((f) => JSON.stringify(f));
  rows.push(`[3,"a5",{"configurationKey":[{"key":"AuthorizationKey","value":"${KEY}m3"}]`);
  const values = rows.map((t, i) => `(${Date.now() + i}, 'CPM', 1, '${i % 2 ? 'in' : 'out'}', '${t.replace(/'/g, "''")}')`).join(',');
  const r = spawnSync('sqlite3', [s.db,
    // what migrations after 9 added goes too, so that they can run again
    `INSERT INTO frames (ts, charger_id, conn_id, direction, text) VALUES ${values};
     ALTER TABLE commands DROP COLUMN sent; DROP TABLE charging_profiles;
     DROP TRIGGER chargers_registry_profile; ALTER TABLE chargers DROP COLUMN security_profile;
     PRAGMA user_version = 8;`],
  { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(s.sql('PRAGMA user_version')[0].user_version, 8);
  await s.spawn();
  try {
    assert.ok(s.sql('PRAGMA user_version')[0].user_version >= 9);
    const after = s.sql("SELECT text FROM frames WHERE charger_id = 'CPM' ORDER BY ts").map((x) => x.text)
      .filter((t) => /"a[1-5]"/.test(t) || t.startsWith('[frame withheld'));
    assert.equal(after.length, 5);
    assert.deepEqual(after.filter((t) => t.includes(KEY)), []);
    assert.deepEqual(JSON.parse(after[0])[3], { key: 'AuthorizationKey', value: null, masked: true });
    assert.deepEqual(JSON.parse(after[1])[2].configurationKey, [
      { key: 'HeartbeatInterval', readonly: false, value: '60' },
      { key: 'AuthorizationKEY', readonly: false, value: null, masked: true }]);
    assert.equal(after[2], rows[2], 'other frames are left as they were');
    assert.equal(after[3], rows[3]);
    assert.equal(after[4], '[frame withheld: not JSON, and it names a secret configuration key]');
  } finally {
    await s.cleanup();
  }
});

// ---- 11: log injection -------------------------------------------------------

test('peer strings are escaped in logs: message ids, actions, BootNotification vendor and model, PreChargeData model', async () => {
  const c = await srv.raw('CPL');
  let m = await c.call('BootNotification', { chargePointVendor: 'v\nts=FORGED1 x', chargePointModel: 'm"\r\nFORGED2' });
  assert.equal(m[0], 3);
  m = await c.call('NoSuchAction\nFORGED3', {}, { id: 'id\nFORGED4' });
  assert.ok(isCallError(m, 'NotImplemented'));
  m = await c.call('StatusNotification', { connectorId: 'x' }, { id: 'i\r\nFORGED5 "' });
  assert.ok(isCallError(m));
  m = await c.call('DataTransfer', { vendorId: 'flashCharge', messageId: 'PreChargeData',
    data: JSON.stringify({ connectorId: 1, soc: 40, model: 'Mx\nFORGED6' }) });
  assert.equal(m[2].status, 'Accepted');
  // a CALLERROR answer to one of our calls, with a code of the charger's
  c.close();
  await until(() => logLines('precharge').some((l) => l.includes('cp=CPL ')), { what: 'the precharge log line' });
  const lines = srv.stderr.split('\n').filter((l) => l.length);
  const forged = lines.filter((l) => !/^ts=\d{4}-\d\d-\d\dT[\d:.]+Z level=[a-z]+ /.test(l));
  assert.deepEqual(forged, [], 'every line is one of ours');
  for (let i = 1; i <= 6; i++) {
    const l = lines.filter((x) => x.includes(`FORGED${i}`));
    assert.ok(l.length >= 1, `FORGED${i} is logged (escaped)`);
    for (const x of l) assert.match(x, new RegExp(`\\\\[rn]FORGED${i}|\\\\[rn]ts=FORGED${i}`));
  }
  const boot1 = logLines('boot').find((l) => l.includes('cp=CPL '));
  assert.ok(boot1.includes('vendor="v\\nts=FORGED1 x"'), boot1);
  assert.ok(boot1.includes('model="m\\"\\r\\nFORGED2"'), boot1);
});

// ---- 12: clock skew ----------------------------------------------------------

test('a far-future time stamp is stored, flagged clockSkew and ordered by arrival: later real data is not late', async () => {
  const cp = await srv.connect('CPS');
  await boot(cp);
  const u = await uiOpen(srv, { token: admin, charger: 'CPS' });
  await u.waitType('snapshot');
  const before = (await metric('flashcharge_ocpp_clock_skew_total')) ?? 0;
  const FUTURE = '9999-12-31T23:59:59.000Z';
  await cp.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Faulted', timestamp: FUTURE });
  const e1 = await u.waitFor((e) => e.type === 'status' && e.data.status === 'Faulted', { what: 'the skewed status' });
  assert.equal(e1.data.clockSkew, true);
  assert.equal(e1.data.timestamp, FUTURE, 'the charger\'s own time stamp is kept');
  assert.notEqual(e1.data.late, true);
  assert.ok(Math.abs(Date.parse(e1.ts) - Date.now()) < 3600_000, `ordered by arrival: ${e1.ts}`);
  await cp.call('MeterValues', meterPayload({ connectorId: 1, ts: FUTURE, energy: 5000 }));
  const e2 = await u.waitFor((e) => e.type === 'meter' && e.data.energyWh === 5000, { what: 'the skewed meter' });
  assert.equal(e2.data.clockSkew, true);

  // now real data: not late, and it is what the snapshot shows
  await cp.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging', timestamp: iso() });
  const e3 = await u.waitFor((e) => e.type === 'status' && e.data.status === 'Charging', { what: 'the real status' });
  assert.notEqual(e3.data.late, true);
  assert.notEqual(e3.data.clockSkew, true);
  await cp.call('MeterValues', meterPayload({ connectorId: 1, energy: 6000 }));
  const e4 = await u.waitFor((e) => e.type === 'meter' && e.data.energyWh === 6000, { what: 'the real meter' });
  assert.notEqual(e4.data.late, true);
  const snap = (await get(srv, '/api/chargers/CPS', admin)).json;
  const k1 = snap.connectors.find((k) => k.connectorId === 1);
  assert.equal(k1.status, 'Charging');
  assert.equal(k1.meter.energyWh, 6000);
  // stored with the charger's own time stamp
  const st = srv.sql("SELECT count(*) AS n FROM status_history WHERE charger_id = 'CPS' AND status = 'Faulted'");
  assert.equal(st[0].n, 1);
  assert.equal(await metric('flashcharge_ocpp_clock_skew_total'), before + 2);
  assert.equal(logLines('clock_skew').filter((l) => l.includes('cp=CPS ')).length, 1);
  await u.close();
  await cp.close();
});

test('--max-clock-skew: 2 h ahead is flagged with a 1 h bound; 10 minutes ahead is not', async () => {
  const s = await Server.start({ chargers: [{ id: 'CPT' }], env: ENV, args: ['--max-clock-skew', '3600'] });
  try {
    const tok = mint(SECRET, { sub: 'x', role: 'admin' });
    const cp = await s.connect('CPT');
    await boot(cp);
    const u = await uiOpen(s, { token: tok, charger: 'CPT' });
    await u.waitType('snapshot');
    await cp.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Finishing',
      timestamp: iso(Date.now() + 7_200_000) });
    const b = await u.waitFor((e) => e.type === 'status' && e.data.status === 'Finishing');
    assert.equal(b.data.clockSkew, true);
    // ordered by arrival: the next message, 10 minutes ahead (within the bound), is newer
    await cp.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing',
      timestamp: iso(Date.now() + 600_000) });
    const a = await u.waitFor((e) => e.type === 'status' && e.data.status === 'Preparing');
    assert.notEqual(a.data.clockSkew, true);
    assert.notEqual(a.data.late, true);
    await u.close();
    await cp.close();
  } finally {
    await s.cleanup();
  }
});

