// flashcharge-bench's closed-loop ingest run (--rate max) against the real
// server, briefly: a few chargers, each with one MeterValues outstanding and
// the next sent as soon as it is answered. The report must be sane (answers,
// a rate, round trips, no CALLERROR, nothing unanswered), and every
// CALLRESULT the bench counted must be in the database, since the server
// answers only after the commit. Then the same run against a store that
// fails: the CALLERRORs must be counted as such, never as committed, and the
// run must say it was not clean.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Server, BIN, withTimeout } from './lib/server.mjs';

const BENCH = process.env.FLASHCHARGE_BENCH
  ? path.resolve(process.env.FLASHCHARGE_BENCH)
  : path.join(path.dirname(BIN), 'flashcharge-bench');
const DURATION = 2;

const servers = [];
const procs = new Set();
after(async () => {
  for (const p of procs) if (p.exitCode == null) p.kill('SIGKILL');
  for (const s of servers) await s.cleanup();
});

const SECRET = 'bench-smoke-secret-0123456789abcdef0123';

// extra: more `serve` arguments, or a function of the Server giving them (to
// name its fault file before it starts).
async function startServer(extra = []) {
  const s = new Server();
  servers.push(s);
  s.opts = {
    args: ['--unknown-chargers', 'accept', '--rate-limit', '1000', '--log-level', 'info',
      ...(typeof extra === 'function' ? extra(s) : extra)],
    env: { FLASHCHARGE_JWT_SECRET: SECRET },
  };
  await s.spawn();
  return s;
}

