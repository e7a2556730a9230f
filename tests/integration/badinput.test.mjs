// Frames a broken or hostile charger may send, over a raw WebSocket: every one
// gets the CALLERROR OCPP-J names (or the close code RFC 6455 names), and the
// server keeps serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, iso } from './lib/server.mjs';

const RATE = 50; // calls per second per charger (burst 2×)
let srv;
let c; // one raw connection reused by the CALLERROR cases

before(async () => {
  srv = await Server.start({
    args: ['--unknown-chargers', 'accept', '--rate-limit', String(RATE), '--rate-burst', String(2 * RATE), '--max-frame', '65536'],
  });
  c = await srv.raw('CP-BAD');
});

after(async () => {
  await srv?.cleanup();
});

// OCPP-J 1.6 spells it "OccurenceConstraintViolation"; the 1.6 errata (and ocpp-rpc) correct it
// to "OccurrenceConstraintViolation". Either is accepted here.
const OCCURRENCE = ['OccurenceConstraintViolation', 'OccurrenceConstraintViolation'];

function assertError(m, id, code) {
  assert.ok(Array.isArray(m), `answer is an array: ${JSON.stringify(m)}`);
  assert.equal(m[0], 4, `CALLERROR expected, got ${JSON.stringify(m)}`);
  assert.equal(m[1], id);
  if (Array.isArray(code)) assert.ok(code.includes(m[2]), `code ${m[2]} not in ${code}: ${JSON.stringify(m)}`);
  else assert.equal(m[2], code, `code: ${JSON.stringify(m)}`);
  assert.equal(typeof m[3], 'string', 'errorDescription is a string');
  assert.ok(m[4] && typeof m[4] === 'object' && !Array.isArray(m[4]), 'errorDetails is an object');
  assert.equal(m.length, 5);
}

// Sends a raw frame and waits for the next CALLERROR carrying id.
async function sendExpectError(frame, id, code) {
  c.send(frame);
  const m = await c.answer(id);
  assertError(m, id, code);
}

async function stillServes(conn = c) {
  const m = await conn.call('Heartbeat', {});
  assert.equal(m[0], 3, `Heartbeat answered with CALLRESULT: ${JSON.stringify(m)}`);
  assert.ok(m[2].currentTime);
}

test('a valid BootNotification first (raw client baseline)', async () => {
  const m = await c.call('BootNotification', { chargePointVendor: 'v', chargePointModel: 'm' });
  assert.equal(m[0], 3);
  assert.equal(m[2].status, 'Accepted');
});

test('invalid JSON → FormationViolation with id "-1"', async () => {
  await sendExpectError('[2,"abc","Heartbeat",{', '-1', 'FormationViolation');
  await stillServes();
});

test('a JSON value that is not an array → FormationViolation "-1"', async () => {
  await sendExpectError('{"hello":"world"}', '-1', 'FormationViolation');
  await sendExpectError('42', '-1', 'FormationViolation');
  await stillServes();
});

test('a short CALL [2,"id"] → FormationViolation under that id', async () => {
  await sendExpectError('[2,"short-1"]', 'short-1', 'FormationViolation');
  await stillServes();
});

test('an unknown message type [9,"x","y",{}] → CALLERROR under "x"', async () => {
  // OCPP-J 1.6 has no MessageTypeNotSupported; FormationViolation or ProtocolError fit.
  await sendExpectError('[9,"x9","y",{}]', 'x9', ['FormationViolation', 'ProtocolError']);
  await stillServes();
});

test('a CALL whose id is not a string → FormationViolation "-1"', async () => {
  await sendExpectError('[2,17,"Heartbeat",{}]', '-1', 'FormationViolation');
  await stillServes();
});

test('payload not an object → FormationViolation (or TypeConstraintViolation)', async () => {
  await sendExpectError('[2,"np-1","Heartbeat",[]]', 'np-1', ['FormationViolation', 'TypeConstraintViolation']);
  await sendExpectError('[2,"np-2","StatusNotification","Available"]', 'np-2', ['FormationViolation', 'TypeConstraintViolation']);
  await stillServes();
});

