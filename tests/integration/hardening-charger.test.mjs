// What one charger (or anyone with a chargeBoxId) can make the server spend,
// and the bounds on it: the rate limit follows the charger id across
// reconnects; the frame log has a byte budget per charger and stores refused
// frames compactly; chargers that are not in the registry (pending / accept)
// are limited in number and in rate; below a free-space watermark the frame
// log stops and the admins are told, and below a lower one the store refuses
// writes rather than confirm what it might not commit.
//
// Every bound is checked as a ceiling that a slower machine only makes easier
// to meet (counts against the time that really went by), never as a speed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, until, sleep, handshake } from './lib/server.mjs';
import { mint, uiOpen, boot, statusN } from './lib/ui.mjs';

const SECRET = 'hardening-charger-secret-0123456789abcdef';
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

async function metrics(srv) {
  const r = await srv.http('/metrics');
  assert.equal(r.status, 200);
  const out = {};
  for (const line of r.text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out[line.slice(0, sp)] = Number(line.slice(sp + 1));
  }
  return out;
}

const logLines = (srv, event) => srv.stderr.split('\n').filter((l) => l.includes(`event=${event} `) || l.endsWith(`event=${event}`));

// ---- the rate limit belongs to the charger id --------------------------------

test('rate limit: reconnecting does not refill the bucket (per charger id, not per connection)', { timeout: 60_000 }, async () => {
  const RATE = 5;
  const srv = await start({ chargers: [{ id: 'CP-RL' }], args: ['--rate-limit', String(RATE), '--rate-burst', String(2 * RATE)] });
  let answered = 0;
  const t0 = Date.now();
  for (let cycle = 0; cycle < 8; cycle++) {
    const c = await srv.raw('CP-RL');
    const ids = Array.from({ length: 3 * RATE }, (_, i) => `c${cycle}-${i}`);
    for (const id of ids) c.send([2, id, 'Heartbeat', {}]);
    // take what comes within a short while, then hang up and start over
    const got = await Promise.all(ids.map((id) => c.answer(id, 400).then(() => 1, () => 0)));
    answered += got.reduce((a, b) => a + b, 0);
    c.terminate();
    await c.closed;
  }
  const elapsed = (Date.now() - t0) / 1000;
  // One bucket for the id: its burst (--rate-burst 2 × rate) once, then the rate.
  const ceiling = 2 * RATE + RATE * elapsed + 2;
  assert.ok(answered <= ceiling,
    `${answered} heartbeats answered in ${elapsed.toFixed(1)} s over 8 reconnects; one bucket allows ${ceiling.toFixed(0)}`);
  const m = await metrics(srv);
  assert.ok(m.flashcharge_ocpp_throttled_total > 0, 'throttling is counted');
  // logged once per charger per interval, not once per pause
  assert.ok(logLines(srv, 'rate_limited').length <= 2, srv.tail());
});

// ---- the frame log's byte budget ---------------------------------------------

