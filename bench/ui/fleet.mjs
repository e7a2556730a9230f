// The fleet page at scale: how busy Chromium's main thread is while the page
// shows N chargers that each send MeterValues every second.
//
// Starts `flashcharge serve` (temporary database, generated JWT secret,
// unknown chargers accepted, the connection limits raised as bench/run.sh
// does), then the load: by default `flashcharge-sim --count N --interval 1/R`
// (real sessions: statuses, transactions, power and SoC that change with
// every MeterValues, an elapsed time per running session that the page
// redraws every second), or with --load bench `flashcharge-bench --chargers N
// --rate R --ui 0` (MeterValues only, the same power every time: little for
// the page to redraw), or with --load replay a WebSocket server of the
// script's own that the page's /ws is pointed at (sessionStorage fc.wsUrl),
// sending the page what the simulator's load makes the server send (per
// charger and second: meter, energy and cost, and a running session) at
// exactly N × R × 3 events a second, one frame each, whatever the machine's
// load does to the server and the simulator; then headless Chromium (playwright-core, Debian's /usr/bin/chromium, as the
// integration tests use) on the fleet page, signed in with a token for every
// charger. Once every card is on the page and the page has settled, it
// measures a window:
//   - busy %: the main thread's task time over the window (CDP
//     Performance.getMetrics TaskDuration, difference at the window's edges),
//     with the script, layout and style parts of it;
//   - the longest task: from a trace of the window (CDP tracing, the
//     renderer main thread's RunTask events), and the tasks over 50 ms the
//     page's PerformanceObserver('longtask') saw;
//   - the events the page received (window.fcLive, counted in the page).
//
// usage: node bench/ui/fleet.mjs [--build DIR] [--chargers 2000] [--rate 1]
//          [--load sim|bench|replay] [--settle 5] [--window 15] [--web REV|DIR]
//          [--queue-hard BYTES] [--load-timeout 120] [--json FILE] [--smoke]
//   --queue-hard  the server's --ui-queue-hard (16 MiB here, 512 KiB by
//               default): under "*" a page holds one coalesced state per
//               charger while it is behind, about 600 bytes per charger, so
//               with 2,000 chargers the default closes a page (lagged) that
//               falls a third of a second behind, which a starved renderer on
//               a loaded machine does; the run reports how often it was
//               closed (server log: ui_lagged)
//   --web REV   the page as it was at a git revision (git archive of web/),
//               e.g. --web main~1 for a before/after comparison; a directory
//               is used as it is; default: this tree's web/
//   --smoke     a short run (50 chargers, 3 s window) that only checks the
//               script works end to end
// Needs tests/integration's node_modules (npm ci there) and chromium.
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir, loadavg, cpus } from 'node:os';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const CHROMIUM = '/usr/bin/chromium';

const { values: o } = parseArgs({
  options: {
    build: { type: 'string', default: 'build' },
    chargers: { type: 'string', default: '2000' },
    rate: { type: 'string', default: '1' },
    load: { type: 'string', default: 'sim' },
    'queue-hard': { type: 'string', default: String(16 << 20) },
    'load-timeout': { type: 'string', default: '120' },
    settle: { type: 'string', default: '5' },
    window: { type: 'string', default: '15' },
    web: { type: 'string' },
    json: { type: 'string' },
    smoke: { type: 'boolean', default: false },
  },
});
if (o.smoke) Object.assign(o, { chargers: '50', settle: '1', window: '3' });
const N = Number(o.chargers);
const WINDOW = Number(o.window);
const BIN = path.resolve(root, o.build, 'flashcharge');
const BENCH = path.resolve(root, o.build, 'flashcharge-bench');
const SIM = path.resolve(root, o.build, 'flashcharge-sim');
const SIM_TAG = 'FLEETBENCH';
if (!['sim', 'bench', 'replay'].includes(o.load)) { console.error('fleet bench: --load is sim, bench or replay'); process.exit(2); }
for (const f of [BIN, o.load === 'sim' ? SIM : o.load === 'bench' ? BENCH : BIN, CHROMIUM]) {
  if (!existsSync(f)) { console.error(`fleet bench: ${f} not found`); process.exit(2); }
}
const requireIt = createRequire(path.join(root, 'tests/integration/package.json'));
const { chromium } = requireIt('playwright-core');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error('fleet bench:', ...a);

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