// Runs the bench to its end. onStderrLine sees each of its progress lines;
// load: the traffic arguments (default: the closed loop, no UI).
async function runBench(srv, prefix, onStderrLine = () => {},
  load = ['--chargers', '4', '--rate', 'max', '--ui', '0']) {
  const json = path.join(srv.dir, `bench-${prefix}.json`);
  const p = spawn(BENCH, [
    '--ocpp-url', `ws://127.0.0.1:${srv.ocppPort}/ocpp`,
    '--ui-url', `ws://127.0.0.1:${srv.httpPort}/ws`, '--secret', SECRET,
    '--server-pid', String(srv.proc.pid), '--name', 'smoke', '--json', json, '--prefix', prefix,
    ...load,
    '--warmup', '1', '--duration', String(DURATION), '--drain', '5',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.add(p);
  let stdout = '';
  let stderr = '';
  let buf = '';
  p.stdout.on('data', (d) => { stdout += d; });
  p.stderr.on('data', (d) => {
    stderr += d;
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      onStderrLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  const code = await withTimeout(new Promise((res) => p.on('exit', (c, sig) => res(c ?? sig))),
    60000, 'flashcharge-bench to finish');
  procs.delete(p);
  // The table: "| metric | value |" rows.
  const table = {};
  for (const line of stdout.split('\n')) {
    const m = /^\| (.+?) \| (.+?) \|$/.exec(line);
    if (m) table[m[1]] = m[2];
  }
  const report = existsSync(json) ? JSON.parse(readFileSync(json, 'utf8')) : null;
  return { code, stdout, stderr, table, report, what: `stdout:\n${stdout}\nstderr:\n${stderr}` };
}

const THREADS_ROW = 'server CPU per thread name (% of one core, threads)';

// Where the server's time goes: its threads' CPU over the window, grouped by
// thread name, most first. Together they make the process's CPU, within a
// few points: the process and its threads are read one after the other, and
// each thread's time is counted in whole clock ticks.
function checkThreads(r) {
  const { report: j, table, what } = r;
  const t = j.server.threads;
  assert.ok(Array.isArray(t) && t.length > 0, what);
  assert.equal(j.server.threadsCapped, false);
  for (const g of t) {
    assert.ok(typeof g.name === 'string' && g.name.length > 0, JSON.stringify(g));
    assert.ok(Number.isInteger(g.count) && g.count >= 1, JSON.stringify(g));
    assert.ok(g.cpuPercent >= 0, JSON.stringify(g));
  }
  for (let i = 1; i < t.length; i++) assert.ok(t[i - 1].cpuPercent >= t[i].cpuPercent, what);
  assert.equal(new Set(t.map((g) => g.name)).size, t.length, 'one entry per name');
  const sum = t.reduce((a, g) => a + g.cpuPercent, 0);
  const cpu = j.server.cpuPercent;
  assert.ok(Math.abs(sum - cpu) <= Math.max(3, 0.1 * cpu),
    `threads sum to ${sum.toFixed(1)} %, the process ${cpu} %: ${JSON.stringify(t)}`);
  // The table has the same groups, first the busiest.
  const row = table[THREADS_ROW];
  assert.ok(row, r.stdout);
  assert.ok(row.startsWith(`${t[0].name} `), r.stdout);
  for (const g of t) assert.ok(row.includes(`${g.name} `) && row.includes(`(${g.count})`), r.stdout);
}

test('flashcharge-bench --rate max: committed MeterValues per second, every answer in the database',
  { skip: !existsSync(BENCH) && `no bench at ${BENCH}`, timeout: 90000 }, async () => {
    const srv = await startServer();
    const r = await runBench(srv, 'BSMK');
    assert.equal(r.code, 0, r.what);
    const j = r.report;
    assert.ok(j, r.what);
    assert.equal(j.params.rate, 'max');
    assert.equal(j.chargersBooted, 4);
    assert.ok(j.answered > 0, `answered ${j.answered}`);
    assert.ok(j.answeredPerSec > 0);
    assert.ok(Math.abs(j.answeredPerSec - j.answered / DURATION) < 1, 'rate = answered / window');
    assert.equal(j.callErrors, 0);
    assert.equal(j.callErrorsInWindow, 0);
    assert.equal(j.unmatchedAnswers, 0);
    assert.equal(j.unanswered, 0);
    assert.ok(j.answeredTotal >= j.answered);
    // One round trip per answer in the window; quantiles ordered.
    assert.equal(j.callRttMs.n, j.answered);
    assert.ok(j.callRttMs.p50 > 0, `p50 ${j.callRttMs.p50}`);
    assert.ok(j.callRttMs.p99 >= j.callRttMs.p50 && j.callRttMs.max >= j.callRttMs.p99);
    // Group commit: the store's commit count over the window, from /metrics.
    assert.ok(j.storeCommits > 0, `storeCommits ${j.storeCommits}`);
    assert.ok(j.meterValuesPerCommit > 0);
    assert.ok(j.server.cpuPercent > 0);
    assert.ok(j.benchCpuPercent >= 0);
    checkThreads(r);

    // The table says the same.
    assert.equal(Number(r.table['MeterValues answered with CALLRESULT in window (2 s)']), j.answered,
      r.stdout);
    // printf rounds a half to even, Math.round up: compare within the half.
    assert.ok(Math.abs(Number(r.table['MeterValues committed per second']) - j.answeredPerSec) <= 0.5,
      r.stdout);
    assert.equal(r.table['CALLERRORs in window / in all'], '0 / 0');
    assert.equal(r.table['answers to no call / calls unanswered at the end'], '0 / 0');
    const rtt = r.table['charger call round trip p50 / p99 / max (ms)'].split(' / ').map(Number);
    assert.ok(rtt[0] > 0 && rtt[1] >= rtt[0] && rtt[2] >= rtt[1], r.stdout);

    // Every CALLRESULT is a committed MeterValues: three samples each.
    await srv.stop();
    const [{ n }] = srv.sql("SELECT count(*) AS n FROM meter_values WHERE charger_id LIKE 'BSMK%'");
    assert.equal(n, 3 * j.answeredTotal);
  });

test('flashcharge-bench --rate max: CALLERRORs from a failing store are counted, not committed',
  { skip: !existsSync(BENCH) && `no bench at ${BENCH}`, timeout: 90000 }, async () => {
    const srv = await startServer((s) => ['--fault-file', s.faultFile]);
    // The chargers boot on a healthy store; the disk fails once traffic starts.
    const r = await runBench(srv, 'BFLT', (line) => {
      if (/ traffic: /.test(line)) srv.writeFault('fail');
    });
    assert.equal(r.code, 1, r.what);
    const j = r.report;
    assert.ok(j, r.what);
    assert.equal(j.answered, 0, r.what);
    assert.equal(j.answeredPerSec, 0);
    assert.ok(j.callErrorsInWindow > 0, r.what);
    assert.equal(Number(r.table['MeterValues committed per second']), 0);
    assert.match(r.table['CALLERRORs in window / in all'], /^[1-9]\d* \/ [1-9]\d*$/);
  });

test('flashcharge-bench --deflate: browsers with permessage-deflate get every event, inflated',
  async () => {
    const srv = await startServer();
    const r = await runBench(srv, 'ZIP', () => {},
      ['--chargers', '3', '--rate', '5', '--ui', '6', '--watch', '2', '--deflate']);
    assert.equal(r.code, 0, r.what);
    const j = r.report;
    assert.ok(j, r.what);
    assert.equal(j.params.deflate, true);
    assert.equal(j.uiOpen, 6);
    assert.equal(j.uiDeflate, 6, r.what);
    assert.ok(j.sent > 0 && j.expected > 0, r.what);
    assert.equal(j.received, j.expected, r.what);
    assert.ok(j.latencyMs.p50 > 0 && j.latencyMs.p99 >= j.latencyMs.p50, r.what);
    const [conns, inflated] = r.table['UI connections with permessage-deflate / messages inflated']
      .split(' / ').map(Number);
    assert.equal(conns, 6);
    // every event came compressed: at least one message per delivered event
    // batch, and the hello and snapshots of each client
    assert.ok(inflated >= 6 * 2, r.stdout);
    assert.match(r.table['server memory per idle UI connection (KiB), permessage-deflate'],
      /^-?\d+\.\d+$/);
    checkThreads(r);
  });
