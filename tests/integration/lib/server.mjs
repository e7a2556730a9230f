// Test harness: runs the real flashcharge binary in a temp dir, talks to it
// over real sockets, and reads its SQLite file with the sqlite3 CLI.
import { spawn, spawnSync } from 'node:child_process';
import { after } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync, existsSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { RPCClient } from 'ocpp-rpc';
import { checkApiResponse } from './contract.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const testsDir = path.resolve(here, '..');

export const BIN = process.env.FLASHCHARGE_BIN
  ? path.resolve(process.env.FLASHCHARGE_BIN)
  : path.resolve(testsDir, '../../build/flashcharge');

// Every child we spawn, so that nothing outlives the test process.
const children = new Set();
process.on('exit', () => {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Races p against a deadline; rejects with a message naming what was awaited.
export function withTimeout(p, ms, what = 'operation') {
  let timer;
  const t = new Promise((_, rej) => {
    timer = setTimeout(() => rej(new Error(`timeout after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([Promise.resolve(p), t]).finally(() => clearTimeout(timer));
}

// Polls fn until it returns a truthy value (returned) or the deadline passes.
export async function until(fn, { timeout = 5000, interval = 100, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  let lastErr;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > end) {
      throw new Error(`timeout after ${timeout} ms waiting for ${what}` +
        (lastErr ? ` (last error: ${lastErr.message})` : ''));
    }
    await sleep(interval);
  }
}

// Runs `flashcharge ARGS...` synchronously (the CLI subcommands).
export function cli(args, { env = {}, timeout = 10000 } = {}) {
  const r = spawnSync(BIN, args, {
    encoding: 'utf8',
    timeout,
    env: { ...process.env, ...env },
  });
  if (r.error && r.error.code !== 'ETIMEDOUT') throw r.error;
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, timedOut: !!r.error };
}

// Like cli() but throws with the output when the command does not exit 0.
export function cliOk(args, opts) {
  const r = cli(args, opts);
  if (r.code !== 0) {
    throw new Error(`flashcharge ${args.join(' ')} exited ${r.code} (signal ${r.signal})\n` +
      `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
  return r;
}

// Parses a logfmt line into an object (values may be "quoted").
export function parseLogfmt(line) {
  const out = {};
  const re = /([A-Za-z0-9_.-]+)=("(?:[^"\\]|\\.)*"|\S*)/g;
  let m;
  while ((m = re.exec(line))) {
    let v = m[2];
    if (v.startsWith('"')) {
      try { v = JSON.parse(v); } catch { v = v.slice(1, -1); }
    }
    out[m[1]] = v;
  }
  return out;
}

export class Server {
  // opts: chargers: [{id, password?, registration?, profile?}], tags: [{tag, status?, expiry?, parent?}],
  //       args: extra `serve` arguments, env: extra environment,
  //       serveArgs: the whole `serve` argument list instead of the defaults + args,
  //       bin: another flashcharge binary (an installed one), cwd: its directory.
  constructor(opts = {}) {
    this.opts = opts;
    this.dir = mkdtempSync(path.join(tmpdir(), 'fc-itest-'));
    this.db = path.join(this.dir, 'flashcharge.db');
    this.faultFile = path.join(this.dir, 'fault');
    this.proc = null;
    this.stderr = '';
    this.exit = null;
    this.clients = new Set();
    this.starts = 0;
  }

  static async start(opts = {}) {
    const s = new Server(opts);
    try {
      s.register();
      await s.spawn();
    } catch (e) {
      await s.cleanup();
      throw e;
    }
    return s;
  }

  register() {
    for (const c of this.opts.chargers ?? []) this.addCharger(c);
    for (const t of this.opts.tags ?? []) this.addTag(t);
  }

  addCharger({ id, password, registration, profile }) {
    const a = ['charger', 'add', id];
    if (password != null) a.push('--password', password);
    if (registration) a.push('--registration', registration);
    if (profile != null) a.push('--profile', String(profile));
    a.push('--db', this.db);
    return cliOk(a);
  }

  addTag({ tag, status, expiry, parent }) {
    const a = ['tag', 'add', tag];
    if (status) a.push('--status', status);
    if (expiry) a.push('--expiry', expiry);
    if (parent) a.push('--parent', parent);
    a.push('--db', this.db);
    return cliOk(a);
  }

  cli(args) {
    return cli([...args, '--db', this.db]);
  }

  serveArgs() {
    if (this.opts.serveArgs) return ['serve', ...this.opts.serveArgs];
    return ['serve', '--db', this.db, '--ocpp-port', '0', '--http-port', '0',
      '--bind', '127.0.0.1', '--log-level', 'debug', ...(this.opts.args ?? [])];
  }

  // Starts `flashcharge serve` and waits for both listening lines.
  async spawn({ timeout = 10000 } = {}) {
    const bin = this.opts.bin ?? BIN;
    if (!existsSync(bin)) throw new Error(`flashcharge binary not found at ${bin} (set FLASHCHARGE_BIN)`);
    this.starts++;
    this.stderr = '';
    this.exit = null;
    this.ocppPort = undefined;
    this.httpPort = undefined;
    const log = createWriteStream(path.join(this.dir, `serve-${this.starts}.log`));
    // opts.nofile: run under that open-file limit (soft and hard), as on a
    // host whose limit is lower than the connections offered.
    const [cmd, argv] = this.opts.nofile
      ? ['prlimit', [`--nofile=${this.opts.nofile}:${this.opts.nofile}`, bin, ...this.serveArgs()]]
      : [bin, this.serveArgs()];
    const proc = spawn(cmd, argv, {
      env: { ...process.env, ...(this.opts.env ?? {}) },
      cwd: this.opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    children.add(proc);
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        children.delete(proc);
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    // 'exit' may come before the pipes are drained: the log ends once they are.
    proc.on('close', () => log.end());
    proc.stdout.on('data', (d) => log.write(d));
    let buf = '';
    const ready = new Promise((resolve, reject) => {
      proc.on('error', reject);
      this.exited.then((e) => reject(new Error(
        `flashcharge serve exited before listening (code ${e.code}, signal ${e.signal})\n${this.tail()}`)));
      proc.stderr.on('data', (d) => {
        const s = d.toString('utf8');
        this.stderr += s;
        log.write(d);
        buf += s;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          // --log-format json writes the same fields as one object a line
          const f = line.startsWith('{') ? JSON.parse(line) : parseLogfmt(line);
          if (f.event === 'listening') {
            if (f.kind === 'ocpp') this.ocppPort = Number(f.port);
            if (f.kind === 'http') this.httpPort = Number(f.port);
            if (this.ocppPort && this.httpPort) resolve();
          }
        }
      });
    });
    try {
      await withTimeout(ready, timeout, 'the listening lines of flashcharge serve');
    } catch (e) {
      if (!e.message.includes('exited before')) e.message += `\n${this.tail()}`;
      throw e;
    }
  }

  get alive() {
    return this.proc != null && this.exit == null;
  }

  tail(n = 40) {
    const lines = this.stderr.trimEnd().split('\n');
    return '--- server stderr (last lines) ---\n' + lines.slice(-n).join('\n');
  }

  // SIGTERM (or another signal) and wait; returns {code, signal}.
  async stop({ signal = 'SIGTERM', timeout = 15000 } = {}) {
    if (!this.alive) return this.exit;
    this.proc.kill(signal);
    try {
      return await withTimeout(this.exited, timeout, `flashcharge to exit after ${signal}`);
    } catch (e) {
      e.message += `\n${this.tail()}`;
      this.proc.kill('SIGKILL');
      await this.exited;
      throw e;
    }
  }

  async kill9() {
    if (!this.alive) return this.exit;
    this.proc.kill('SIGKILL');
    return withTimeout(this.exited, 5000, 'flashcharge to die after SIGKILL');
  }

  // For after(): close clients, kill the server whatever state it is in, remove the dir.
  async cleanup() {
    for (const c of this.clients) {
      try { c.close({ force: true }); } catch { /* ignore */ }
      try { c.terminate?.(); } catch { /* ignore */ }
    }
    this.clients.clear();
    if (this.alive) {
      this.proc.kill('SIGKILL');
      await withTimeout(this.exited, 5000, 'SIGKILL').catch(() => {});
    }
    if (process.env.FC_KEEP_TMP) {
      process.stderr.write(`kept test dir ${this.dir}\n`);
    } else {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  ocppUrl(id, prefix = '/ocpp') {
    return `ws://127.0.0.1:${this.ocppPort}${prefix}/${encodeURIComponent(id)}`;
  }

  // An ocpp-rpc charge point, strict mode (validates the server's answers
  // against the OCPP 1.6 schemas). Records every frame in c.frames.
  client(id, opts = {}) {
    const { prefix = '/ocpp', ...rest } = opts;
    const c = new RPCClient({
      endpoint: `ws://127.0.0.1:${this.ocppPort}${prefix}`,
      identity: id,
      protocols: ['ocpp1.6'],
      strictMode: true,
      reconnect: false,
      callTimeoutMs: 10000,
      pingIntervalMs: 5000,
      ...rest,
    });
    c.frames = [];
    c.strictFailures = [];
    c.on('message', ({ message, outbound }) => c.frames.push({ outbound, message: String(message) }));
    c.on('strictValidationFailure', (f) => c.strictFailures.push(f));
    c.closeEvent = new Promise((resolve) => c.once('close', resolve));
    this.clients.add(c);
    return c;
  }

  async connect(id, opts = {}) {
    const c = this.client(id, opts);
    await withTimeout(c.connect(), 5000, `connection of ${id}`);
    return c;
  }

  // A raw WebSocket charger (see RawConn). Rejects with err.status on an HTTP refusal.
  async raw(id, opts = {}) {
    const r = await rawConnect(opts.url ?? this.ocppUrl(id, opts.prefix), opts);
    this.clients.add(r);
    return r;
  }

  // A request to the web port. The response is checked against
  // schemas/api/openapi.json (lib/contract.mjs) and a mismatch throws;
  // opts.contract = false skips that for a request that means to get
  // something odd.
  async http(p, opts = {}) {
    const { contract = true, ...init } = opts;
    const res = await fetch(`http://127.0.0.1:${this.httpPort}${p}`,
      { signal: AbortSignal.timeout(init.timeout ?? 5000), ...init });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    if (contract) {
      checkApiResponse({ method: init.method ?? 'GET', path: p, status: res.status,
        contentType: res.headers.get('content-type') ?? '', text });
    }
    return { status: res.status, text, json, headers: res.headers };
  }

  // Runs a query with the sqlite3 CLI (-json); returns an array of row objects.
  sql(query) {
    return sql(this.db, query);
  }

  columns(table) {
    return this.sql(`PRAGMA table_info(${table})`).map((r) => r.name);
  }

  writeFault(text) {
    writeFileSync(this.faultFile, text);
  }

  clearFault() {
    rmSync(this.faultFile, { force: true });
  }
}

export function sql(db, query) {
  const r = spawnSync('sqlite3', ['-json', '-cmd', '.timeout 5000', db, query],
    { encoding: 'utf8', timeout: 10000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`sqlite3 failed (${r.status}) on ${query}: ${r.stderr}`);
  const out = r.stdout.trim();
  return out ? JSON.parse(out) : [];
}

// First defined property among names (column names may differ slightly).
export function field(row, ...names) {
  for (const n of names) if (row != null && row[n] !== undefined) return row[n];
  return undefined;
}

// First of names that is a column of the table (throws listing the columns otherwise).
export function pickColumn(cols, ...names) {
  for (const n of names) if (cols.includes(n)) return n;
  throw new Error(`none of [${names.join(', ')}] among columns [${cols.join(', ')}]`);
}

// ---- raw WebSocket charger -------------------------------------------------

export class RawConn {
  constructor(ws) {
    this.ws = ws;
    this.inbox = [];     // parsed frames not yet consumed
    this.all = [];       // every frame received (raw text)
    this.waiters = [];
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        this._pump();
      });
    });
    ws.on('error', () => { /* surfaced through close */ });
    ws.on('message', (data, isBinary) => {
      const text = data.toString('utf8');
      this.all.push(text);
      let parsed;
      try { parsed = JSON.parse(text); } catch { parsed = { unparsable: text, binary: isBinary }; }
      this.inbox.push(parsed);
      this._pump();
    });
  }

  _pump() {
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i];
      const idx = this.inbox.findIndex(w.pred);
      if (idx >= 0) {
        const [m] = this.inbox.splice(idx, 1);
        this.waiters.splice(i--, 1);
        w.resolve(m);
      } else if (this.closeInfo) {
        this.waiters.splice(i--, 1);
        w.reject(new Error(`connection closed (${this.closeInfo.code} ${this.closeInfo.reason}) ` +
          `while waiting for ${w.what}`));
      }
    }
  }

  // Waits for (and consumes) the first received frame matching pred.
  waitFor(pred, timeout = 5000, what = 'a frame') {
    const p = new Promise((resolve, reject) => {
      this.waiters.push({ pred, resolve, reject, what });
      this._pump();
    });
    return withTimeout(p, timeout, what).catch((e) => {
      this.waiters = this.waiters.filter((w) => w.pred !== pred);
      throw e;
    });
  }

  // Waits for the answer ([3,id,...] or [4,id,...]) to message id.
  answer(id, timeout = 5000) {
    return this.waitFor((m) => Array.isArray(m) && (m[0] === 3 || m[0] === 4) && m[1] === id,
      timeout, `the answer to message ${JSON.stringify(id)}`);
  }

  send(data) {
    this.ws.send(typeof data === 'string' || Buffer.isBuffer(data) ? data : JSON.stringify(data));
  }

  // Sends a CALL and returns the answer frame.
  async call(action, payload = {}, { id = randomUUID(), timeout = 5000 } = {}) {
    this.send([2, id, action, payload]);
    return this.answer(id, timeout);
  }

  close(code = 1000) {
    try { this.ws.close(code); } catch { /* ignore */ }
  }

  terminate() {
    try { this.ws.terminate(); } catch { /* ignore */ }
  }
}

// Opens a WebSocket. Resolves with a RawConn when open; rejects with an error
// carrying .status (HTTP status of a refused handshake) or the ws error.
// tls: Node tls options for a wss:// url (ca, cert, key, ciphers, …).
export function rawConnect(url, { protocols = ['ocpp1.6'], headers = {}, auth, timeout = 5000, tls = {} } = {}) {
  const h = { ...headers };
  if (auth) h.authorization = 'Basic ' + Buffer.from(`${auth.user}:${auth.password}`).toString('base64');
  const ws = new WebSocket(url, protocols, { headers: h, handshakeTimeout: timeout, ...tls });
  const conn = new RawConn(ws);
  const p = new Promise((resolve, reject) => {
    ws.once('unexpected-response', (req, res) => {
      const e = new Error(`handshake refused with HTTP ${res.statusCode}`);
      e.status = res.statusCode;
      e.headers = res.headers;
      res.resume();
      ws.terminate();
      reject(e);
    });
    ws.once('error', reject);
    ws.once('open', () => resolve(conn));
  });
  return withTimeout(p, timeout + 1000, `WebSocket handshake to ${url}`);
}

// The outcome of a handshake: {status} when refused over HTTP, {open: true, protocol} when it
// became a WebSocket (then closed), {error} otherwise.
export async function handshake(url, opts = {}) {
  try {
    const c = await rawConnect(url, opts);
    const protocol = c.ws.protocol;
    c.terminate();
    return { open: true, protocol };
  } catch (e) {
    if (e.status) return { status: e.status, headers: e.headers };
    return { error: e.message };
  }
}

export const iso = (ms = Date.now()) => new Date(ms).toISOString();

export function errCode(e) {
  return e?.rpcErrorCode ?? e?.code;
}

// The servers a test file starts (Server.start), every one cleaned up after
// the file's tests: returns start(opts).
export function serverPool() {
  const servers = [];
  after(async () => {
    for (const s of servers) await s.cleanup();
  });
  return async (opts) => {
    const s = await Server.start(opts);
    servers.push(s);
    return s;
  };
}

// A closed-loop load: each charger of cps (ocpp-rpc clients; ids their ids)
// sends its next MeterValues as soon as the last is answered, until stop().
// confirmed: "id|value" of every answered reading; errors: what ended a loop
// early (a server gone).
export function meterLoad(cps, ids) {
  const confirmed = [];
  const errors = [];
  let stop = false;
  const base = Date.now() - 3_600_000;
  const loops = cps.map(async (cp, c) => {
    for (let i = 0; !stop; i++) {
      try {
        await cp.call('MeterValues', { connectorId: 1, meterValue: [{ timestamp: iso(base + i * 1000), sampledValue: [
          { value: String(1000 + i), measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }] });
        confirmed.push(`${ids[c]}|${1000 + i}`);
      } catch (e) {
        errors.push(e);
        return;
      }
    }
  });
  return { confirmed, errors, stop: () => { stop = true; return Promise.all(loops); } };
}
