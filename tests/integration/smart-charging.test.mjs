// Smart Charging over REST (SetChargingProfile with every purpose, kind and
// unit, ClearChargingProfile, GetCompositeSchedule, the profiles stored per
// charger), answered by a strict OCPP 1.6 charge point (ocpp-rpc validates
// every call we send against the official schemas): the exact frames the
// charger gets, the REST answers (checked against openapi.json), the stored
// profiles and commands, and the `command` events a subscribed UI sees. Tests
// are named after the OCA OCPP 1.6 CSMS test cases they cover where one fits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import rpc from 'ocpp-rpc';
const { createRPCError } = rpc;
import { Server, iso } from './lib/server.mjs';
import { Rig } from './lib/rig.mjs';

const SECRET = 'smart-charging-test-secret-0123456789abcdef';
const CP = 'CP-SMART';
const CP_W = 'CP-WATTS';
const TIMEOUT_MS = 2500;

const rig = new Rig('smart-charging', SECRET, CP);
let srv;
let cp;
let ui;
const tokens = rig.tokens;
const seen = rig.seen; // every call a charger received: {charger, method, params}
const { cmd, answer, lastCall, callsOf, rows, boot, Ui } = rig.bound();

before(async () => {
  srv = await Server.start({
    chargers: [{ id: CP }, { id: CP_W }],
    tags: [{ tag: 'TAG-OK' }],
    env: { FLASHCHARGE_JWT_SECRET: SECRET },
    args: ['--command-timeout', String(TIMEOUT_MS), '--ui-max-per-ip', '1000'],
  });
  rig.srv = srv;
  rig.mintTokens();
  cp = await srv.connect(CP);
  await boot(cp);
  ui = new Ui(CP);
  await ui.ready();
});

after(async () => {
  await srv?.cleanup();
});

const base = (id = CP) => `/api/chargers/${id}`;