test('frame log: past the per-charger byte budget frames are stored as head + length; counted', { timeout: 60_000 }, async () => {
  const srv = await start({ chargers: [{ id: 'CP-BIG' }] });
  const cp = await srv.raw('CP-BIG');
  const BIG = 60_000;
  const N = 12; // 720 KB offered against the default budget (256 KiB a minute)
  for (let i = 0; i < N; i++) {
    const m = await cp.call('DataTransfer', { vendorId: 'SomeVendor', data: 'x'.repeat(BIG) }, { id: `big-${i}`, timeout: 10_000 });
    assert.equal(m[0], 3, JSON.stringify(m).slice(0, 200));
  }
  await until(() => srv.sql("SELECT count(*) AS n FROM frames WHERE charger_id = 'CP-BIG' AND direction = 'in'")[0].n >= N,
    { what: 'every frame to be logged, whole or truncated' });
  const [{ bytes }] = srv.sql("SELECT sum(length(text)) AS bytes FROM frames WHERE charger_id = 'CP-BIG'");
  assert.ok(bytes <= 2 * 262144 + 4096, `${bytes} bytes of frames stored for one charger in a minute`);
  const trunc = srv.sql("SELECT text FROM frames WHERE charger_id = 'CP-BIG' AND text LIKE '%truncated%'");
  assert.ok(trunc.length >= 1, 'frames past the budget are kept as their head');
  for (const { text } of trunc) {
    assert.ok(text.length < 512, `a truncated frame is short (${text.length})`);
    assert.match(text, /^\[2,"big-\d+","DataTransfer"/, 'the head of the frame is kept');
    assert.match(text, /truncated, \d+ bytes/, 'with its length');
  }
  const m = await metrics(srv);
  assert.ok(m['flashcharge_frame_log_frames_total{result="truncated"}'] >= 1, JSON.stringify(m));
  assert.equal(m.flashcharge_frame_log_budget_bytes, 262144);
  assert.ok(logLines(srv, 'frame_log_budget').length <= 1, 'logged once for the charger in the interval');
});

// ---- unknown chargers ------------------------------------------------------------

test('pending: an unknown charger\'s refused frames are logged compactly', { timeout: 30_000 }, async () => {
  const srv = await start({ args: ['--unknown-chargers', 'pending'] });
  const cp = await srv.raw('CP-PEND');
  for (let i = 0; i < 4; i++) {
    const m = await cp.call('DataTransfer', { vendorId: 'V', data: 'y'.repeat(60_000) }, { id: `p-${i}` });
    assert.deepEqual(m.slice(0, 3), [4, `p-${i}`, 'SecurityError']);
  }
  await until(() => srv.sql("SELECT count(*) AS n FROM frames WHERE charger_id = 'CP-PEND'")[0].n >= 8,
    { what: 'the refused frames and their answers in the log' });
  const [{ bytes }] = srv.sql("SELECT sum(length(text)) AS bytes FROM frames WHERE charger_id = 'CP-PEND'");
  assert.ok(bytes < 8 * 600, `${bytes} bytes logged for 4 refused 60 KB frames`);

  // the head kept of a refused frame is masked like any frame: no secret in it
  const secret = 'S3CRET-' + 'k'.repeat(300);
  const m = await cp.call('ChangeConfiguration', { key: 'AuthorizationKey', value: secret }, { id: 'sec-1' });
  assert.equal(m[0], 4);
  await until(() => srv.sql("SELECT count(*) AS n FROM frames WHERE charger_id = 'CP-PEND' AND text LIKE '%sec-1%' AND direction = 'in'")[0].n === 1,
    { what: 'the refused ChangeConfiguration in the log' });
  const [{ text }] = srv.sql("SELECT text FROM frames WHERE charger_id = 'CP-PEND' AND text LIKE '%sec-1%' AND direction = 'in'");
  assert.ok(!text.includes('S3CRET'), `the secret was logged: ${text}`);
});

test('pending: unknown chargers are limited in number (503) and in rate (429), logged once per interval', { timeout: 90_000 }, async () => {
  const srv = await start({ chargers: [{ id: 'CP-KNOWN' }], args: ['--unknown-chargers', 'pending'] });
  // in number: 100 at once by default
  const open = [];
  for (let i = 0; i < 100; i++) open.push(await srv.raw(`UNK-${i}`));
  const over = await handshake(srv.ocppUrl('UNK-100'));
  assert.equal(over.status, 503, `the 101st unknown charger at once: ${JSON.stringify(over)}`);
  // a registered charger is not affected
  const known = await srv.raw('CP-KNOWN');
  assert.equal((await known.call('Heartbeat'))[0], 3);
  open[0].terminate();
  await open[0].closed;
  await until(async () => (await handshake(srv.ocppUrl('UNK-100'))).open === true,
    { what: 'a place freed by a closed unknown charger' });
  for (const c of open) c.terminate();

  // in rate: 120 a minute by default (101 used above, + 1 for the retry
  // above); new ones until one is refused, however slowly they come
  const t0 = Date.now();
  let admitted = 102;
  let refused = 0;
  for (let i = 0; i < 400 && !refused; i++) {
    const r = await handshake(srv.ocppUrl(`RATE-${i}`));
    if (r.open) admitted++;
    else {
      assert.equal(r.status, 429, JSON.stringify(r));
      refused++;
    }
  }
  const minutes = (Date.now() - t0) / 60_000 + 0.5; // the first loop's time too, generously
  assert.ok(refused > 0, 'some unknown connections were refused by rate');
  assert.ok(admitted <= 120 + 120 * minutes + 1, `${admitted} unknown connections admitted`);
  const m = await metrics(srv);
  assert.ok(m['flashcharge_ocpp_unknown_refused_total{reason="max"}'] >= 1, JSON.stringify(m));
  assert.ok(m['flashcharge_ocpp_unknown_refused_total{reason="rate"}'] >= 1, JSON.stringify(m));
  assert.ok(logLines(srv, 'unknown_refused').length <= 3,
    `refusals logged once per interval:\n${logLines(srv, 'unknown_refused').join('\n')}`);
});

// ---- the disk watermark -------------------------------------------------------

test('disk watermark: below it the frame log stops and admins get system.degraded; lower, writes are refused; recovered', { timeout: 90_000 }, async () => {
  const srv = await start((s) => ({
    chargers: [{ id: 'CP-DISK' }], env: ENV,
    args: ['--fault-file', s.faultFile],
  }));
  const adm = await uiOpen(srv, { token: mint(SECRET, { sub: 'adm', role: 'admin' }) });
  const cp = await srv.connect('CP-DISK');
  await boot(cp);
  await statusN(cp, 'Available');
  const frames = () => srv.sql("SELECT count(*) AS n FROM frames WHERE charger_id = 'CP-DISK'")[0].n;
  await until(() => frames() >= 4, { what: 'the first frames' });

  // 512 MiB free: below the frame log's watermark (1 GiB), above the store's (128 MiB)
  srv.writeFault('free 536870912\n');
  const deg = await adm.waitFor((e) => e.type === 'system.degraded', { timeout: 20_000, what: 'system.degraded' });
  assert.equal(deg.data.reason, 'disk');
  assert.equal(deg.data.disk, 'low');
  assert.equal(deg.data.freeBytes, 536870912);
  // committed and answered as before; its commit also takes whatever frames
  // were queued before the watermark was crossed (writes commit in order)
  await statusN(cp, 'Preparing');
  const before = frames();
  await cp.call('Heartbeat', {});
  await statusN(cp, 'Preparing');
  await sleep(500);
  assert.equal(frames(), before, 'no frame logged below the watermark');
  let m = await metrics(srv);
  assert.ok(m['flashcharge_frame_log_frames_total{result="dropped_disk"}'] >= 2, JSON.stringify(m));
  assert.equal(m.flashcharge_disk_free_bytes, 536870912);
  assert.equal(m.flashcharge_disk_state, 1);
  assert.equal((await srv.http('/healthz')).status, 200);

  // 1 MB free: the store refuses writes; nothing is confirmed
  srv.writeFault('free 1000000\n');
  await until(async () => (await srv.http('/healthz')).status === 503, { timeout: 20_000, what: '/healthz 503' });
  const hz = await srv.http('/healthz');
  assert.equal(hz.json.disk, 'critical');
  await assert.rejects(statusN(cp, 'Charging'), (e) => e.rpcErrorCode === 'InternalError');
  assert.ok((await cp.call('Heartbeat', {})).currentTime, 'heartbeats are still answered');
  const crit = await adm.waitFor((e) => e.type === 'system.degraded' && e.data.disk === 'critical',
    { timeout: 5000, what: 'system.degraded critical' });
  assert.equal(crit.data.reason, 'disk');
  m = await metrics(srv);
  assert.equal(m.flashcharge_disk_state, 2);

  srv.writeFault('free 10000000000000\n'); // 10 TB: above both, whatever this disk has
  const rec = await adm.waitFor((e) => e.type === 'system.recovered', { timeout: 20_000, what: 'system.recovered' });
  assert.equal(rec.data.disk, 'ok');
  await statusN(cp, 'Charging');
  await until(() => frames() > before, { what: 'frames logged again' });
  assert.equal((await srv.http('/healthz')).status, 200);
  assert.ok(logLines(srv, 'disk_low').length <= 2, 'each change logged once');
  await cp.close();
  await adm.close();
});

test('every server exits 0 on SIGTERM', async () => {
  for (const s of servers) {
    if (!s.alive) continue;
    assert.deepEqual(await s.stop(), { code: 0, signal: null }, s.tail());
  }
});
