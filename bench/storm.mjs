// The restart storm: N chargers connected to a server that is killed
// (kill -9) and started again; every charger then reconnects at once and
// flushes an offline queue of Q messages, the way MicroOcpp does (one call
// at a time, each as soon as the previous one is answered).
//
// Measured from the restarted server's listening line: the time until every
// charger is connected and booted, the time until every queue is flushed,
// the handshakes answered 503 (charger-handshake-rate) and the other
// failures, the chargers that never got in (refused for good: none may be),
// the server's peak memory (VmHWM) and CPU time.
//
// Each charger honours Retry-After on a 503, and retries any other failure
// after --retry-ms (MicroOcpp reconnects every ~10 s; less here, so that
// the server, not the waiting, is measured).
//
// usage: node bench/storm.mjs [--build DIR] [--chargers 2000] [--queue 100]
//        [--timeout 600] [--json FILE] [-- extra serve options]
// Needs tests/integration's node_modules (npm ci there).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir, loadavg, cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const WebSocket = createRequire(path.join(root, 'tests/integration/package.json'))('ws');

const { values: o, positionals: extra } = parseArgs({
  allowPositionals: true,
  options: {
    build: { type: 'string', default: 'build' },
    chargers: { type: 'string', default: '2000' },
    queue: { type: 'string', default: '100' },
    timeout: { type: 'string', default: '600' },
    'retry-ms': { type: 'string', default: '1000' },
    sources: { type: 'string', default: '16' },
    json: { type: 'string' },
  },
});
const N = Number(o.chargers);
const Q = Number(o.queue);
const SOURCES = Number(o.sources);
const BIN = path.resolve(root, o.build, 'flashcharge');
if (!existsSync(BIN)) throw new Error(`no ${BIN}: build first`);
const dir = mkdtempSync(path.join(tmpdir(), 'fc-storm-'));
const db = path.join(dir, 'storm.db');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ids = Array.from({ length: N }, (_, i) => `STORM${String(i).padStart(5, '0')}`);