// The stored profiles of the charger, over REST.
async function stored() {
  const r = await cmd('GET', `${base()}/charging-profiles`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

const hour = 3600_000;
const tomorrow = () => new Date(Date.now() + 24 * hour).toISOString();
const dayStart = () => { const d = new Date(); d.setUTCHours(0, 0, 0, 0); return d.toISOString(); };

const maxProfile = (over = {}) => ({
  chargingProfileId: 1,
  stackLevel: 0,
  chargingProfilePurpose: 'ChargePointMaxProfile',
  chargingProfileKind: 'Absolute',
  validFrom: new Date(Date.now() - hour).toISOString(),
  validTo: tomorrow(),
  chargingSchedule: {
    startSchedule: new Date(Date.now() - hour).toISOString(),
    chargingRateUnit: 'A',
    chargingSchedulePeriod: [{ startPeriod: 0, limit: 32 }, { startPeriod: 3600, limit: 16, numberPhases: 3 }],
  },
  ...over,
});

const txDefault = (over = {}) => ({
  chargingProfileId: 2,
  stackLevel: 1,
  chargingProfilePurpose: 'TxDefaultProfile',
  chargingProfileKind: 'Recurring',
  recurrencyKind: 'Daily',
  chargingSchedule: {
    startSchedule: dayStart(),
    duration: 86400,
    chargingRateUnit: 'W',
    chargingSchedulePeriod: [
      { startPeriod: 0, limit: 11000 },
      { startPeriod: 8 * 3600, limit: 3680 },
      { startPeriod: 20 * 3600, limit: 11000 },
    ],
  },
  ...over,
});

test('ChargePointMaxProfile (Absolute, A) on connector 0: the exact frame, stored, listed and pushed', async () => {
  answer(cp, 'SetChargingProfile', () => ({ status: 'Accepted' }));
  const prof = maxProfile();
  const r = await cmd('POST', `${base()}/charging-profile`, { connectorId: 0, csChargingProfiles: prof });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { status: 'Accepted', result: { status: 'Accepted' } });
  assert.deepEqual(lastCall('SetChargingProfile').params, { connectorId: 0, csChargingProfiles: prof });
  const ev = await ui.command('charging-profile');
  assert.equal(ev.data.action, 'SetChargingProfile');
  assert.equal(ev.data.status, 'Accepted');
  assert.deepEqual(ev.data.params, { connectorId: 0, csChargingProfiles: prof });
  const list = await stored();
  assert.equal(list.length, 1);
  assert.deepEqual({ ...list[0], setAt: undefined }, {
    chargingProfileId: 1, connectorId: 0, stackLevel: 0, chargingProfilePurpose: 'ChargePointMaxProfile',
    chargingProfileKind: 'Absolute', chargingRateUnit: 'A', transactionId: null, profile: prof,
    setBy: 'op-alice', setAt: undefined,
  });
  assert.ok(Math.abs(Date.parse(list[0].setAt) - Date.now()) < 60_000);
  assert.deepEqual(cp.strictFailures, []);
});

test('TC_056 TxDefaultProfile (Recurring Daily, W) on connector 0 and on a connector; same stack level and purpose replaces', async () => {
  answer(cp, 'SetChargingProfile', () => ({ status: 'Accepted' }));
  let r = await cmd('POST', `${base()}/charging-profile`, { connectorId: 0, csChargingProfiles: txDefault() });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'Accepted');
  assert.deepEqual(lastCall('SetChargingProfile').params.csChargingProfiles, txDefault());
  // connector 1: its own TxDefaultProfile beside the charger-wide one
  r = await cmd('POST', `${base()}/charging-profile`,
    { connectorId: 1, csChargingProfiles: txDefault({ chargingProfileId: 3 }) });
  assert.equal(r.status, 200, r.text);
  let list = await stored();
  assert.deepEqual(list.map((p) => [p.chargingProfileId, p.connectorId, p.chargingProfilePurpose, p.chargingRateUnit]),
    [[1, 0, 'ChargePointMaxProfile', 'A'], [2, 0, 'TxDefaultProfile', 'W'], [3, 1, 'TxDefaultProfile', 'W']]);
  // same connector, purpose and stack level, another id: replaces profile 2 (as the charger does)
  const weekly = txDefault({ chargingProfileId: 4, recurrencyKind: 'Weekly' });
  r = await cmd('POST', `${base()}/charging-profile`, { connectorId: 0, csChargingProfiles: weekly });
  assert.equal(r.status, 200, r.text);
  list = await stored();
  assert.deepEqual(list.map((p) => p.chargingProfileId), [1, 4, 3]);
  assert.equal(list[1].profile.recurrencyKind, 'Weekly');
  // a higher stack level stacks beside it
  r = await cmd('POST', `${base()}/charging-profile`,
    { connectorId: 0, csChargingProfiles: txDefault({ chargingProfileId: 5, stackLevel: 2 }) });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual((await stored()).map((p) => p.chargingProfileId), [1, 4, 5, 3]);
  assert.deepEqual(cp.strictFailures, []);
});

let tx;

test('TxProfile (Relative) on the running transaction; refused with 409 when none runs there', async () => {
  answer(cp, 'SetChargingProfile', () => ({ status: 'Accepted' }));
  const txProfile = (over = {}) => ({
    chargingProfileId: 7,
    stackLevel: 3,
    chargingProfilePurpose: 'TxProfile',
    chargingProfileKind: 'Relative',
    chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 10 }] },
    ...over,
  });
  const before = seen.length;
  let r = await cmd('POST', `${base()}/charging-profile`, { connectorId: 1, csChargingProfiles: txProfile() });
  assert.equal(r.status, 409, r.text);
  assert.equal(r.json.error, 'no_transaction');
  assert.equal(seen.length, before);
  ({ transactionId: tx } = await cp.call('StartTransaction',
    { connectorId: 1, idTag: 'TAG-OK', meterStart: 0, timestamp: iso() }));
  await ui.wait((e) => e.type === 'transaction.started', 'transaction.started');
  r = await cmd('POST', `${base()}/charging-profile`,
    { connectorId: 1, csChargingProfiles: txProfile({ transactionId: tx }) });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(lastCall('SetChargingProfile').params,
    { connectorId: 1, csChargingProfiles: txProfile({ transactionId: tx }) });
  const p7 = (await stored()).find((p) => p.chargingProfileId === 7);
  assert.equal(p7.transactionId, tx);
  assert.equal(p7.connectorId, 1);
  assert.equal(p7.chargingProfileKind, 'Relative');
});