let srvLogAll = '';
const tmp = mkdtempSync(path.join(tmpdir(), 'fc-fleet-bench-'));
const children = [];
let browser = null;
let replayServer = null;

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  if (replayServer) await replayServer.close();
  for (const c of children.reverse()) {
    if (c.exitCode == null && c.signalCode == null) {
      c.kill('SIGTERM');
      await new Promise((r) => { c.once('exit', r); setTimeout(r, 5000); });
    }
  }
  rmSync(tmp, { recursive: true, force: true });
}
process.on('SIGINT', () => { cleanup().finally(() => process.exit(130)); });

// The page under test: this tree's web/, a directory, or web/ at a revision.
function webRoot() {
  if (!o.web) return path.join(root, 'web');
  if (existsSync(o.web)) return path.resolve(o.web);
  const dir = path.join(tmp, 'web-rev');
  execFileSync('sh', ['-c', `mkdir -p "${dir}" && git -C "${root}" archive "$REV" web | tar -x -C "${dir}"`],
    { env: { ...process.env, REV: o.web } });
  return path.join(dir, 'web');
}

function cpuTimes() {
  // the whole machine, for the "rest of the machine" context
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { busy: f[0] + f[1] + f[2] + f[5] + f[6] + f[7], all: f.reduce((a, b) => a + b, 0) };
}