test('unknown action → NotImplemented', async () => {
  await sendExpectError(JSON.stringify([2, 'ni-1', 'CustomOperation', {}]), 'ni-1', 'NotImplemented');
  await sendExpectError(JSON.stringify([2, 'ni-2', 'RemoteStartTransaction', { idTag: 'x' }]), 'ni-2',
    ['NotImplemented', 'NotSupported']);
  await stillServes();
});

test('missing required field → OccurenceConstraintViolation', async () => {
  await sendExpectError(JSON.stringify([2, 'occ-1', 'BootNotification', { chargePointVendor: 'v' }]), 'occ-1', OCCURRENCE);
  await sendExpectError(JSON.stringify([2, 'occ-2', 'StatusNotification', { connectorId: 1, status: 'Available' }]), 'occ-2', OCCURRENCE);
  await sendExpectError(JSON.stringify([2, 'occ-3', 'StartTransaction', { connectorId: 1, idTag: 'T', timestamp: iso() }]), 'occ-3', OCCURRENCE);
  await sendExpectError(JSON.stringify([2, 'occ-4', 'MeterValues', { connectorId: 1, meterValue: [{ timestamp: iso(), sampledValue: [{ unit: 'Wh' }] }] }]), 'occ-4', OCCURRENCE);
  await stillServes();
});

test('wrong type → TypeConstraintViolation', async () => {
  await sendExpectError(JSON.stringify([2, 'type-1', 'StatusNotification', { connectorId: '1', errorCode: 'NoError', status: 'Available' }]), 'type-1', 'TypeConstraintViolation');
  await sendExpectError(JSON.stringify([2, 'type-2', 'StartTransaction', { connectorId: 1, idTag: 'T', meterStart: 'lots', timestamp: iso() }]), 'type-2', 'TypeConstraintViolation');
  await sendExpectError(JSON.stringify([2, 'type-3', 'MeterValues', { connectorId: 1, meterValue: [{ timestamp: iso(), sampledValue: [{ value: 11001.31 }] }] }]), 'type-3', 'TypeConstraintViolation');
  await sendExpectError(JSON.stringify([2, 'type-4', 'Authorize', { idTag: 5 }]), 'type-4', 'TypeConstraintViolation');
  await stillServes();
});