test('the limit shorthand is a SetChargingProfile like any: stored as the TxProfile it sent', async () => {
  answer(cp, 'SetChargingProfile', () => ({ status: 'Accepted' }));
  const r = await cmd('POST', `${base()}/limit`, { maxPowerW: 7400, connectorId: 1 });
  assert.equal(r.status, 200, r.text);
  const p = (await stored()).find((x) => x.chargingProfileId === 101);
  assert.equal(p.chargingRateUnit, 'W');
  assert.equal(p.transactionId, tx);
  assert.deepEqual(p.profile.chargingSchedule.chargingSchedulePeriod, [{ startPeriod: 0, limit: 7400 }]);
});

test('Rejected and NotSupported are reported as the charger said them, and nothing is stored', async () => {
  const was = await stored();
  answer(cp, 'SetChargingProfile', () => ({ status: 'Rejected' }));
  let r = await cmd('POST', `${base()}/charging-profile`,
    { connectorId: 0, csChargingProfiles: maxProfile({ chargingProfileId: 9, stackLevel: 4 }) });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { status: 'Rejected', result: { status: 'Rejected' } });
  answer(cp, 'SetChargingProfile', () => ({ status: 'NotSupported' }));
  r = await cmd('POST', `${base()}/charging-profile`,
    { connectorId: 0, csChargingProfiles: maxProfile({ chargingProfileId: 9, stackLevel: 4 }) });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'NotSupported');
  cp.handle('SetChargingProfile', () => { throw createRPCError('NotSupported', 'no smart charging'); });
  r = await cmd('POST', `${base()}/charging-profile`,
    { connectorId: 0, csChargingProfiles: maxProfile({ chargingProfileId: 9, stackLevel: 4 }) });
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.code, 'NotSupported');
  assert.deepEqual(await stored(), was);
  assert.deepEqual(rows('charging-profile').slice(-3).map((x) => x.status), ['Rejected', 'NotSupported', 'CallError']);
});