// The load until it is stopped: N chargers × rate, no UI clients of its own.
async function startBench(env, ocpp, http) {
  const bench = spawn(BENCH, ['--ocpp-url', `ws://127.0.0.1:${ocpp}/ocpp`, '--ui-url', `ws://127.0.0.1:${http}/ws`,
    '--chargers', String(N), '--rate', o.rate, '--ui', '0', '--warmup', '1', '--duration', '100000', '--drain', '1'],
  { env, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(bench);
  let benchLog = '';
  await new Promise((resolve, reject) => {
    bench.stderr.on('data', (d) => {
      benchLog = (benchLog + d).slice(-4000);
      if (/traffic:/.test(benchLog)) resolve();
    });
    bench.once('exit', (code) => reject(new Error(`flashcharge-bench exited (${code}):\n${benchLog}`)));
  });
}

// N simulated chargers that start sessions at once (an EV waits 1-5 s) and
// send MeterValues every 1/rate s while charging; ready when all are online.
async function startSim(env, ocpp, http, token) {
  const sim = spawn(SIM, ['--count', String(N), '--prefix', 'FLEET', '--interval', String(1 / Number(o.rate)),
    '--speed', '1', '--idle', '1,5', '--tag', SIM_TAG, '--quiet', '--url', `ws://127.0.0.1:${ocpp}/ocpp`],
  { env, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(sim);
  let simLog = '';
  sim.stderr.on('data', (d) => { simLog = (simLog + d).slice(-4000); });
  for (let i = 0; ; i++) {
    await sleep(1000);
    if (sim.exitCode != null) throw new Error(`flashcharge-sim exited (${sim.exitCode}):\n${simLog}`);
    const list = await fetch(`http://127.0.0.1:${http}/api/chargers`, { headers: { authorization: `Bearer ${token}` } })
      .then((r) => r.json()).catch(() => []);
    const online = list.filter((c) => c.online).length;
    if (online >= N) break;
    if (i > 300) throw new Error(`${online}/${N} simulated chargers online after 300 s:\n${simLog}`);
  }
}

// --load replay: a /ws of our own. On the page's subscribe, a snapshot of
// each of N chargers (one connector, charging, a session running), then for
// each charger R times a second a meter (power and SoC that change), an
// energy and a cost event, spread evenly over the second.
async function startReplay() {
  const { WebSocketServer } = requireIt('ws');
  const port = await freePort();
  const wss = new WebSocketServer({ host: '127.0.0.1', port });
  const ids = Array.from({ length: N }, (_, i) => `FLEET${String(i).padStart(5, '0')}`);
  const started = new Date(Date.now() - 60000).toISOString();
  const seq = new Array(N).fill(1);
  const tick = new Array(N).fill(0);
  wss.on('connection', (ws) => {
    ws.send(JSON.stringify({ type: 'hello', seq: 0, ts: new Date().toISOString(),
      data: { sub: 'fleet-bench', role: 'viewer', chargers: '*', heartbeat: 30 } }));
    ws.on('message', (m) => {
      let msg;
      try { msg = JSON.parse(String(m)); } catch { return; }
      if (msg.op !== 'subscribe') return;
      for (let i = 0; i < N; i += 100) {
        ws.send(JSON.stringify(ids.slice(i, i + 100).map((id, k) => ({ type: 'snapshot', charger: id, seq: seq[i + k],
          ts: new Date().toISOString(), data: { id, online: true, seq: seq[i + k], lastSeen: started, connectors: [{
            connectorId: 1, status: 'Charging', errorCode: 'NoError', statusAt: started,
            meter: { power: 7000, soc: 40, energyWh: 0, ts: started },
            transaction: { transactionId: i + k + 1, idTag: 'TAG***', startedAt: started, meterStart: 0, energyWh: 0 } }] } }))));
      }
      const t0 = Date.now();
      let sent = 0;
      const timer = setInterval(() => {
        if (ws.readyState !== ws.OPEN) { clearInterval(timer); return; }
        const due = Math.floor(((Date.now() - t0) / 1000) * N * Number(o.rate));
        for (; sent < due; sent++) {
          const i = sent % N;
          const n = ++tick[i];
          const ts = new Date().toISOString();
          const tx = i + 1;
          const wh = n * 2;
          const ev = (type, data) => JSON.stringify({ type, charger: ids[i], connector: 1, seq: ++seq[i], ts, data });
          ws.send(ev('meter', { transactionId: tx, energyWh: wh, power: 7000 + ((n * 37 + i) % 500), soc: 40 + (n % 60),
            voltage: 230, current: 30.4, timestamp: ts }));
          ws.send(ev('energy', { transactionId: tx, energyWh: wh, meterWh: wh }));
          ws.send(ev('cost', { transactionId: tx, energyWh: wh, minutes: Math.floor(n / 60), cost: wh * 0.0003, currency: 'EUR' }));
        }
      }, 10);
      ws.on('close', () => clearInterval(timer));
    });
  });
  return { url: `ws://127.0.0.1:${port}/ws`, close: () => new Promise((r) => {
    for (const c of wss.clients) c.terminate();
    wss.close(r);
  }) };
}

async function main() {
  const secret = randomBytes(32).toString('base64');
  const env = { ...process.env, FLASHCHARGE_JWT_SECRET: secret };
  const db = path.join(tmp, 'bench.db');
  const ocpp = await freePort();
  const http = await freePort();
  const web = webRoot();
  const load0 = loadavg()[0];
  if (o.load === 'sim') execFileSync(BIN, ['tag', 'add', SIM_TAG, '--db', db], { env, stdio: 'ignore' });

  const srv = spawn(BIN, ['serve', '--db', db, '--bind', '127.0.0.1', '--ocpp-port', String(ocpp),
    '--http-port', String(http), '--unknown-chargers', 'accept', '--log-level', 'warn',
    '--rate-limit', '1000', '--ui-max-clients', '200000', '--ui-max-per-ip', '200000',
    '--ui-max-per-subject', '200000', '--unknown-max', '200000', '--unknown-rate', '100000000',
    '--handshake-max-per-ip', '200000', '--handshake-rate', '100000000', '--handshake-burst', '200000',
    '--ui-queue-hard', o['queue-hard'], '--web-root', web],
  { env, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(srv);
  let srvLog = '';
  srv.stderr.on('data', (d) => { srvLog = (srvLog + d).slice(-4000); srvLogAll += d; });
  for (let i = 0; ; i++) {
    const ok = await new Promise((r) => {
      const s = net.connect(http, '127.0.0.1', () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (ok) break;
    if (i > 100 || srv.exitCode != null) throw new Error(`the server did not start:\n${srvLog}`);
    await sleep(100);
  }

  const token = execFileSync(BIN, ['token', '--sub', 'fleet-bench', '--chargers', '*', '--role', 'viewer', '--ttl', '1h'],
    { env }).toString().trim();
  let replay = null;
  if (o.load === 'sim') await startSim(env, ocpp, http, token);
  else if (o.load === 'bench') await startBench(env, ocpp, http);
  else replay = replayServer = await startReplay();
  log(`${N} chargers connected (${o.load}), sending ${o.rate}/s each`);

  const session = JSON.stringify({ token, expiresAt: new Date(Date.now() + 3600e3).toISOString(), role: 'viewer', sub: 'fleet-bench' });

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // replay: the page's content security policy allows /ws on its own port
  // only; ours is another
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: !!replay });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.addInitScript(([s, wsUrl]) => {
    sessionStorage.setItem('fc.session', s);
    if (wsUrl) sessionStorage.setItem('fc.wsUrl', wsUrl);
    window.fcLongTasks = [];
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) window.fcLongTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  }, [session, replay?.url]);
  const t0 = Date.now();
  await page.goto(`http://127.0.0.1:${http}/#/`);
  // the window starts once every card is shown, or after --load-timeout
  // seconds whatever the page shows (the page before this change never got
  // there: it is measured as it is, and the run says how many cards it had)
  const all = await page.waitForFunction((n) => window.fcLive && window.fcLive.state === 'live' &&
    document.querySelectorAll('[data-charger]').length >= n, N, { timeout: Number(o['load-timeout']) * 1000, polling: 1000 })
    .then(() => true, () => false);
  await page.waitForFunction(() => window.fcLive, null, { timeout: 60000 });
  const loadS = (Date.now() - t0) / 1000;
  log(all ? `every card on the page after ${loadS.toFixed(1)} s; settling ${o.settle} s`
    : `not every card on the page after ${loadS.toFixed(1)} s (${await page.evaluate(() => document.querySelectorAll('[data-charger]').length)}); measuring anyway`);
  // count what the page receives (the events the live connection emits)
  await page.evaluate(() => {
    window.fcEvents = 0;
    window.fcLive.subscribe((m) => { if (m.kind === 'charger' && m.event) window.fcEvents++; });
  });
  await sleep(Number(o.settle) * 1000);

  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Performance.enable'); // task durations in wall time: a task that waits for the CPU counts
  const metrics = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));

  // the trace of the window, for the longest task of the main thread
  const traceEvents = [];
  cdp.on('Tracing.dataCollected', (e) => traceEvents.push(...e.value));
  const traced = new Promise((r) => cdp.once('Tracing.tracingComplete', r));
  await cdp.send('Tracing.start', {
    traceConfig: { includedCategories: ['disabled-by-default-devtools.timeline', 'devtools.timeline', '__metadata'] },
    transferMode: 'ReportEvents',
  });

  const m0 = await metrics();
  const seqs = () => { let n = 0; for (const c of window.fcLive.chargers.values()) n += c.streamSeq; return n; };
  const p0 = await page.evaluate((f) => ({ now: performance.now(), events: window.fcEvents, seqs: eval(f)(), state: window.fcLive.state }), `(${seqs})`);
  const c0 = cpuTimes();
  const w0 = Date.now();
  await sleep(WINDOW * 1000);
  const m1 = await metrics();
  const p1 = await page.evaluate((f) => ({ now: performance.now(), events: window.fcEvents, seqs: eval(f)(), state: window.fcLive.state,
    cards: document.querySelectorAll('[data-charger]').length }), `(${seqs})`);
  log('page', JSON.stringify({ p0, p1 }));
  if (p1.state !== 'live' || p0.state !== 'live') log(`the page was not live; the server's log ends:\n${srvLog}`);
  const c1 = cpuTimes();
  const wall = (Date.now() - w0) / 1000;
  await cdp.send('Tracing.end');
  await traced;

  const long = await page.evaluate(([a, b]) => window.fcLongTasks.filter((t) => t.start >= a && t.start < b), [p0.now, p1.now]);
  // the renderer's main thread: the thread named CrRendererMain of the
  // process that ran the page's tasks
  const mains = new Set(traceEvents.filter((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain')
    .map((e) => `${e.pid}:${e.tid}`));
  const tasks = traceEvents.filter((e) => e.name === 'RunTask' && e.ph === 'X' && mains.has(`${e.pid}:${e.tid}`));
  const byThread = new Map();
  for (const t of tasks) {
    const k = `${t.pid}:${t.tid}`;
    byThread.set(k, (byThread.get(k) || 0) + t.dur);
  }
  const busiest = [...byThread.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const pageTasks = tasks.filter((t) => `${t.pid}:${t.tid}` === busiest);
  const longest = pageTasks.reduce((m, t) => Math.max(m, t.dur / 1000), 0);
  if (process.env.FLEET_BENCH_DEBUG) {
    // where the window's time went: the events of the page's main thread by
    // name, their CPU time summed (nested events count in each of theirs)
    const byName = new Map();
    for (const e of traceEvents) {
      if (e.ph !== 'X' || e.name === 'RunTask' || `${e.pid}:${e.tid}` !== busiest) continue;
      byName.set(e.name, (byName.get(e.name) || 0) + (e.tdur ?? e.dur) / 1000);
    }
    log('window by event, CPU ms:', JSON.stringify([...byName].sort((a, b) => b[1] - a[1]).slice(0, 14)
      .map(([k, v]) => `${k} ${v.toFixed(0)}`)));
    // what the longest tasks were made of: the events inside them, by time
    for (const t of [...pageTasks].sort((a, b) => b.dur - a.dur).slice(0, 3)) {
      const inner = new Map();
      for (const e of traceEvents) {
        if (e.ph !== 'X' || e.pid !== t.pid || e.tid !== t.tid || e === t) continue;
        if (e.ts < t.ts || e.ts + e.dur > t.ts + t.dur) continue;
        inner.set(e.name, (inner.get(e.name) || 0) + e.dur / 1000);
      }
      log(`task ${(t.dur / 1000).toFixed(1)} ms:`, JSON.stringify([...inner].sort((a, b) => b[1] - a[1]).slice(0, 8)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)), `thread ${t.tdur ? (t.tdur / 1000).toFixed(1) : '?'} ms`);
    }
  }
  const over50 = pageTasks.filter((t) => t.dur > 50000).length;
  // the same in the thread's own CPU time: on a busy machine a task's wall
  // time includes the time its thread waited for a core
  const cpuSum = pageTasks.reduce((m, t) => m + (t.tdur ?? t.dur), 0) / 1e6;
  const longestCpu = pageTasks.reduce((m, t) => Math.max(m, (t.tdur ?? t.dur) / 1000), 0);
  const over50Cpu = pageTasks.filter((t) => (t.tdur ?? t.dur) > 50000).length;

  const d = (k) => (m1[k] ?? 0) - (m0[k] ?? 0);
  const pct = (s) => Math.round((1000 * s) / wall) / 10;
  const result = {
    date: new Date().toISOString(),
    web: o.web ?? 'this tree',
    chargers: N,
    rate: Number(o.rate),
    load: o.load,
    window_s: Math.round(wall * 10) / 10,
    page_load_s: all ? Math.round(loadS * 10) / 10 : null,
    events_per_s: Math.round((p1.events - p0.events) / wall),
    cards: p1.cards,
    main_thread_busy_pct: pct(d('TaskDuration')),
    main_thread_cpu_pct: pct(cpuSum),
    script_pct: pct(d('ScriptDuration')),
    layout_pct: pct(d('LayoutDuration')),
    style_pct: pct(d('RecalcStyleDuration')),
    longest_task_ms: Math.round(longest * 10) / 10,
    tasks_over_50ms_trace: over50,
    longest_task_cpu_ms: Math.round(longestCpu * 10) / 10,
    tasks_over_50ms_cpu: over50Cpu,
    longtasks_observed: long.length,
    longest_longtask_ms: Math.round(long.reduce((m, t) => Math.max(m, t.duration), 0)),
    machine: {
      cpus: cpus().length,
      loadavg_1m_before: load0,
      busy_pct_of_machine: Math.round((1000 * (c1.busy - c0.busy)) / (c1.all - c0.all)) / 10,
    },
    page_errors: errors,
    lagged: (srvLogAll.match(/event=ui_lagged/g) || []).length,
    page_state: [p0.state, p1.state],
  };
  console.log(JSON.stringify(result, null, 2));
  if (o.json) writeFileSync(o.json, JSON.stringify(result, null, 2) + '\n');
  log(`${result.web}: ${N} chargers × ${o.rate}/s (${o.load}), ${result.events_per_s} events/s received; main thread busy ` +
    `${result.main_thread_busy_pct} % of wall time (script ${result.script_pct}, layout ${result.layout_pct}, style ` +
    `${result.style_pct}), ${result.main_thread_cpu_pct} % in CPU time; longest task ${result.longest_task_ms} ms ` +
    `wall, ${result.longest_task_cpu_ms} ms CPU; over 50 ms: ${over50} wall (longtask observer: ${long.length}), ` +
    `${over50Cpu} CPU; machine ${result.machine.busy_pct_of_machine} % busy, load ${load0.toFixed(1)} before`);
  if (o.smoke && (p1.cards < N || errors.length || !(result.events_per_s > 0))) {
    throw new Error(`smoke run not clean: ${p1.cards}/${N} cards, ${result.events_per_s} events/s, errors ${errors}`);
  }
}

main().then(cleanup, async (e) => {
  console.error('fleet bench:', e.message);
  await cleanup();
  process.exit(1);
});