test('bad enum, too long, bad date-time → PropertyConstraintViolation', async () => {
  await sendExpectError(JSON.stringify([2, 'prop-1', 'StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Sleeping' }]), 'prop-1', 'PropertyConstraintViolation');
  await sendExpectError(JSON.stringify([2, 'prop-2', 'BootNotification', { chargePointVendor: 'V'.repeat(21), chargePointModel: 'm' }]), 'prop-2', 'PropertyConstraintViolation');
  await sendExpectError(JSON.stringify([2, 'prop-3', 'Authorize', { idTag: 'T'.repeat(21) }]), 'prop-3', 'PropertyConstraintViolation');
  await sendExpectError(JSON.stringify([2, 'prop-4', 'StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: 'yesterday' }]), 'prop-4', 'PropertyConstraintViolation');
  await sendExpectError(JSON.stringify([2, 'prop-5', 'MeterValues', { connectorId: 1, meterValue: [{ timestamp: iso(), sampledValue: [{ value: '1', measurand: 'Flux.Capacitance' }] }] }]), 'prop-5', 'PropertyConstraintViolation');
  await stillServes();
});

test('message ids are opaque strings: a non-UUID id is answered under that exact id', async () => {
  const id = '1c0d7d2b-XXXX-not-a-uuid-at-all-12';
  const m = await c.call('Heartbeat', {}, { id });
  assert.equal(m[0], 3);
  assert.equal(m[1], id);
});

test('nothing invalid reached the store (no status row for the refused notifications)', () => {
  const hist = srv.sql('SELECT * FROM status_history');
  assert.equal(hist.length, 0, JSON.stringify(hist));
});

test('a WebSocket ping is answered with a pong (MicroOcpp pings every few seconds)', async () => {
  const pong = new Promise((resolve) => c.ws.once('pong', (d) => resolve(d.toString())));
  c.ws.ping('are-you-there');
  assert.equal(await Promise.race([pong, new Promise((r) => setTimeout(() => r('no pong'), 3000))]), 'are-you-there');
});

test('a CALLRESULT / CALLERROR for an id the server never sent is ignored', async () => {
  c.send(JSON.stringify([3, 'never-sent-1', { status: 'Accepted' }]));
  c.send(JSON.stringify([4, 'never-sent-2', 'GenericError', '', {}]));
  await stillServes();
  // nothing was answered to either
  assert.ok(!c.inbox.some((m) => Array.isArray(m) && String(m[1]).startsWith('never-sent')),
    JSON.stringify(c.inbox));
  assert.equal(c.closeInfo, null);
});

test('a text frame larger than --max-frame closes the connection with 1009', async () => {
  const big = await srv.raw('CP-BIG');
  const data = 'x'.repeat(70 * 1024);
  big.send(JSON.stringify([2, 'big-1', 'DataTransfer', { vendorId: 'flashCharge', data }]));
  const info = await Promise.race([big.closed, new Promise((r) => setTimeout(() => r('open'), 5000))]);
  assert.notEqual(info, 'open', 'connection still open 5 s after a 70 KB frame');
  assert.equal(info.code, 1009, JSON.stringify(info));
  await stillServes();
});

test('a binary frame closes the connection with 1003', async () => {
  const bin = await srv.raw('CP-BIN');
  bin.ws.send(Buffer.from(JSON.stringify([2, 'bin-1', 'Heartbeat', {}])), { binary: true });
  const info = await Promise.race([bin.closed, new Promise((r) => setTimeout(() => r('open'), 5000))]);
  assert.notEqual(info, 'open', 'connection still open 5 s after a binary frame');
  assert.equal(info.code, 1003, JSON.stringify(info));
  await stillServes();
});

test('a flood of 500 Heartbeats: all answered in order; another charger is served meanwhile', { timeout: 40_000 }, async () => {
  const flood = await srv.raw('CP-FLOOD');
  const other = await srv.raw('CP-OTHER');
  const N = 500;
  const ids = Array.from({ length: N }, (_, i) => `flood-${i}`);
  const order = [];
  const seen = new Promise((resolve, reject) => {
    flood.ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (typeof m[1] === 'string' && m[1].startsWith('flood-')) {
        if (m[0] !== 3) reject(new Error(`flood call answered with ${JSON.stringify(m)}`));
        order.push(m[1]);
        if (order.length === N) resolve();
      }
    });
    flood.closed.then((ci) => reject(new Error(`flood connection closed ${JSON.stringify(ci)}`)));
  });
  const t0 = Date.now();
  for (const id of ids) flood.send([2, id, 'Heartbeat', {}]);

  // While the flood is throttled, the other charger gets prompt answers.
  const lat = [];
  for (let i = 0; i < 5; i++) {
    const s0 = Date.now();
    const m = await other.call('Heartbeat', {}, { timeout: 3000 });
    assert.equal(m[0], 3);
    lat.push(Date.now() - s0);
    await new Promise((r) => setTimeout(r, 200));
  }
  await Promise.race([seen, new Promise((_, rej) => setTimeout(() => rej(new Error(
    `only ${order.length}/${N} flood calls answered after 30 s`)), 30_000))]);
  const elapsed = Date.now() - t0;
  assert.deepEqual(order, ids, 'answers in the order of the calls');
  // Throttled, not dropped: past the burst (2×RATE) the rest trickles in at RATE per second.
  const floor = ((N - 2 * RATE) / RATE) * 1000 * 0.5;
  assert.ok(elapsed >= floor, `500 calls answered in ${elapsed} ms: the rate limit (${RATE}/s) did not throttle (expected ≥ ${floor} ms)`);
  assert.ok(lat.every((x) => x < 3000), `other charger latencies ${lat}`);
  assert.equal(flood.closeInfo, null);
});

test('the server process is still alive and exits 0 on SIGTERM', async () => {
  assert.ok(srv.alive, srv.tail());
  await stillServes();
  const e = await srv.stop();
  assert.deepEqual(e, { code: 0, signal: null }, srv.tail());
});