test('bad profiles → 400 naming the field, and an unknown connector refused, before anything is sent', async () => {
  const before = seen.length;
  const p = maxProfile();
  const s = p.chargingSchedule;
  const bad = [
    [{ csChargingProfiles: p }, /connectorId/],
    [{ connectorId: 0 }, /csChargingProfiles/],
    [{ connectorId: 1, csChargingProfiles: p }, /connectorId: a ChargePointMaxProfile/],
    [{ connectorId: 0, csChargingProfiles: { ...p, chargingProfilePurpose: 'TxProfile' } }, /connectorId: a TxProfile/],
    [{ connectorId: 0, csChargingProfiles: { ...p, chargingProfilePurpose: 'Cheap' } }, /chargingProfilePurpose/],
    [{ connectorId: 0, csChargingProfiles: { ...p, chargingProfileKind: 'Sometimes' } }, /chargingProfileKind/],
    [{ connectorId: 0, csChargingProfiles: { ...p, transactionId: 1 } }, /transactionId/],
    [{ connectorId: 0, csChargingProfiles: { ...p, chargingProfileKind: 'Recurring' } }, /recurrencyKind/],
    [{ connectorId: 0, csChargingProfiles: { ...p, recurrencyKind: 'Daily' } }, /recurrencyKind/],
    [{ connectorId: 0, csChargingProfiles: { ...p, validTo: p.validFrom } }, /validTo/],
    [{ connectorId: 0, csChargingProfiles: { ...p, validTo: new Date(Date.now() - 60_000).toISOString(), validFrom: undefined } }, /validTo/],
    [{ connectorId: 0, csChargingProfiles: { ...p, validFrom: 'yesterday' } }, /validFrom/],
    [{ connectorId: 0, csChargingProfiles: { ...p, stackLevel: -1 } }, /stackLevel/],
    [{ connectorId: 0, csChargingProfiles: { ...p, chargingSchedule: { ...s, startSchedule: undefined } } }, /startSchedule/],
    [{ connectorId: 0, csChargingProfiles: { ...p, chargingProfileKind: 'Relative' } }, /startSchedule/],
    [{ connectorId: 0, csChargingProfiles: { ...p, chargingSchedule: { ...s, chargingRateUnit: 'kW' } } }, /chargingRateUnit/],
    [{ connectorId: 0, csChargingProfiles: { ...p, chargingSchedule: { ...s, chargingSchedulePeriod: [] } } }, /chargingSchedulePeriod/],
    [{ connectorId: 0, csChargingProfiles: { ...p, chargingSchedule: { ...s, chargingSchedulePeriod: [{ startPeriod: 60, limit: 10 }] } } }, /startPeriod/],
    [{ connectorId: 0, csChargingProfiles: { ...p, chargingSchedule: { ...s, chargingSchedulePeriod: [{ startPeriod: 0, limit: 10 }, { startPeriod: 0, limit: 8 }] } } }, /startPeriod/],
    [{ connectorId: 0, csChargingProfiles: { ...p, chargingSchedule: { ...s, chargingSchedulePeriod: [{ startPeriod: 0, limit: -1 }] } } }, /limit/],
    [{ connectorId: 0, csChargingProfiles: { ...p, chargingSchedule: { ...s, chargingSchedulePeriod: [{ startPeriod: 0, limit: 6, numberPhases: 4 }] } } }, /numberPhases/],
    [{ connectorId: 0, csChargingProfiles: { ...p, chargingSchedule: { ...s, duration: 3600 } } }, /duration/],
    [{ connectorId: 7, csChargingProfiles: txDefault({ chargingProfileId: 70 }) }, /connectorId: the charger has not reported/],
  ];
  for (const [body, field] of bad) {
    const r = await cmd('POST', `${base()}/charging-profile`, JSON.parse(JSON.stringify(body)));
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.status} ${r.text}`);
    assert.equal(r.json.error, 'bad_request');
    assert.match(r.json.detail, field, `${JSON.stringify(body)}: ${r.json.detail}`);
  }
  for (const [verb, body] of [['clear-charging-profile', { connectorId: 7 }], ['composite-schedule', { connectorId: 7, duration: 60 }],
    ['clear-charging-profile', { chargingProfilePurpose: 'Cheap' }], ['composite-schedule', { connectorId: 1 }],
    ['composite-schedule', { connectorId: 1, duration: 60, chargingRateUnit: 'kW' }]]) {
    const r = await cmd('POST', `${base()}/${verb}`, body);
    assert.equal(r.status, 400, `${verb} ${JSON.stringify(body)}: ${r.text}`);
  }
  const v = await cmd('POST', `${base()}/charging-profile`, { connectorId: 0, csChargingProfiles: p }, tokens.viewer);
  assert.equal(v.status, 403, v.text);
  assert.equal(seen.length, before, 'nothing reached the charger');
});

test('GetCompositeSchedule: the charger\'s schedule comes back as it sent it', async () => {
  const schedule = {
    status: 'Accepted',
    connectorId: 1,
    scheduleStart: iso(),
    chargingSchedule: {
      duration: 3600,
      chargingRateUnit: 'W',
      chargingSchedulePeriod: [{ startPeriod: 0, limit: 7400 }, { startPeriod: 1800, limit: 3680, numberPhases: 1 }],
    },
  };
  answer(cp, 'GetCompositeSchedule', () => schedule);
  const r = await cmd('POST', `${base()}/composite-schedule`, { connectorId: 1, duration: 3600, chargingRateUnit: 'W' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { status: 'Accepted', result: schedule });
  assert.deepEqual(lastCall('GetCompositeSchedule').params, { connectorId: 1, duration: 3600, chargingRateUnit: 'W' });
  const ev = await ui.command('composite-schedule');
  assert.deepEqual(ev.data.result, schedule);
  answer(cp, 'GetCompositeSchedule', () => ({ status: 'Rejected' }));
  const r2 = await cmd('POST', `${base()}/composite-schedule`, { connectorId: 0, duration: 60 });
  assert.equal(r2.status, 200, r2.text);
  assert.deepEqual(r2.json, { status: 'Rejected', result: { status: 'Rejected' } });
  assert.deepEqual(cp.strictFailures, []);
});

test('ClearChargingProfile by id, by purpose and stack level, and all: the stored profiles follow; Unknown changes nothing', async () => {
  let answerWith = 'Accepted';
  answer(cp, 'ClearChargingProfile', () => ({ status: answerWith }));
  const ids = async () => (await stored()).map((p) => p.chargingProfileId).sort((a, b) => a - b);
  assert.deepEqual(await ids(), [1, 3, 4, 5, 7, 101]);
  let r = await cmd('POST', `${base()}/clear-charging-profile`, { id: 4 });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { status: 'Accepted', result: { status: 'Accepted' } });
  assert.deepEqual(lastCall('ClearChargingProfile').params, { id: 4 });
  assert.deepEqual(await ids(), [1, 3, 5, 7, 101]);
  r = await cmd('POST', `${base()}/clear-charging-profile`,
    { connectorId: 0, chargingProfilePurpose: 'TxDefaultProfile', stackLevel: 2 });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(await ids(), [1, 3, 7, 101]);
  r = await cmd('POST', `${base()}/clear-charging-profile`, { connectorId: 1, chargingProfilePurpose: 'TxProfile' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(await ids(), [1, 3]);
  answerWith = 'Unknown';
  r = await cmd('POST', `${base()}/clear-charging-profile`, { id: 1 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'Unknown');
  assert.deepEqual(await ids(), [1, 3]);
  answerWith = 'Accepted';
  r = await cmd('POST', `${base()}/clear-charging-profile`, {});
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(lastCall('ClearChargingProfile').params, {});
  assert.deepEqual(await ids(), []);
  const ev = await ui.wait((e) => e.type === 'command' && e.data.command === 'clear-charging-profile' &&
    e.data.status === 'Unknown', 'the Unknown clear');
  assert.deepEqual(ev.data.params, { id: 1 });
  assert.deepEqual(cp.strictFailures, []);
});

test('a charger that takes only watts: its ChargingScheduleAllowedChargingRateUnit is read once, amperes are sent as watts and the answer says so', async () => {
  const w = await srv.connect(CP_W);
  await boot(w);
  const wui = new Ui(CP_W);
  await wui.ready();
  let allowed = 'Power';
  answer(w, 'GetConfiguration', (p) => ({
    configurationKey: [{ key: 'ChargingScheduleAllowedChargingRateUnit', readonly: false, value: allowed }],
    ...(p.key ? {} : {}),
  }));
  answer(w, 'ChangeConfiguration', (p) => {
    allowed = p.value;
    return { status: 'Accepted' };
  });
  // as MicroOcpp does: a profile in the other unit is rejected
  answer(w, 'SetChargingProfile', (p) => ({
    status: (p.csChargingProfiles.chargingSchedule.chargingRateUnit === 'W') === (allowed === 'Power') ? 'Accepted' : 'Rejected',
  }));
  answer(w, 'RemoteStartTransaction', (p) => ({
    status: !p.chargingProfile || p.chargingProfile.chargingSchedule.chargingRateUnit === 'W' ? 'Accepted' : 'Rejected',
  }));
  // a start with maxCurrentA: no meter value yet, so 230 V and 3 phases
  let r = await cmd('POST', `${base(CP_W)}/start`, { connectorId: 1, idTag: 'TAG-OK', maxCurrentA: 16 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'Accepted');
  assert.deepEqual(lastCall('GetConfiguration', CP_W).params, { key: ['ChargingScheduleAllowedChargingRateUnit'] });
  const conv = { from: 'A', to: 'W', voltage: 230, phases: 3,
    because: 'the charger takes W only (ChargingScheduleAllowedChargingRateUnit)' };
  assert.deepEqual(r.json.converted, conv);
  const sched = lastCall('RemoteStartTransaction', CP_W).params.chargingProfile.chargingSchedule;
  assert.deepEqual(sched, { chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 11040 }] });
  const ev = await wui.command('start');
  assert.deepEqual(ev.data.params.converted, conv);
  assert.equal(ev.data.params.maxCurrentA, 16, 'what was asked stays in the record');

  // the transaction runs; its meter values say 240 V on one phase
  const { transactionId } = await w.call('StartTransaction', { connectorId: 1, idTag: 'TAG-OK', meterStart: 0, timestamp: iso() });
  await w.call('MeterValues', {
    connectorId: 1, transactionId,
    meterValue: [{ timestamp: iso(), sampledValue: [{ value: '240', measurand: 'Voltage', unit: 'V', phase: 'L1-N' }] }],
  });
  await wui.wait((e) => e.type === 'meter' && e.data.voltage === 240, 'the meter value');
  r = await cmd('POST', `${base(CP_W)}/limit`, { maxCurrentA: 10 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'Accepted');
  assert.deepEqual(r.json.converted, { ...conv, voltage: 240, phases: 1 });
  assert.deepEqual(lastCall('SetChargingProfile', CP_W).params.csChargingProfiles.chargingSchedule,
    { chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 2400 }] });
  assert.equal(callsOf('GetConfiguration', CP_W).length, 1, 'asked once, then cached');
  // stored as what the charger was told
  const list = (await cmd('GET', `${base(CP_W)}/charging-profiles`)).json;
  assert.equal(list.find((p) => p.chargingProfileId === 101).chargingRateUnit, 'W');
  // a limit in watts goes as it is
  r = await cmd('POST', `${base(CP_W)}/limit`, { maxPowerW: 3000 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.converted, undefined);

  // changed to amperes by a command: the cache follows, no new question
  r = await cmd('PUT', `${base(CP_W)}/configuration`, { key: 'ChargingScheduleAllowedChargingRateUnit', value: 'Current' });
  assert.equal(r.status, 200, r.text);
  r = await cmd('POST', `${base(CP_W)}/limit`, { maxPowerW: 4600 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'Accepted');
  assert.deepEqual(r.json.converted, { from: 'W', to: 'A', voltage: 240, phases: 1,
    because: 'the charger takes A only (ChargingScheduleAllowedChargingRateUnit)' });
  assert.deepEqual(lastCall('SetChargingProfile', CP_W).params.csChargingProfiles.chargingSchedule,
    { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 19.2 }] });
  assert.equal(callsOf('GetConfiguration', CP_W).length, 1);
  assert.deepEqual(w.strictFailures, []);
});

test('the server shuts down cleanly after all this (no leak reports under ASan)', async () => {
  const exit = await srv.stop();
  assert.equal(exit.code, 0, srv.tail());
  assert.ok(!/LeakSanitizer|AddressSanitizer|runtime error/.test(srv.stderr), srv.tail());
});
