// The UI WebSocket (/ws): fan-out of charger events to browsers, a whole
// session in order, snapshots, resume with `since`, a stalled browser that
// must not hold anyone else up, heartbeat, JWT refusals, connection limits,
// and the latency from a charger's frame to a browser's.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Server, iso, until, sleep, withTimeout } from './lib/server.mjs';
import {
  mint, craftJwt, claims, now, uiOpen, uiConnect, uiHandshake, get, vmRssKb,
  boot, statusN, meterPayload, stats,
} from './lib/ui.mjs';

const SECRET = 'push-test-secret-0123456789abcdef0123456789';
const ENV = { FLASHCHARGE_JWT_SECRET: SECRET };

const servers = [];
after(async () => {
  for (const s of servers) await s.cleanup();
});

async function start(opts) {
  const s = new Server();
  servers.push(s);
  s.opts = typeof opts === 'function' ? opts(s) : opts;
  s.register();
  await s.spawn();
  return s;
}

// The shared server: registered chargers and tags, generous UI limits.
let main;
async function mainServer() {
  if (main) return main;
  const ids = ['FAN1', 'FAN2', 'SESS', 'RES', 'LAT', 'AUTH1', 'AUTH2', 'PING'];
  main = await start({
    chargers: ids.map((id) => ({ id })),
    tags: [{ tag: 'TAG1' }],
    env: ENV,
    args: ['--rate-limit', '100000', '--max-inflight', '64'],
  });
  return main;
}

const admin = () => mint(SECRET, { sub: 'admin', role: 'admin', chargers: '*' });

// Checks that the events with a seq of one charger, as a client received
// them, are consecutive from first to last (no gap, no duplicate, in order).
function assertConsecutive(evs, what) {
  for (let i = 1; i < evs.length; i++) {
    assert.equal(evs[i].seq, evs[i - 1].seq + 1,
      `${what}: seq ${evs[i - 1].seq} (${evs[i - 1].type}) followed by ${evs[i].seq} (${evs[i].type}); ` +
      `all: ${evs.map((e) => e.seq).join(',')}`);
  }
}

// utime + stime of a process, in clock ticks.
function cpuTicks(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
}

const metric = async (srv, name) => {
  const m = await srv.http('/metrics');
  const line = m.text.split('\n').find((l) => l.split(' ')[0] === name);
  return line ? Number(line.split(' ').pop()) : NaN;
};
const browsers = async (srv) => {
  const m = await srv.http('/metrics');
  const l = m.text.split('\n').find((x) => x.startsWith('flashcharge_connections{kind="browser"}'));
  return l ? Number(l.split(' ').pop()) : NaN;
};

// ---------------------------------------------------------------------------

