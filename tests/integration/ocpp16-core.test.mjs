// OCPP 1.6 Core and Remote Trigger operations of the Central System, over
// REST, answered by a strict OCPP 1.6 charge point (ocpp-rpc validates every
// call we send against the official schemas): the exact frames the charger
// gets, the REST answers (checked against openapi.json by srv.http), the
// stored commands and the `command` events a subscribed UI sees. Tests are
// named after the OCA OCPP 1.6 CSMS test cases they cover where one fits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import rpc from 'ocpp-rpc';
const { createRPCError, NOREPLY } = rpc;
import { Server, until, iso } from './lib/server.mjs';
import { Rig } from './lib/rig.mjs';

const SECRET = 'ocpp16-core-test-secret-0123456789abcdef';
const CP = 'CP-CORE';
const CP_DROP = 'CP-DROP';
const TIMEOUT_MS = 2500;

const rig = new Rig('ocpp16-core', SECRET, CP);
let srv;
let cp;
let ui;
const tokens = rig.tokens;
const seen = rig.seen; // every call a charger received: {charger, method, params}
const { cmd, answer, lastCall, callsOf, rows, boot, Ui } = rig.bound();

before(async () => {
  srv = await Server.start({
    chargers: [{ id: CP }, { id: CP_DROP }],
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

// ---- the conformance fixes ---------------------------------------------------

test('hard reset: the charger drops the line after our call → 502 no_answer, sent; a queued call → 409 offline', async () => {
  const drop = await srv.connect(CP_DROP);
  await boot(drop);
  const dui = new Ui(CP_DROP);
  await dui.ready();
  // the charger carries out the reset: it closes its connection without answering
  answer(drop, 'Reset', () => {
    setTimeout(() => drop.close({ force: true }), 50);
    return NOREPLY;
  });
  answer(drop, 'UnlockConnector', () => ({ status: 'Unlocked' }));
  const reset = cmd('POST', `${base(CP_DROP)}/reset`, { type: 'Hard' });
  // queued behind the reset (one call in flight per charger): never leaves
  await until(() => callsOf('Reset', CP_DROP).length === 1, { what: 'the Reset reaching the charger' });
  const unlock = cmd('POST', `${base(CP_DROP)}/unlock`, { connectorId: 1 });
  const [r, u] = await Promise.all([reset, unlock]);
  assert.equal(r.status, 502, r.text);
  assert.deepEqual(r.json, {
    error: 'no_answer',
    detail: 'the call was sent, then the charger\'s connection closed before it answered',
    sent: true,
  });
  assert.equal(u.status, 409, u.text);
  assert.equal(u.json.error, 'offline');
  assert.equal(callsOf('UnlockConnector', CP_DROP).length, 0, 'the queued call never left');

  const ev = await dui.command('reset');
  assert.equal(ev.data.status, 'NoAnswer');
  assert.equal(ev.data.sent, true);
  assert.equal(ev.data.action, 'Reset');
  const uev = await dui.command('unlock');
  assert.equal(uev.data.status, 'Offline');
  assert.equal(uev.data.sent, false);
  const [rr] = rows('reset', CP_DROP);
  assert.equal(rr.status, 'NoAnswer');
  assert.equal(rr.sent, 1);
  const [ur] = rows('unlock', CP_DROP);
  assert.equal(ur.status, 'Offline');
  assert.equal(ur.sent, 0);
  // the frame log has the reset we sent
  const frames = srv.sql(`SELECT text FROM frames WHERE charger_id = '${CP_DROP}' AND text LIKE '%"Reset"%'`);
  assert.equal(frames.length, 1);
  // and a charger that is not connected at all: 409, recorded as never sent
  const off = await cmd('POST', `${base(CP_DROP)}/reset`, { type: 'Soft' });
  assert.equal(off.status, 409, off.text);
  assert.equal(rows('reset', CP_DROP).at(-1).sent, 0);
  assert.deepEqual(drop.strictFailures, []);
});

test('remote start without connectorId: the charger chooses', async () => {
  answer(cp, 'RemoteStartTransaction', () => ({ status: 'Accepted' }));
  let r = await cmd('POST', `${base()}/start`, { idTag: 'TAG-OK' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { status: 'Accepted', result: { status: 'Accepted' } });
  assert.deepEqual(lastCall('RemoteStartTransaction').params, { idTag: 'TAG-OK' });
  const ev = await ui.command('start');
  assert.equal(ev.connector, 0);
  assert.equal(ev.data.params.connectorId, undefined);
  assert.equal(ev.data.sent, true);
  // with a current limit, the profile goes along
  r = await cmd('POST', `${base()}/start`, { idTag: 'TAG-OK', maxCurrentA: 10 });
  assert.equal(r.status, 200, r.text);
  const got = lastCall('RemoteStartTransaction').params;
  assert.equal(got.connectorId, undefined);
  assert.equal(got.chargingProfile.chargingSchedule.chargingSchedulePeriod[0].limit, 10);
  // a connectorId given must be one
  const before = seen.length;
  for (const body of [{ idTag: 'TAG-OK', connectorId: 0 }, { idTag: 'TAG-OK', targetSoc: 80 }]) {
    r = await cmd('POST', `${base()}/start`, body);
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.detail, /connectorId/);
  }
  assert.equal(seen.length, before);
  assert.deepEqual(cp.strictFailures, []);
});

// ---- Core --------------------------------------------------------------------

test('ChangeAvailability: connector 0 is the whole charger; Accepted and Rejected reported as such', async () => {
  answer(cp, 'ChangeAvailability', (p) => ({ status: p.connectorId === 2 ? 'Rejected' : 'Accepted' }));
  let r = await cmd('POST', `${base()}/availability`, { type: 'Inoperative' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { status: 'Accepted', result: { status: 'Accepted' } });
  assert.deepEqual(lastCall('ChangeAvailability').params, { connectorId: 0, type: 'Inoperative' });
  let ev = await ui.command('availability');
  assert.equal(ev.connector, 0);
  assert.deepEqual(ev.data.params, { connectorId: 0, type: 'Inoperative' });
  assert.equal(ev.data.action, 'ChangeAvailability');
  assert.equal(ev.data.status, 'Accepted');
  r = await cmd('POST', `${base()}/availability`, { connectorId: 2, type: 'Operative' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { status: 'Rejected', result: { status: 'Rejected' } });
  ev = await ui.command('availability');
  assert.equal(ev.connector, 2);
  assert.equal(ev.data.status, 'Rejected');
  assert.deepEqual(rows('availability').map((x) => x.status), ['Accepted', 'Rejected']);
  assert.deepEqual(cp.strictFailures, []);
});

test('ChangeAvailability Scheduled during a transaction: tracked, reported Applied when the transaction ends', async () => {
  answer(cp, 'ChangeAvailability', () => ({ status: 'Scheduled' }));
  const { transactionId } = await cp.call('StartTransaction',
    { connectorId: 1, idTag: 'TAG-OK', meterStart: 0, timestamp: iso() });
  await ui.wait((e) => e.type === 'transaction.started', 'transaction.started');
  const r = await cmd('POST', `${base()}/availability`, { connectorId: 1, type: 'Inoperative' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { status: 'Scheduled', result: { status: 'Scheduled' } });
  const ev = await ui.command('availability');
  assert.equal(ev.data.status, 'Scheduled');
  // nothing more while the transaction runs
  await new Promise((res) => setTimeout(res, 1500));
  assert.equal(rows('availability').filter((x) => x.status === 'Applied').length, 0);
  await cp.call('StopTransaction', { transactionId, meterStop: 100, timestamp: iso(), reason: 'Local' });
  const applied = await ui.wait((e) => e.type === 'command' && e.data.command === 'availability' &&
    e.data.status === 'Applied', 'the Applied record', 5000);
  assert.equal(applied.connector, 1);
  assert.equal(applied.data.by, 'op-alice');
  assert.deepEqual(applied.data.params, { connectorId: 1, type: 'Inoperative' });
  assert.deepEqual(applied.data.result, { after: 'transactionEnded', transactionId });
  assert.equal(applied.data.action, undefined, 'no second call was sent');
  const last = rows('availability').at(-1);
  assert.equal(last.status, 'Applied');
  assert.equal(last.sent, null);
  assert.equal(callsOf('ChangeAvailability').length, 3);
});

test('TC_061 ClearCache: Accepted, Rejected, and a charger without the feature (CALLERROR NotSupported)', async () => {
  let answerWith = { status: 'Accepted' };
  answer(cp, 'ClearCache', () => answerWith);
  let r = await cmd('POST', `${base()}/clear-cache`, {});
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { status: 'Accepted', result: { status: 'Accepted' } });
  assert.deepEqual(lastCall('ClearCache').params, {});
  let ev = await ui.command('clear-cache');
  assert.equal(ev.data.action, 'ClearCache');
  assert.equal(ev.data.status, 'Accepted');
  answerWith = { status: 'Rejected' };
  // without a body (Content-Length: 0): sent once, not twice
  r = await cmd('POST', `${base()}/clear-cache`);
  assert.equal(callsOf('ClearCache').length, 2);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'Rejected');
  await ui.command('clear-cache');
  cp.handle('ClearCache', () => { throw createRPCError('NotSupported', 'no cache'); });
  r = await cmd('POST', `${base()}/clear-cache`, {});
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.code, 'NotSupported');
  ev = await ui.command('clear-cache');
  assert.equal(ev.data.status, 'CallError');
  assert.deepEqual(ev.data.error, { code: 'NotSupported', description: 'no cache' });
  assert.deepEqual(rows('clear-cache').map((x) => x.status), ['Accepted', 'Rejected', 'CallError']);
});

test('DataTransfer to the charger: vendorId, messageId and data pass as they are; its answer and data come back', async () => {
  answer(cp, 'DataTransfer', (p) => (p.vendorId === 'flashCharge'
    ? { status: 'Accepted', data: JSON.stringify({ echo: p.data }) }
    : { status: 'UnknownVendorId' }));
  const data = JSON.stringify({ hello: 'charger' });
  let r = await cmd('POST', `${base()}/data-transfer`,
    { vendorId: 'flashCharge', messageId: 'Ping', data }, tokens.admin);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { status: 'Accepted', result: { status: 'Accepted', data: JSON.stringify({ echo: data }) } });
  assert.deepEqual(lastCall('DataTransfer').params, { vendorId: 'flashCharge', messageId: 'Ping', data });
  const ev = await ui.command('data-transfer');
  assert.equal(ev.data.by, 'admin-bob');
  assert.deepEqual(ev.data.params, { vendorId: 'flashCharge', messageId: 'Ping', data });
  r = await cmd('POST', `${base()}/data-transfer`, { vendorId: 'other.vendor' }, tokens.admin);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'UnknownVendorId');
  assert.deepEqual(lastCall('DataTransfer').params, { vendorId: 'other.vendor' });
  // vendor-specific: admins only
  const before = seen.length;
  r = await cmd('POST', `${base()}/data-transfer`, { vendorId: 'flashCharge' }, tokens.op);
  assert.equal(r.status, 403, r.text);
  assert.equal(seen.length, before);
  assert.deepEqual(cp.strictFailures, []);
});

test('Core commands: bad input → 400 naming the field, before anything is sent; viewer 403', async () => {
  const before = seen.length;
  const bad = [
    ['availability', {}, /type/],
    ['availability', { type: 'Sometimes' }, /type/],
    ['availability', { type: 'Operative', connectorId: -1 }, /connectorId/],
    ['availability', { type: 'Operative', connectorId: 'one' }, /connectorId/],
    ['data-transfer', {}, /vendorId/],
    ['data-transfer', { vendorId: 'v'.repeat(256) }, /vendorId/],
    ['data-transfer', { vendorId: 'flashCharge', messageId: 'm'.repeat(51) }, /messageId/],
    ['data-transfer', { vendorId: 'flashCharge', data: { not: 'a string' } }, /data/],
  ];
  for (const [verb, body, field] of bad) {
    const r = await cmd('POST', `${base()}/${verb}`, body, tokens.admin);
    assert.equal(r.status, 400, `${verb} ${JSON.stringify(body)}: ${r.status} ${r.text}`);
    assert.match(r.json.detail, field, `${verb} ${JSON.stringify(body)}: ${r.json.detail}`);
  }
  for (const verb of ['availability', 'clear-cache']) {
    const r = await cmd('POST', `${base()}/${verb}`, { type: 'Operative' }, tokens.viewer);
    assert.equal(r.status, 403, r.text);
  }
  assert.equal(seen.length, before, 'nothing reached the charger');
});

// ---- Remote Trigger ----------------------------------------------------------

// The charger accepts the trigger, then sends what was asked for; the server
// answers that message as it answers any (strict mode checks the answer).
const triggered = {
  BootNotification: async () => {
    const r = await cp.call('BootNotification', { chargePointVendor: 'flashCharge', chargePointModel: 'T1' });
    assert.equal(r.status, 'Accepted');
    assert.ok(r.interval > 0);
  },
  DiagnosticsStatusNotification: async () => {
    assert.deepEqual(await cp.call('DiagnosticsStatusNotification', { status: 'Idle' }), {});
  },
  FirmwareStatusNotification: async () => {
    assert.deepEqual(await cp.call('FirmwareStatusNotification', { status: 'Idle' }), {});
  },
  Heartbeat: async () => {
    const r = await cp.call('Heartbeat', {});
    assert.ok(Math.abs(Date.parse(r.currentTime) - Date.now()) < 60_000);
  },
  MeterValues: async (connectorId = 1) => {
    assert.deepEqual(await cp.call('MeterValues', {
      connectorId,
      meterValue: [{
        timestamp: iso(),
        sampledValue: [{ value: '230.1', measurand: 'Voltage', unit: 'V', context: 'Trigger' }],
      }],
    }), {});
  },
  StatusNotification: async (connectorId) => {
    for (const c of connectorId === undefined ? [0, 1, 2] : [connectorId]) {
      assert.deepEqual(await cp.call('StatusNotification',
        { connectorId: c, errorCode: 'NoError', status: c === 2 ? 'Unavailable' : 'Available' }), {});
    }
  },
};

test('TriggerMessage for every message it names: the trigger goes out as asked, the triggered message is handled', async () => {
  const follow = [];
  answer(cp, 'TriggerMessage', (p) => {
    follow.push(p);
    return { status: 'Accepted' };
  });
  const cases = [
    ['BootNotification'], ['DiagnosticsStatusNotification'], ['FirmwareStatusNotification'],
    ['Heartbeat'], ['MeterValues', 1], ['MeterValues'], ['StatusNotification', 2], ['StatusNotification'],
  ];
  for (const [requestedMessage, connectorId] of cases) {
    const body = connectorId === undefined ? { requestedMessage } : { requestedMessage, connectorId };
    const r = await cmd('POST', `${base()}/trigger`, body);
    assert.equal(r.status, 200, `${requestedMessage}: ${r.text}`);
    assert.deepEqual(r.json, { status: 'Accepted', result: { status: 'Accepted' } });
    assert.deepEqual(follow.at(-1), body, `${requestedMessage}: the frame sent`);
    const ev = await ui.command('trigger');
    assert.deepEqual(ev.data.params, body);
    assert.equal(ev.data.status, 'Accepted');
    assert.equal(ev.connector, connectorId ?? 0);
    await triggered[requestedMessage](connectorId);
  }
  // what the triggered messages did is visible
  const st = await ui.wait((e) => e.type === 'status' && e.connector === 2 && e.data.status === 'Unavailable',
    'connector 2 Unavailable');
  assert.equal(st.charger, CP);
  await ui.wait((e) => e.type === 'meter' && e.connector === 1 && e.data.voltage === 230.1, 'the triggered meter value');
  const fw = srv.sql(`SELECT firmware_status, diagnostics_status FROM chargers WHERE id = '${CP}'`);
  assert.deepEqual(fw, [{ firmware_status: 'Idle', diagnostics_status: 'Idle' }]);
  assert.equal(rows('trigger').length, cases.length);
  assert.deepEqual(cp.strictFailures, []);
});

test('TriggerMessage Rejected and NotImplemented are reported as the charger said them', async () => {
  answer(cp, 'TriggerMessage', (p) => ({ status: p.requestedMessage === 'Heartbeat' ? 'NotImplemented' : 'Rejected' }));
  let r = await cmd('POST', `${base()}/trigger`, { requestedMessage: 'Heartbeat' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { status: 'NotImplemented', result: { status: 'NotImplemented' } });
  r = await cmd('POST', `${base()}/trigger`, { requestedMessage: 'MeterValues', connectorId: 1 });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { status: 'Rejected', result: { status: 'Rejected' } });
  assert.deepEqual(rows('trigger').slice(-2).map((x) => x.status), ['NotImplemented', 'Rejected']);
  const before = seen.length;
  for (const body of [{}, { requestedMessage: 'Coffee' }, { requestedMessage: 'Heartbeat', connectorId: 'x' }]) {
    r = await cmd('POST', `${base()}/trigger`, body);
    assert.equal(r.status, 400, r.text);
  }
  assert.equal(seen.length, before);
});

test('the server shuts down cleanly after all this (no leak reports under ASan)', async () => {
  const exit = await srv.stop();
  assert.equal(exit.code, 0, srv.tail());
  assert.ok(!/LeakSanitizer|AddressSanitizer|runtime error/.test(srv.stderr), srv.tail());
});