let server = null;
function startServer(n) {
  // As bench/run.sh: only the per-address connection limits are raised (the
  // chargers all come from a few local addresses); the per-charger bucket and
  // the global handshake rate are the defaults under test.
  const args = ['serve', '--db', db, '--bind', '127.0.0.1', '--ocpp-port', '0', '--http-port', '0',
    '--unknown-chargers', 'accept', '--unknown-max', '1000000', '--unknown-rate', '100000000',
    '--handshake-max-per-ip', '200000', '--handshake-rate', '100000000', '--handshake-burst', '200000',
    '--log-level', 'notice', ...extra];
  const proc = spawn(BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const ready = new Promise((resolve, reject) => {
    let ocpp;
    let http;
    proc.stderr.on('data', (d) => {
      log += d;
      for (const m of String(d).matchAll(/event=listening kind=(\w+) port=(\d+)/g)) {
        if (m[1] === 'ocpp') ocpp = Number(m[2]);
        else http = Number(m[2]);
        if (ocpp && http) resolve({ ocpp, http });
      }
    });
    proc.on('exit', (c, s) => reject(new Error(`server ${n} exited (${c} ${s})\n${log.slice(-2000)}`)));
  });
  server = { proc, ready, log: () => log, exited: new Promise((r) => proc.on('exit', r)) };
  return ready;
}

function status(pid) {
  const t = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number((t.match(new RegExp(`${k}:\\s+(\\d+)`)) ?? [])[1] ?? 0);
  const st = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { hwmKiB: kb('VmHWM'), rssKiB: kb('VmRSS'), cpuS: (Number(st[11]) + Number(st[12])) / 100 };
}

// One charger: connect (honouring 503 Retry-After), boot, flush its queue.
class Charger {
  constructor(id, i, port) {
    this.id = id;
    this.url = `ws://127.0.0.1:${port}/ocpp/${id}`;
    this.local = SOURCES ? `127.0.0.${2 + (i % SOURCES)}` : undefined;
    this.refused503 = 0;
    this.failures = 0;
    this.n = 0;
  }

  open() {
    return new Promise((resolve) => {
      const ws = new WebSocket(this.url, ['ocpp1.6'], { handshakeTimeout: 30_000, localAddress: this.local });
      ws.once('unexpected-response', (req, res) => {
        res.resume();
        ws.terminate();
        resolve({ status: res.statusCode, retry: Number(res.headers['retry-after'] ?? 0) });
      });
      ws.once('error', (e) => resolve({ error: e.message }));
      ws.once('open', () => resolve({ ws }));
    });
  }

  async connect(deadline) {
    for (;;) {
      if (Date.now() > deadline) return false;
      const r = await this.open();
      if (r.ws) {
        this.ws = r.ws;
        this.pending = new Map();
        this.ws.on('message', (d) => {
          const m = JSON.parse(String(d));
          const p = this.pending.get(m[1]);
          if (p) { this.pending.delete(m[1]); p(m); }
        });
        this.ws.on('close', () => { for (const p of this.pending.values()) p(null); this.pending.clear(); });
        return true;
      }
      if (r.status === 503) {
        this.refused503++;
        await sleep(1000 * Math.max(1, r.retry) * (0.5 + Math.random() / 2));
      } else {
        this.failures++;
        await sleep(Number(o['retry-ms']));
      }
    }
  }

  call(action, payload) {
    const id = `${this.id}-${this.n++}`;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.ws.send(JSON.stringify([2, id, action, payload]));
    });
  }

  async run(t0, deadline, marks) {
    for (;;) {
      if (!(await this.connect(deadline))) return;
      if (!marks.connected.has(this.id)) marks.connected.set(this.id, Date.now() - t0);
      const boot = await this.call('BootNotification', { chargePointVendor: 'storm', chargePointModel: 'sim' });
      if (!boot || boot[0] !== 3) { this.failures++; this.ws.terminate(); continue; }
      if (!marks.booted.has(this.id)) marks.booted.set(this.id, Date.now() - t0);
      const base = Date.parse('2026-01-01T00:00:00Z');
      let ok = true;
      for (this.sent ??= 0; this.sent < Q; this.sent++) {
        const r = await this.call('MeterValues', { connectorId: 1, meterValue: [{
          timestamp: new Date(base + this.sent * 60_000).toISOString(),
          sampledValue: [{ value: String(this.sent * 10), measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }] });
        if (!r || r[0] !== 3) { ok = false; break; } // lost the connection or a CALLERROR: start over
      }
      if (!ok) { this.failures++; this.ws.terminate(); continue; }
      marks.flushed.set(this.id, Date.now() - t0);
      return;
    }
  }
}

async function main() {
  // 1. the fleet connects and boots, then the server dies
  let ports = await startServer(1);
  const first = ids.map((id, i) => new Charger(id, i, ports.ocpp));
  const tb = Date.now();
  await Promise.all(first.map(async (c) => {
    await c.connect(Date.now() + 300_000);
    await c.call('BootNotification', { chargePointVendor: 'storm', chargePointModel: 'sim' });
  }));
  process.stderr.write(`storm: ${N} chargers connected and booted in ${Date.now() - tb} ms; kill -9\n`);
  server.proc.kill('SIGKILL');
  await server.exited;
  for (const c of first) c.ws.terminate();

  // 2. restart: everyone at once
  const t0 = Date.now();
  ports = await startServer(2);
  const listening = Date.now() - t0;
  const pid = server.proc.pid;
  let peak = status(pid);
  const poll = setInterval(() => { try { peak = status(pid); } catch { /* gone */ } }, 200);
  const t1 = Date.now();
  const deadline = t1 + Number(o.timeout) * 1000;
  const marks = { connected: new Map(), booted: new Map(), flushed: new Map() };
  const fleet = ids.map((id, i) => new Charger(id, i, ports.ocpp));
  await Promise.all(fleet.map((c) => c.run(t1, deadline, marks)));
  clearInterval(poll);
  const end = status(pid);
  const recovered = (server.log().match(/event=recovered chargers_offline=(\d+)/) ?? [])[1];
  server.proc.kill('SIGTERM');
  await server.exited;
  const max = (m) => (m.size ? Math.max(...m.values()) : null);
  const res = {
    name: 'restart-storm',
    chargers: N,
    queue: Q,
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg() },
    server_start_ms: listening,
    recovered_offline: Number(recovered ?? 0),
    all_connected_ms: marks.connected.size === N ? max(marks.connected) : null,
    all_booted_ms: marks.booted.size === N ? max(marks.booted) : null,
    all_flushed_ms: marks.flushed.size === N ? max(marks.flushed) : null,
    messages: N * (Q + 1),
    refused_503: fleet.reduce((a, c) => a + c.refused503, 0),
    other_failures: fleet.reduce((a, c) => a + c.failures, 0),
    refused_for_good: N - marks.flushed.size,
    peak_rss_mib: Math.round(Math.max(peak.hwmKiB, end.hwmKiB) / 1024),
    server_cpu_s: end.cpuS,
    client_cpu_s: Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1e4) / 100,
    extra_args: extra,
  };
  const txt = JSON.stringify(res, null, 2);
  console.log(txt);
  if (o.json) writeFileSync(o.json, txt + '\n');
}

main().catch((e) => { console.error(e); process.exitCode = 1; })
  .finally(() => { try { server?.proc.kill('SIGKILL'); } catch { /* gone */ } rmSync(dir, { recursive: true, force: true }); });