test('a MeterValues reaches the three subscribers of its charger as a meter event, and not a subscriber of another', { timeout: 20_000 }, async () => {
  const srv = await mainServer();
  const tok = admin();
  const subs = [];
  for (let i = 0; i < 3; i++) subs.push(await uiOpen(srv, { token: tok, charger: 'FAN1' }));
  const other = await uiOpen(srv, { token: tok, charger: 'FAN2' });
  for (const c of [...subs, other]) await c.waitType('snapshot', { what: 'the snapshot' });

  const cp = await srv.connect('FAN1');
  await boot(cp);
  const { transactionId } = await cp.call('StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart: 1000, timestamp: iso() });
  assert.ok(Number.isInteger(transactionId));
  const sent = [
    { energy: 1100, power: 7000, voltage: 229.5, current: 30.4, soc: 41 },
    { energy: 1250.5, power: 7100, voltage: 230.1, current: 30.9, soc: 42 },
    { energy: 1400, power: 6900, voltage: 231, current: 29.87, soc: 43 },
  ];
  for (const s of sent) assert.deepEqual(await cp.call('MeterValues', meterPayload({ transactionId, ...s })), {});

  for (const [k, c] of subs.entries()) {
    const meters = await c.waitCount((e) => e.type === 'meter' && e.charger === 'FAN1', 3, { what: `meter events at subscriber ${k}` });
    assert.equal(meters.length, 3, `subscriber ${k} got exactly 3 meter events`);
    for (const [i, m] of meters.entries()) {
      assert.equal(m.connector, 1);
      assert.equal(m.data.energyWh, sent[i].energy, `energyWh of meter ${i} at subscriber ${k}`);
      assert.equal(m.data.power, sent[i].power);
      assert.equal(m.data.voltage, sent[i].voltage);
      assert.equal(m.data.current, sent[i].current);
      assert.equal(m.data.soc, sent[i].soc);
      assert.equal(m.data.transactionId, transactionId);
      assert.ok(!Number.isNaN(Date.parse(m.ts)), `ts is a date-time: ${m.ts}`);
    }
    // Every event of FAN1 after the snapshot, one seq apart.
    const snap = c.of('FAN1', 'snapshot')[0];
    const evs = c.seqEvents('FAN1');
    assert.equal(evs[0].seq, snap.seq + 1, `first event after the snapshot (seq ${snap.seq}) has seq ${evs[0].seq}`);
    assertConsecutive(evs, `subscriber ${k}`);
  }
  // All three saw the same sequence.
  const seqOf = (c) => c.seqEvents('FAN1').map((e) => `${e.seq}:${e.type}`).join(' ');
  assert.equal(seqOf(subs[1]), seqOf(subs[0]));
  assert.equal(seqOf(subs[2]), seqOf(subs[0]));
  await sleep(300);
  assert.deepEqual(other.events.filter((e) => e.charger === 'FAN1'), [], 'the FAN2 subscriber saw nothing of FAN1');
  assert.deepEqual(other.events.map((e) => e.type), ['hello', 'snapshot']);
  await cp.close();
  for (const c of [...subs, other]) await c.close();
});

test('a whole session arrives in order, and a snapshot at subscribe time equals GET /api/chargers/{id}', { timeout: 20_000 }, async () => {
  const srv = await mainServer();
  const tok = admin();

  // Before the charger ever connected.
  const u = await uiOpen(srv, { token: tok, charger: 'SESS' });
  const snap0 = await u.waitType('snapshot');
  const rest0 = await get(srv, '/api/chargers/SESS', tok);
  assert.equal(rest0.status, 200, rest0.text);
  assert.deepEqual(snap0.data, rest0.json, 'snapshot of a charger that never connected = REST');

  const cp = await srv.connect('SESS');
  assert.equal((await boot(cp)).status, 'Accepted');
  await statusN(cp, 'Available');
  await statusN(cp, 'Preparing');
  const { transactionId, idTagInfo } = await cp.call('StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart: 5000, timestamp: iso() });
  assert.equal(idTagInfo.status, 'Accepted');
  await statusN(cp, 'Charging');
  await cp.call('MeterValues', meterPayload({ transactionId, energy: 5600, soc: 55 }));

  // Mid-session: a new subscriber's snapshot = REST at the same moment.
  const mid = await uiOpen(srv, { token: tok, charger: 'SESS' });
  const snapMid = await mid.waitType('snapshot');
  const restMid = await get(srv, '/api/chargers/SESS', tok);
  assert.deepEqual(snapMid.data, restMid.json, 'mid-session snapshot = REST');
  assert.equal(snapMid.seq, restMid.json.seq, 'the snapshot event carries the snapshot\'s seq');
  const c1 = snapMid.data.connectors.find((k) => k.connectorId === 1);
  assert.equal(c1?.status, 'Charging', JSON.stringify(snapMid.data));
  assert.equal(c1?.transaction?.transactionId, transactionId, JSON.stringify(snapMid.data));
  assert.equal(c1?.meter?.energyWh, 5600, JSON.stringify(snapMid.data));
  assert.equal(snapMid.data.online, true);

  await statusN(cp, 'Finishing');
  await cp.call('StopTransaction', { transactionId, meterStop: 6000, timestamp: iso(), reason: 'Local' });
  await statusN(cp, 'Available');
  await cp.close();

  await u.waitType('charger.offline', { timeout: 5000 });
  const evs = u.seqEvents('SESS');
  const types = evs.map((e) => e.type);
  const want = ['charger.online', 'status', 'status', 'transaction.started', 'status', 'meter', 'energy',
    'cost', 'status', 'transaction.stopped', 'status', 'charger.offline'];
  assert.deepEqual(types, want, `event types in order: ${types.join(', ')}`);
  assertConsecutive(evs, 'session');
  assert.equal(evs[0].seq, snap0.seq + 1);
  const byType = (t) => evs.filter((e) => e.type === t);
  assert.deepEqual(byType('status').map((e) => e.data.status), ['Available', 'Preparing', 'Charging', 'Finishing', 'Available']);
  assert.equal(byType('transaction.started')[0].data.transactionId, transactionId, 'transaction.started names the id the charger got');
  assert.equal(byType('transaction.started')[0].data.meterStart, 5000);
  assert.equal(byType('meter')[0].data.transactionId, transactionId);
  assert.equal(byType('energy')[0].data.transactionId, transactionId);
  assert.equal(byType('energy')[0].data.energyWh, 600);
  const stopped = byType('transaction.stopped')[0];
  assert.equal(stopped.data.transactionId, transactionId);
  assert.equal(stopped.data.meterStop, 6000);
  assert.equal(stopped.data.energyWh, 1000);

  // The mid-session subscriber saw the rest of the same sequence.
  await mid.waitType('charger.offline');
  assert.deepEqual(mid.seqEvents('SESS').map((e) => e.seq), evs.filter((e) => e.seq > snapMid.seq).map((e) => e.seq));

  // After the session: snapshot = REST again.
  const late = await uiOpen(srv, { token: tok, charger: 'SESS' });
  const snapEnd = await late.waitType('snapshot');
  const restEnd = await get(srv, '/api/chargers/SESS', tok);
  assert.deepEqual(snapEnd.data, restEnd.json, 'snapshot after the session = REST');
  assert.equal(snapEnd.data.online, false);
  assert.equal(snapEnd.seq, evs.at(-1).seq);
  for (const c of [u, mid, late]) await c.close();
});

test('resume: since=last replays exactly the missed events, then live ones; since=current replays nothing; no since gives a snapshot', { timeout: 20_000 }, async () => {
  const srv = await mainServer();
  const tok = admin();
  const cp = await srv.connect('RES');
  await boot(cp);
  const u1 = await uiOpen(srv, { token: tok, charger: 'RES' });
  await u1.waitType('snapshot');
  await statusN(cp, 'Available');
  const { transactionId } = await cp.call('StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart: 0, timestamp: iso() });
  await u1.waitType('transaction.started');
  const last = Math.max(...u1.events.filter((e) => e.charger === 'RES').map((e) => e.seq));
  await u1.close();

  // Missed while away: several messages (meter + energy + cost each, a status).
  for (let i = 1; i <= 5; i++) await cp.call('MeterValues', meterPayload({ transactionId, energy: i * 100 }));
  await statusN(cp, 'SuspendedEV');
  const current = (await get(srv, '/api/chargers/RES', tok)).json.seq;
  assert.equal(current, last + 16, `5 MeterValues (meter+energy+cost) and a status after seq ${last}`);

  const u2 = await uiOpen(srv, { token: tok, charger: 'RES', since: last });
  await u2.waitFor((e) => e.charger === 'RES' && e.seq === current, { what: `the replay up to seq ${current}` });
  // then live
  await cp.call('MeterValues', meterPayload({ transactionId, energy: 700 }));
  await u2.waitFor((e) => e.charger === 'RES' && e.seq === current + 3, { what: 'the live events after the replay' });
  await sleep(200);
  const got = u2.events.filter((e) => e.charger === 'RES');
  assert.equal(got.filter((e) => e.type === 'snapshot').length, 0, 'no snapshot when resuming');
  assert.deepEqual(got.map((e) => e.seq), Array.from({ length: current + 3 - last }, (_, i) => last + 1 + i),
    `exactly seq ${last + 1}..${current + 3}, no gap, no duplicate: ${got.map((e) => `${e.seq}:${e.type}`).join(' ')}`);
  assert.deepEqual(got.filter((e) => e.type === 'meter').map((e) => e.data.energyWh), [100, 200, 300, 400, 500, 700]);
  assert.equal(got.find((e) => e.type === 'status')?.data.status, 'SuspendedEV');
  await u2.close();

  // since = the current seq: nothing replayed, no snapshot, live events follow.
  const cur2 = (await get(srv, '/api/chargers/RES', tok)).json.seq;
  const u3 = await uiOpen(srv, { token: tok, charger: 'RES', since: cur2 });
  await sleep(300);
  assert.deepEqual(u3.events.filter((e) => e.charger === 'RES'), [], 'since = current seq: nothing replayed');
  await cp.call('MeterValues', meterPayload({ transactionId, energy: 800 }));
  await u3.waitFor((e) => e.seq === cur2 + 3);
  assert.deepEqual(u3.events.filter((e) => e.charger === 'RES').map((e) => e.seq), [cur2 + 1, cur2 + 2, cur2 + 3]);
  await u3.close();

  // The same through the subscribe op on an open connection.
  const u4 = await uiOpen(srv, { token: tok });
  u4.send({ op: 'subscribe', chargers: ['RES'], since: { RES: cur2 } });
  await u4.waitFor((e) => e.charger === 'RES' && e.seq === cur2 + 3, { what: 'replay through the subscribe op' });
  await sleep(200);
  assert.deepEqual(u4.events.filter((e) => e.charger === 'RES').map((e) => e.seq), [cur2 + 1, cur2 + 2, cur2 + 3]);

  // No since: a snapshot with the current seq.
  const u5 = await uiOpen(srv, { token: tok, charger: 'RES' });
  const snap = await u5.waitType('snapshot');
  assert.equal(snap.seq, cur2 + 3); /* meter, energy and cost of the last MeterValues */
  await sleep(200);
  assert.deepEqual(u5.events.filter((e) => e.charger === 'RES').map((e) => e.type), ['snapshot']);
  await cp.call('StopTransaction', { transactionId, meterStop: 900, timestamp: iso(), reason: 'Local' });
  await u5.waitType('transaction.stopped');
  await u4.waitType('transaction.stopped');
  for (const c of [u4, u5]) await c.close();
  await cp.close();
});

test('resume after more missed events than the soft queue bound (defaults): still exactly the missed events', { timeout: 30_000 }, async () => {
  const srv = await mainServer();
  const tok = admin();
  const cp = await srv.connect('RES', { callConcurrency: 1 });
  const u1 = await uiOpen(srv, { token: tok, charger: 'RES' });
  const snap = await u1.waitType('snapshot');
  const last = snap.seq;
  await u1.close();
  // 400 MeterValues with a transaction: 800 events (~200 kB), more than the
  // default soft bound (64 kB) and less than the hard one (512 kB).
  const { transactionId } = await cp.call('StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart: 0, timestamp: iso() });
  for (let i = 1; i <= 400; i++) await cp.call('MeterValues', meterPayload({ transactionId, energy: i }));
  await cp.call('StopTransaction', { transactionId, meterStop: 401, timestamp: iso(), reason: 'Local' });
  const current = (await get(srv, '/api/chargers/RES', tok)).json.seq;
  const u2 = await uiConnect(srv, { token: tok, charger: 'RES', since: last });
  await Promise.race([u2.waitFor((e) => e.seq === current, { timeout: 10_000, what: `seq ${current}` }), u2.closed]);
  await sleep(200);
  const got = u2.seqEvents('RES');
  const missing = [];
  const seen = new Set(got.map((e) => e.seq));
  for (let q = last + 1; q <= current; q++) if (!seen.has(q)) missing.push(q);
  console.log(`# resume of ${current - last} missed events: ${got.length} replayed, ${missing.length} missing` +
    `${missing.length ? ` (first ${missing.slice(0, 5).join(',')}…)` : ''}, close ${JSON.stringify(u2.closeInfo)}`);
  assert.equal(u2.closeInfo, null, `the resuming client stays open: ${JSON.stringify(u2.closeInfo)}`);
  assert.deepEqual(got.map((e) => e.seq), Array.from({ length: current - last }, (_, i) => last + 1 + i),
    `exactly seq ${last + 1}..${current}: ${got.length} received, ${missing.length} missing (e.g. ${missing.slice(0, 10).join(',')})`);
  await u2.close();
  await cp.close();
});

test('a stalled browser: others get every event promptly, the stalled one coalesces / lags (1013), memory stays bounded, it resumes with since', { timeout: 90_000 }, async () => {
  // Queue bounds small against the ~4 MB a paused loopback socket absorbs;
  // the soft bound is above one group commit's burst (8 calls x 10 events),
  // so a reading client never has a reason to coalesce.
  const SOFT = 65536;
  const HARD = 262144;
  const srv = await start({
    chargers: [{ id: 'STALL' }], tags: [{ tag: 'TAG1' }], env: ENV,
    args: ['--ui-queue-soft', String(SOFT), '--ui-queue-hard', String(HARD), '--ui-max-rate', '100000',
      '--rate-limit', '100000', '--max-inflight', '64', '--log-level', 'info'],
  });
  const tok = admin();
  const healthy = await uiOpen(srv, { token: tok, charger: 'STALL' });
  const stalled = await uiOpen(srv, { token: tok, charger: 'STALL' });
  await healthy.waitType('snapshot');
  await stalled.waitType('snapshot');
  const cp = await srv.connect('STALL', { callConcurrency: 8 });
  await boot(cp);
  let { transactionId } = await cp.call('StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart: 0, timestamp: iso() });
  await stalled.waitType('transaction.started');

  stalled.pause();
  const rss0 = vmRssKb(srv.proc.pid);
  let rssMax = rss0;
  const t0 = Date.now();

  // Phase 1: MeterValues (5 readings each: 10 state events) as fast as the
  // charger may send them, until the stalled client's socket is full and
  // its queue coalesces.
  let energy = 0;
  let meters = 0;
  let coalesced = 0;
  const mv = () => {
    const base = Date.now();
    const p = meterPayload({ transactionId, energy });
    const one = p.meterValue[0];
    p.meterValue = [];
    for (let k = 0; k < 5; k++) {
      energy += 10;
      p.meterValue.push({ timestamp: iso(base + k), sampledValue: one.sampledValue.map((v, i) => (i === 0 ? { ...v, value: String(energy) } : v)) });
    }
    return cp.call('MeterValues', p);
  };
  while (Date.now() - t0 < 40_000) {
    const batch = [];
    for (let i = 0; i < 200; i++) batch.push(mv());
    await Promise.all(batch);
    meters += 200;
    rssMax = Math.max(rssMax, vmRssKb(srv.proc.pid));
    coalesced = await metric(srv, 'flashcharge_ui_coalesced_events');
    if (coalesced > 500) break;
  }
  const tMeters = Date.now() - t0;
  // Phase 2: transaction events, which are never coalesced, until the
  // stalled client passes the hard bound.
  let pairs = 0;
  let lagged = 0;
  while (pairs < 1500 && Date.now() - t0 < 60_000) {
    await cp.call('StopTransaction', { transactionId, meterStop: energy, timestamp: iso(), reason: 'Local' });
    ({ transactionId } = await cp.call('StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart: energy, timestamp: iso() }));
    pairs++;
    if (pairs % 50 === 0) {
      rssMax = Math.max(rssMax, vmRssKb(srv.proc.pid));
      lagged = await metric(srv, 'flashcharge_ui_lagged_total');
      if (lagged > 0) break;
    }
  }
  // The last event: its latency at the healthy client.
  energy += 10;
  const sentAt = Date.now();
  await cp.call('MeterValues', meterPayload({ transactionId, energy, ts: iso() }));
  const finalSeq = (await get(srv, '/api/chargers/STALL', tok)).json.seq;
  const lastEv = await healthy.waitFor((e) => e.seq === finalSeq, { timeout: 10_000, what: `seq ${finalSeq} at the healthy client` });
  const latency = lastEv.at - sentAt;
  rssMax = Math.max(rssMax, vmRssKb(srv.proc.pid));
  console.log(`# stall: ${meters} MeterValues (x5 readings) in ${tMeters} ms, ${pairs} stop/start pairs; ` +
    `coalesced=${coalesced} lagged_total=${lagged}; healthy client: latency of the last event ${latency} ms, ` +
    `${healthy.events.length} events in ${healthy.frames} frames; server RSS ${rss0} kB -> max ${rssMax} kB (+${rssMax - rss0} kB)`);

  // The healthy client: every event, in order, promptly.
  const hev = healthy.seqEvents('STALL');
  const hsnap = healthy.of('STALL', 'snapshot')[0];
  assert.equal(hev[0].seq, hsnap.seq + 1);
  assert.equal(hev.at(-1).seq, finalSeq);
  assertConsecutive(hev, 'healthy client');
  assert.ok(latency < 3000, `healthy client's latency of the last event: ${latency} ms`);
  assert.ok(rssMax - rss0 < 50 * 1024, `server RSS grew by ${rssMax - rss0} kB (bound 50 MB)`);
  assert.ok(coalesced > 0, `the stalled client's state events coalesced (${coalesced})`);
  assert.ok(lagged > 0, `the stalled client passed the hard bound (lagged_total ${lagged})`);

  // Resume the stalled socket: it reads what was buffered, then the lagged
  // event, then a close 1013.
  stalled.resume();
  const ci = await withTimeout(stalled.closed, 20_000, 'the stalled client\'s close');
  const sev = stalled.seqEvents('STALL');
  for (let i = 1; i < sev.length; i++) assert.ok(sev[i].seq > sev[i - 1].seq, `stalled client: seq ${sev[i - 1].seq} then ${sev[i].seq}`);
  const lastSeen = sev.at(-1).seq;
  const lag = stalled.events.find((e) => e.type === 'lagged');
  console.log(`# stall: the stalled client got ${stalled.events.length} events, last seq ${lastSeen} of ${finalSeq}; ` +
    `lagged ${JSON.stringify(lag?.data)}; close ${ci.code}`);
  assert.equal(ci.code, 1013, `close code of the lagged client: ${JSON.stringify(ci)}`);
  assert.ok(lag, 'the lagged event arrived before the close');
  assert.equal(stalled.events.at(-1).type, 'lagged', 'lagged is the last event before the close');
  // The lagged event's since must not claim more than the client received:
  // resuming from it must not skip events.
  assert.ok(lag.data?.since?.STALL <= lastSeen,
    `lagged.data.since.STALL = ${lag.data?.since?.STALL}, but the last event the client received was seq ${lastSeen}: ` +
    `resuming from the server's since would skip ${lag.data?.since?.STALL - lastSeen} events`);
  stalled.terminate();

  // Reconnect with since = the last seq it really received: exactly the rest.
  const back = await uiConnect(srv, { token: tok, charger: 'STALL', since: lastSeen });
  await Promise.race([
    back.waitFor((e) => e.seq === finalSeq, { timeout: 20_000, what: `the replay from ${lastSeen} to ${finalSeq}` }),
    back.closed,
  ]);
  await sleep(300);
  const rev = back.seqEvents('STALL');
  const summary = `${rev.length} events replayed of ${finalSeq - lastSeen} missed; received types ` +
    `${JSON.stringify(back.events.map((e) => e.type).filter((t, i, a) => a.indexOf(t) === i))}, ` +
    `close ${JSON.stringify(back.closeInfo)}`;
  console.log(`# stall: resumed with since=${lastSeen}: ${summary}`);
  assert.equal(back.closeInfo, null, `the client resuming with since=${lastSeen} is still open: ${summary}`);
  assert.equal(back.events[0]?.type, 'hello');
  assert.equal(back.of('STALL', 'snapshot').length, 0);
  assert.equal(rev[0].seq, lastSeen + 1);
  assertConsecutive(rev, 'replay after the stall');
  assert.equal(rev.at(-1).seq, finalSeq);

  await back.close();
  await healthy.close();
  await cp.close();
});

test('resume after a lag: more missed transaction events than --ui-queue-hard still replay (no 1013 loop)', { timeout: 30_000 }, async () => {
  const srv = await start({
    chargers: [{ id: 'LAGR' }], tags: [{ tag: 'TAG1' }], env: ENV,
    args: ['--ui-queue-soft', '4096', '--ui-queue-hard', '65536', '--rate-limit', '100000'],
  });
  const tok = admin();
  const cp = await srv.connect('LAGR');
  await boot(cp);
  const since = (await get(srv, '/api/chargers/LAGR', tok)).json.seq;
  // 150 sessions while the browser is away: 300 transaction events
  // (never coalesced), ~80 kB, more than the hard bound of 64 kB.
  let meter = 0;
  for (let i = 0; i < 150; i++) {
    const { transactionId } = await cp.call('StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart: meter, timestamp: iso() });
    meter += 100;
    await cp.call('StopTransaction', { transactionId, meterStop: meter, timestamp: iso(), reason: 'Local' });
  }
  const current = (await get(srv, '/api/chargers/LAGR', tok)).json.seq;
  const u = await uiConnect(srv, { token: tok, charger: 'LAGR', since });
  await Promise.race([u.waitFor((e) => e.seq === current, { timeout: 10_000, what: `seq ${current}` }), u.closed]);
  await sleep(200);
  const got = u.seqEvents('LAGR');
  const summary = `${got.length} of ${current - since} missed events replayed; types received ` +
    `${JSON.stringify(u.events.map((e) => e.type).filter((t, i, a) => a.indexOf(t) === i))}; close ${JSON.stringify(u.closeInfo)}`;
  console.log(`# resume of ${current - since} transaction events with --ui-queue-hard 65536: ${summary}`);
  assert.equal(u.closeInfo, null, `resuming with since=${since}: ${summary}`);
  assert.equal(u.events[0].type, 'hello');
  assert.deepEqual(got.map((e) => e.seq), Array.from({ length: current - since }, (_, i) => since + 1 + i));
  await u.close();
  await cp.close();
});

test('heartbeat: a client that does not answer pings is closed within ~2-3 intervals; one that does stays; op ping → pong', { timeout: 30_000 }, async () => {
  const srv = await start({ chargers: [{ id: 'HB' }], env: ENV, args: ['--ui-ping-interval', '1'] });
  const tok = admin();
  const normal = await uiOpen(srv, { token: tok, charger: 'HB' });
  const hello = normal.events.find((e) => e.type === 'hello');
  assert.equal(hello.data.heartbeat, 1);
  const mute = await uiOpen(srv, { token: tok, charger: 'HB' });
  await until(async () => (await browsers(srv)) === 2, { what: 'two browsers in /metrics' });
  const t0 = Date.now();
  mute.pause();
  await until(async () => (await browsers(srv)) === 1, { timeout: 8000, interval: 50, what: 'the mute client to be closed' });
  const closedAfter = Date.now() - t0;
  console.log(`# heartbeat: a client not answering pings (interval 1 s) closed ${closedAfter} ms after it stopped reading`);
  assert.ok(closedAfter <= 3500, `closed after ${closedAfter} ms (interval 1 s)`);
  mute.terminate();

  await sleep(4200 - (Date.now() - t0));
  assert.equal(normal.closeInfo, null, 'the answering client is still connected after 4 intervals');
  normal.send({ op: 'ping' });
  const pong = await normal.waitType('pong');
  assert.equal(pong.seq, 0);
  assert.equal(await browsers(srv), 1);
  await normal.close();
});

test('app-level {"op":"ping"} → a pong event; bad ops → error events; the connection stays', { timeout: 10_000 }, async () => {
  const srv = await mainServer();
  const u = await uiOpen(srv, { token: admin() });
  u.send({ op: 'ping' });
  const pong = await u.waitType('pong');
  assert.equal(typeof pong.ts, 'string');
  u.send('not json');
  await u.waitType('error', { what: 'an error for invalid JSON' });
  u.send({ op: 'dance' });
  await u.waitFor((e, i) => e.type === 'error' && /unknown op/.test(e.data?.detail), { what: 'an error for an unknown op' });
  u.send({ op: 'ping' });
  await u.waitFor((e) => e.type === 'pong' && e !== pong, { what: 'a second pong' });
  assert.equal(u.closeInfo, null);
  await u.close();
});

// ---- auth ------------------------------------------------------------------

test('auth: no token → 401 before the upgrade', async () => {
  const srv = await mainServer();
  const r = await uiHandshake(srv, { charger: 'AUTH1' });
  assert.equal(r.status, 401, JSON.stringify(r));
  assert.equal(r.json?.error, 'unauthorized', r.body);
  assert.equal(typeof r.json?.detail, 'string');
  assert.match(String(r.headers?.['www-authenticate']), /^Bearer/);
});

test('auth: bad signature, expired, nbf in the future, alg none, garbage → 401; a good token (query or Bearer) opens', async () => {
  const srv = await mainServer();
  const good = mint(SECRET, { sub: 'v', chargers: ['AUTH1'] });
  const [h, c, s] = good.split('.');
  const flipped = s.slice(0, 5) + (s[5] === 'A' ? 'B' : 'A') + s.slice(6);
  const cases = {
    'bad signature': `${h}.${c}.${flipped}`,
    'signed with another secret': craftJwt({ alg: 'HS256', typ: 'JWT' }, claims(), 'another-secret-0123456789abcdef0123456789'),
    'expired (exp 10 min ago)': craftJwt({ alg: 'HS256', typ: 'JWT' }, claims({ exp: now() - 600, iat: now() - 4000 }), SECRET),
    'nbf 10 min ahead': craftJwt({ alg: 'HS256', typ: 'JWT' }, claims({ nbf: now() + 600 }), SECRET),
    'no exp': craftJwt({ alg: 'HS256', typ: 'JWT' }, (({ exp, ...x }) => x)(claims()), SECRET),
    'alg none': craftJwt({ alg: 'none', typ: 'JWT' }, claims(), null, { sign: false }),
    'alg None with an HS256 signature': craftJwt({ alg: 'None', typ: 'JWT' }, claims(), SECRET),
    'garbage': 'abc.def.ghi',
  };
  for (const [what, token] of Object.entries(cases)) {
    const r = await uiHandshake(srv, { token, charger: 'AUTH1' });
    assert.equal(r.status, 401, `${what}: ${JSON.stringify(r)}`);
    const b = await uiHandshake(srv, { charger: 'AUTH1' }, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(b.status, 401, `${what} as Bearer: ${JSON.stringify(b)}`);
  }
  // A crafted but valid token works (the crafting is right).
  const ok = await uiHandshake(srv, { token: craftJwt({ alg: 'HS256', typ: 'JWT' }, claims(), SECRET) });
  assert.equal(ok.open, true, JSON.stringify(ok));
  const q = await uiHandshake(srv, { token: good, charger: 'AUTH1' });
  assert.equal(q.open, true, JSON.stringify(q));
  const u = await uiOpen(srv, { charger: 'AUTH1' }, { headers: { authorization: `Bearer ${good}` } });
  assert.equal((await u.waitType('snapshot')).charger, 'AUTH1');
  await u.close();
});

test('auth: a token that expires while connected cannot be used for a new connection', { timeout: 15_000 }, async () => {
  const srv = await start({ chargers: [{ id: 'EXP' }], env: ENV, args: ['--jwt-leeway', '0'] });
  const t = craftJwt({ alg: 'HS256', typ: 'JWT' }, claims({ exp: now() + 2 }), SECRET);
  const first = await uiHandshake(srv, { token: t });
  assert.equal(first.open, true, JSON.stringify(first));
  await sleep(3100);
  const r = await uiHandshake(srv, { token: t });
  assert.equal(r.status, 401, JSON.stringify(r));
  assert.match(String(r.json?.detail), /expired/i, r.body);
});

test('auth: --jwt-iss/--jwt-aud refuse a wrong or missing iss/aud', { timeout: 15_000 }, async () => {
  const srv = await start({ env: ENV, args: ['--jwt-iss', 'https://issuer.example', '--jwt-aud', 'flashcharge-ui'] });
  const ok = mint(SECRET, { iss: 'https://issuer.example', aud: 'flashcharge-ui' });
  assert.equal((await uiHandshake(srv, { token: ok })).open, true);
  const arr = craftJwt({ alg: 'HS256', typ: 'JWT' }, claims({ iss: 'https://issuer.example', aud: ['other', 'flashcharge-ui'] }), SECRET);
  assert.equal((await uiHandshake(srv, { token: arr })).open, true, 'aud as an array holding ours');
  const bad = {
    'wrong iss': mint(SECRET, { iss: 'https://evil.example', aud: 'flashcharge-ui' }),
    'wrong aud': mint(SECRET, { iss: 'https://issuer.example', aud: 'other' }),
    'no iss': mint(SECRET, { aud: 'flashcharge-ui' }),
    'no aud': mint(SECRET, { iss: 'https://issuer.example' }),
    'aud array without ours': craftJwt({ alg: 'HS256', typ: 'JWT' }, claims({ iss: 'https://issuer.example', aud: ['a', 'b'] }), SECRET),
  };
  for (const [what, token] of Object.entries(bad)) {
    const r = await uiHandshake(srv, { token });
    assert.equal(r.status, 401, `${what}: ${JSON.stringify(r)}`);
  }
});

test('auth: an RS256 server accepts its RS256 tokens and refuses an HS256 token signed with its public key', { timeout: 15_000 }, async () => {
  const srv = await start((s) => {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    s.pub = publicKey.export({ type: 'spki', format: 'pem' });
    s.pubFile = path.join(s.dir, 'pub.pem');
    s.privFile = path.join(s.dir, 'priv.pem');
    writeFileSync(s.pubFile, s.pub);
    writeFileSync(s.privFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    return { env: { FLASHCHARGE_JWT_SECRET: '' }, args: ['--jwt-alg', 'RS256', '--jwt-public-key', s.pubFile] };
  });
  const good = mint(null, { alg: 'RS256', privateKey: srv.privFile });
  assert.equal(JSON.parse(Buffer.from(good.split('.')[0], 'base64url')).alg, 'RS256');
  assert.equal((await uiHandshake(srv, { token: good })).open, true, 'its own RS256 token opens');
  const confused = craftJwt({ alg: 'HS256', typ: 'JWT' }, claims(), srv.pub);
  const r = await uiHandshake(srv, { token: confused });
  assert.equal(r.status, 401, `HS256 signed with the public key: ${JSON.stringify(r)}`);
  const hs = mint(SECRET, {});
  assert.equal((await uiHandshake(srv, { token: hs })).status, 401, 'an HS256 token of another server');
  const none = craftJwt({ alg: 'none' }, claims(), null, { sign: false });
  assert.equal((await uiHandshake(srv, { token: none })).status, 401, 'alg none');
});

test('auth: subscribing to a charger outside the token → error event and none of its events; "*" sees all', { timeout: 20_000 }, async () => {
  const srv = await mainServer();
  const limited = mint(SECRET, { sub: 'lim', chargers: ['AUTH1'] });
  const u = await uiOpen(srv, { token: limited, charger: ['AUTH1', 'AUTH2'] });
  const err = await u.waitFor((e) => e.type === 'error' && e.charger === 'AUTH2', { what: 'an error for AUTH2' });
  assert.equal(err.data.code, 'forbidden', JSON.stringify(err));
  await u.waitFor((e) => e.type === 'snapshot' && e.charger === 'AUTH1');
  u.send({ op: 'subscribe', chargers: ['AUTH2'] });
  await u.waitCount((e) => e.type === 'error' && e.charger === 'AUTH2', 2, { what: 'a second error for AUTH2' });
  u.send({ op: 'subscribe', chargers: ['*'] });
  const star = await u.waitFor((e) => e.type === 'error' && e.charger === '*', { what: 'an error for *' });
  assert.equal(star.data.code, 'forbidden');
  const hello = u.events.find((e) => e.type === 'hello');
  assert.deepEqual(hello.data.chargers, ['AUTH1']);
  assert.equal(hello.data.role, 'viewer');

  const all = mint(SECRET, { sub: 'all', chargers: '*', role: 'viewer' });
  const v = await uiOpen(srv, { token: all, charger: ['AUTH1', 'AUTH2'] });
  await v.waitCount((e) => e.type === 'snapshot', 2, { what: 'the snapshots of AUTH1 and AUTH2' });
  const w = await uiOpen(srv, { token: all });
  w.send({ op: 'subscribe', chargers: ['*'] });
  await w.waitFor((e) => e.type === 'snapshot' && e.charger === 'AUTH2', { what: 'a snapshot of AUTH2 through "*"' });

  const a1 = await srv.connect('AUTH1');
  const a2 = await srv.connect('AUTH2');
  await statusN(a1, 'Available');
  await statusN(a2, 'Faulted');
  for (const c of [v, w]) {
    await c.waitFor((e) => e.type === 'status' && e.charger === 'AUTH1');
    await c.waitFor((e) => e.type === 'status' && e.charger === 'AUTH2' && e.data.status === 'Faulted');
  }
  await u.waitFor((e) => e.type === 'status' && e.charger === 'AUTH1');
  await sleep(300);
  assert.deepEqual(u.events.filter((e) => e.charger === 'AUTH2' && e.type !== 'error'), [],
    'the limited token saw nothing of AUTH2');
  await a1.close();
  await a2.close();
  for (const c of [u, v, w]) await c.close();
});

test('auth: system.degraded / system.recovered reach admins only', { timeout: 40_000 }, async () => {
  const srv = await start((s) => ({
    chargers: [{ id: 'SYS' }], env: ENV,
    args: ['--fault-file', s.faultFile, '--answer-timeout', '1000', '--store-probe-interval', '200'],
  }));
  const adm = await uiOpen(srv, { token: admin() });
  const op = await uiOpen(srv, { token: mint(SECRET, { sub: 'op', role: 'operator' }), charger: 'SYS' });
  const viewer = await uiOpen(srv, { token: mint(SECRET, { sub: 'vw', role: 'viewer' }) });
  viewer.send({ op: 'subscribe', chargers: ['*'] });
  await viewer.waitType('snapshot');
  const cp = await srv.connect('SYS', { callTimeoutMs: 5000 });
  await boot(cp);

  srv.writeFault('fail');
  await sleep(200);
  await until(async () => {
    await statusN(cp, 'Available').catch(() => {});
    return adm.events.some((e) => e.type === 'system.degraded');
  }, { timeout: 20_000, interval: 200, what: 'system.degraded at the admin' });
  const deg = adm.events.find((e) => e.type === 'system.degraded');
  assert.equal(deg.data.store, 'down');
  srv.clearFault();
  await until(async () => {
    await statusN(cp, 'Available').catch(() => {});
    return adm.events.some((e) => e.type === 'system.recovered');
  }, { timeout: 20_000, interval: 300, what: 'system.recovered at the admin' });
  await sleep(300);
  for (const [who, c] of [['operator', op], ['viewer with *', viewer]]) {
    assert.deepEqual(c.events.filter((e) => e.type.startsWith('system.')), [], `${who} got no system event`);
  }
  await cp.close();
  for (const c of [adm, op, viewer]) await c.close();
});

// ---- connection limits -------------------------------------------------------

test('connection limits: --ui-max-per-ip → 429, --ui-max-per-subject → 429, --ui-max-clients → 503', { timeout: 30_000 }, async () => {
  const perIp = await start({ env: ENV, args: ['--ui-max-per-ip', '2'] });
  const a = await uiOpen(perIp, { token: mint(SECRET, { sub: 'a' }) });
  const b = await uiOpen(perIp, { token: mint(SECRET, { sub: 'b' }) });
  const r = await uiHandshake(perIp, { token: mint(SECRET, { sub: 'c' }) });
  assert.equal(r.status, 429, `third from 127.0.0.1: ${JSON.stringify(r)}`);
  assert.equal(r.json?.error, 'too_many_connections', r.body);
  await a.close();
  await until(async () => (await browsers(perIp)) === 1, { what: 'the closed one to be counted out' });
  const again = await uiHandshake(perIp, { token: mint(SECRET, { sub: 'c' }) });
  assert.equal(again.open, true, `after one closed: ${JSON.stringify(again)}`);
  await b.close();

  const perSub = await start({ env: ENV, args: ['--ui-max-per-subject', '2'] });
  const same = mint(SECRET, { sub: 'same' });
  const s1 = await uiOpen(perSub, { token: same });
  const s2 = await uiOpen(perSub, { token: mint(SECRET, { sub: 'same', role: 'admin' }) });
  const r2 = await uiHandshake(perSub, { token: same });
  assert.equal(r2.status, 429, `third of subject "same": ${JSON.stringify(r2)}`);
  const other = await uiHandshake(perSub, { token: mint(SECRET, { sub: 'other' }) });
  assert.equal(other.open, true, `another subject: ${JSON.stringify(other)}`);
  await s1.close();
  await s2.close();

  const max = await start({ env: ENV, args: ['--ui-max-clients', '2'] });
  const m1 = await uiOpen(max, { token: mint(SECRET, { sub: 'm1' }) });
  const m2 = await uiOpen(max, { token: mint(SECRET, { sub: 'm2' }) });
  const r3 = await uiHandshake(max, { token: mint(SECRET, { sub: 'm3' }) });
  assert.equal(r3.status, 503, `third client overall: ${JSON.stringify(r3)}`);
  // A refused handshake without a token is still 401, not a limit.
  assert.equal((await uiHandshake(max, {})).status, 401);
  await m1.close();
  await m2.close();
});

test('file-descriptor limit: browsers past the budget get 503, chargers and REST still get in, no busy loop', { timeout: 60_000 }, async () => {
  // 300 descriptors: lws holds at most 300 - 64 sockets, and browsers may
  // take half of those (the rest is kept for chargers and REST).
  const srv = await start({ env: ENV, nofile: 300, chargers: [{ id: 'FD1' }], args: ['--log-level', 'info',
    '--ui-max-per-ip', '100000', '--ui-max-per-subject', '100000'] });
  assert.match(srv.stderr, /event=fd_limit_low nofile=300 /);
  assert.match(srv.stderr, /event=ui_max_clients_capped max=118 /);
  const open = [];
  let refused = 0;
  for (let i = 0; i < 160; i++) {
    const r = await uiConnect(srv, { token: mint(SECRET, { sub: `fd${i}` }) }).then((c) => {
      open.push(c);
      return { open: true };
    }, (e) => e);
    if (!r.open) {
      assert.equal(r.status, 503, `browser ${i}: ${r.message}`);
      refused++;
    }
  }
  assert.equal(open.length, 118, `browsers held: ${open.length}, refused ${refused}`);
  assert.equal(refused, 160 - 118);
  // A charger and REST still get in, and the server is idle, not spinning.
  const cp = await srv.connect('FD1');
  await boot(cp);
  assert.equal((await srv.http('/healthz')).status, 200);
  const cpu0 = cpuTicks(srv.proc.pid);
  await sleep(1000);
  const busy = cpuTicks(srv.proc.pid) - cpu0; // clock ticks, 100 a second
  assert.ok(busy < 50, `server used ${busy} ticks of CPU in an idle second`);
  assert.doesNotMatch(srv.stderr, /accept: errno/);
  await cp.close();
  for (const c of open) c.terminate();

  // Bare TCP connections that never speak take the rest of the descriptors:
  // lws stops accepting before the process runs out (no EMFILE spin), and
  // accepts again once they go.
  const socks = [];
  for (let i = 0; i < 300; i++) {
    const sock = net.connect(srv.ocppPort, '127.0.0.1');
    sock.on('error', () => {});
    socks.push(sock);
  }
  await sleep(1500);
  const t0 = cpuTicks(srv.proc.pid);
  await sleep(1000);
  const spun = cpuTicks(srv.proc.pid) - t0;
  assert.ok(spun < 50, `server used ${spun} ticks of CPU in a second with its descriptors taken`);
  assert.doesNotMatch(srv.stderr, /accept: errno/);
  for (const sock of socks) sock.destroy();
  await until(async () => (await srv.http('/healthz').catch(() => ({}))).status === 200,
    { timeout: 15_000, what: 'REST answering again once the bare connections closed' });
  const cp2 = await srv.connect('FD1');
  await boot(cp2);
  await cp2.close();
});

// ---- latency ------------------------------------------------------------------

// Sends n MeterValues one at a time (one outstanding call, as MicroOcpp)
// and returns the latencies charger frame -> browser frame of the meter
// events that arrived.
async function measureLatency(srv, id, n) {
  const u = await uiOpen(srv, { token: admin(), charger: id });
  await u.waitType('snapshot');
  const cp = await srv.connect(id);
  await boot(cp);
  const sentAt = new Map();
  cp.on('message', ({ message, outbound }) => {
    if (!outbound) return;
    const m = JSON.parse(String(message));
    if (m[0] === 2 && m[2] === 'MeterValues') sentAt.set(Number(m[3].meterValue[0].sampledValue[0].value), Date.now());
  });
  for (let i = 1; i <= n; i++) await cp.call('MeterValues', meterPayload({ energy: 100000 + i }));
  await u.waitFor((e) => e.type === 'meter' && e.data.energyWh === 100000 + n, { timeout: 10_000, what: 'the last meter event' });
  const lat = [];
  for (const e of u.of(id, 'meter')) {
    const t = sentAt.get(e.data.energyWh);
    if (t != null) lat.push(e.at - t);
  }
  const frames = u.frames;
  await cp.close();
  await u.close();
  return { ...stats(lat), frames };
}

test('latency from the charger\'s MeterValues frame to the browser\'s meter event (printed)', { timeout: 60_000 }, async () => {
  const N = 300;
  const d = await measureLatency(await mainServer(), 'LAT', N);
  console.log(`# latency charger frame -> browser frame, ${N} MeterValues back to back, --ui-max-rate 200 (default): ` +
    `${d.n}/${N} meter events delivered (rest coalesced by the frame rate limit), median ${d.median} ms, p95 ${d.p95} ms, max ${d.max} ms`);
  // --rate-limit high on both servers: the default (20 calls/s) pauses the
  // charger's socket, which would be measured here as ~50 ms per frame.
  const fast = await start({ chargers: [{ id: 'LAT' }], env: ENV, args: ['--ui-max-rate', '100000', '--rate-limit', '100000'] });
  const f = await measureLatency(fast, 'LAT', N);
  console.log(`# latency charger frame -> browser frame, ${N} MeterValues back to back, --ui-max-rate 100000: ` +
    `${f.n}/${N} delivered, median ${f.median} ms, p95 ${f.p95} ms, max ${f.max} ms`);
  assert.equal(f.n, N, 'without the frame rate limit every meter event arrives');
  assert.ok(d.n > 0);
});
