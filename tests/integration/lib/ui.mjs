// Helpers for the browser side: the UI WebSocket (/ws), JWTs (minted by the
// CLI or crafted by hand), REST calls with a bearer token, and a charger
// driven through a whole session. Used by push.test.mjs and rest.test.mjs.
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { cliOk, withTimeout, iso } from './server.mjs';
import { checkWsFrame, apiResponseProblems, record } from './contract.mjs';

// ---- tokens ----------------------------------------------------------------

// `flashcharge token …` with the HS256 secret in the environment (or an RS256
// private key file): returns the token.
export function mint(secret, { sub = 'tester', chargers = '*', role = 'viewer', ttl = '1h',
  iss, aud, alg, privateKey } = {}) {
  const a = ['token', '--sub', sub, '--chargers', Array.isArray(chargers) ? chargers.join(',') : chargers,
    '--role', role, '--ttl', ttl];
  if (iss) a.push('--iss', iss);
  if (aud) a.push('--aud', aud);
  if (alg) a.push('--jwt-alg', alg);
  if (privateKey) a.push('--jwt-private-key', privateKey);
  return cliOk(a, { env: secret ? { FLASHCHARGE_JWT_SECRET: secret } : {} }).stdout.trim();
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// A JWT made by hand: header and claims as given, signed HS256 with key
// (a string or Buffer); sign: false leaves the signature empty (alg none).
export function craftJwt(header, claims, key, { sign = true } = {}) {
  const h = b64url(JSON.stringify(header));
  const c = b64url(JSON.stringify(claims));
  if (!sign) return `${h}.${c}.`;
  const sig = crypto.createHmac('sha256', key).update(`${h}.${c}`).digest();
  return `${h}.${c}.${b64url(sig)}`;
}

export const now = () => Math.floor(Date.now() / 1000);

// Claims a valid token would carry; override any.
export function claims(over = {}) {
  return { sub: 'crafted', role: 'viewer', chargers: '*', iat: now(), exp: now() + 3600, ...over };
}

// ---- the UI WebSocket ------------------------------------------------------

// One browser connection. Every event is recorded in .events (arrays of
// events are flattened, each stamped with .at = receive time in ms and
// .frame = the index of the frame that carried it); waitFor consumes nothing,
// it scans .events from a cursor. Every frame is checked against
// schemas/api/ws.schema.json (lib/contract.mjs) unless contract is false: a
// frame that does not conform fails every wait from then on (and the test).
export class UiClient {
  constructor(ws, { contract = true } = {}) {
    this.ws = ws;
    this.contract = contract;
    this.contractError = null;
    this.events = [];
    this.frames = 0;
    this.arrays = 0;
    this.waiters = [];
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString(), at: Date.now() };
        resolve(this.closeInfo);
        this._pump();
      });
    });
    ws.on('error', () => { /* surfaced through close */ });
    ws.on('message', (data) => {
      const at = Date.now();
      const frame = this.frames++;
      if (this.contract && !this.contractError) {
        this.contractError = checkWsFrame(data.toString('utf8'), `a UiClient (frame #${frame})`);
      }
      let v;
      try { v = JSON.parse(data.toString('utf8')); } catch { v = { type: '<unparsable>', text: data.toString('utf8') }; }
      if (Array.isArray(v)) this.arrays++;
      for (const e of Array.isArray(v) ? v : [v]) {
        Object.defineProperty(e, 'at', { value: at, enumerable: false });
        Object.defineProperty(e, 'frame', { value: frame, enumerable: false });
        this.events.push(e);
      }
      this._pump();
    });
  }

  _pump() {
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i];
      if (this.contractError) {
        this.waiters.splice(i--, 1);
        w.reject(new Error(`contract violated while waiting for ${w.what}: ${this.contractError}`));
        continue;
      }
      const idx = this.events.findIndex((e, k) => k >= w.from && w.pred(e));
      if (idx >= 0) {
        this.waiters.splice(i--, 1);
        w.resolve(this.events[idx]);
      } else if (this.closeInfo) {
        this.waiters.splice(i--, 1);
        w.reject(new Error(`UI connection closed (${this.closeInfo.code} ${this.closeInfo.reason}) ` +
          `while waiting for ${w.what}`));
      }
    }
  }

  // The first event (at index >= from) matching pred.
  waitFor(pred, { timeout = 5000, what = 'an event', from = 0 } = {}) {
    const p = new Promise((resolve, reject) => {
      this.waiters.push({ pred, resolve, reject, what, from });
      this._pump();
    });
    return withTimeout(p, timeout, what).catch((e) => {
      this.waiters = this.waiters.filter((w) => w.pred !== pred);
      throw e;
    });
  }

  waitType(type, opts = {}) {
    const charger = opts.charger;
    return this.waitFor((e) => e.type === type && (charger == null || e.charger === charger),
      { what: `a ${type} event${charger ? ` of ${charger}` : ''}`, ...opts });
  }

  // Waits until n events match pred; returns them.
  async waitCount(pred, n, { timeout = 5000, what = `${n} events` } = {}) {
    const end = Date.now() + timeout;
    for (;;) {
      const got = this.events.filter(pred);
      if (got.length >= n) return got;
      if (this.contractError) throw new Error(`contract violated while waiting for ${what}: ${this.contractError}`);
      if (this.closeInfo) throw new Error(`UI connection closed (${this.closeInfo.code}) with ${got.length}/${n} of ${what}`);
      if (Date.now() > end) throw new Error(`timeout after ${timeout} ms: ${got.length}/${n} of ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  of(charger, type) {
    return this.events.filter((e) => e.charger === charger && (type == null || e.type === type));
  }

  // Events with a seq of charger (persisted events), in arrival order.
  seqEvents(charger) {
    return this.events.filter((e) => e.charger === charger && e.seq > 0 && e.type !== 'snapshot');
  }

  send(obj) {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  pause() { this.ws._socket.pause(); }
  resume() { this.ws._socket.resume(); }

  close(code = 1000) {
    try { this.ws.close(code); } catch { /* ignore */ }
    return withTimeout(this.closed, 3000, 'the UI connection to close').catch(() => this.terminate());
  }

  terminate() {
    try { this.ws.terminate(); } catch { /* ignore */ }
  }
}

// The /ws URL: query {token, charger (string or array), since}.
export function uiUrl(srv, q = {}) {
  const parts = [];
  if (q.token != null) parts.push(`token=${encodeURIComponent(q.token)}`);
  if (q.charger != null) parts.push(`charger=${[].concat(q.charger).map(encodeURIComponent).join(',')}`);
  if (q.since != null) parts.push(`since=${q.since}`);
  return `ws://127.0.0.1:${srv.httpPort}/ws${parts.length ? '?' + parts.join('&') : ''}`;
}

// Opens a UI connection. Resolves with a UiClient once open (hello not yet
// awaited); rejects with err.status / err.body on an HTTP refusal (whose body
// is checked against the OpenAPI document's GET /ws). contract: false checks
// neither the refusal nor the frames.
export function uiConnect(srv, q = {}, { headers = {}, timeout = 5000, perMessageDeflate = false,
  contract = true } = {}) {
  const ws = new WebSocket(uiUrl(srv, q), { headers, handshakeTimeout: timeout, perMessageDeflate });
  const c = new UiClient(ws, { contract });
  srv.clients.add(c);
  const p = new Promise((resolve, reject) => {
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        const e = new Error(`UI handshake refused with HTTP ${res.statusCode}: ${body}`);
        e.status = res.statusCode;
        e.headers = res.headers;
        e.body = body;
        try { e.json = JSON.parse(body); } catch { /* not JSON */ }
        const p = contract && apiResponseProblems({ method: 'GET', path: '/ws', status: res.statusCode,
          contentType: res.headers['content-type'] ?? '', text: body });
        if (p) record(`GET /ws → ${res.statusCode}: ${p}`);
        ws.terminate();
        reject(e);
      });
    });
    ws.once('error', reject);
    ws.once('open', () => resolve(c));
  });
  return withTimeout(p, timeout + 1000, 'the UI WebSocket handshake');
}

// Connects and waits for hello (and for the snapshot of each charger in q.charger
// when no since is given). Returns the client.
export async function uiOpen(srv, q = {}, opts = {}) {
  const c = await uiConnect(srv, q, opts);
  await c.waitType('hello', { what: 'hello' });
  return c;
}

// The outcome of a UI handshake: {status, json} when refused, {open: true} when upgraded.
export async function uiHandshake(srv, q = {}, opts = {}) {
  try {
    const c = await uiConnect(srv, q, opts);
    c.terminate();
    return { open: true };
  } catch (e) {
    if (e.status) return { status: e.status, json: e.json, body: e.body, headers: e.headers };
    return { error: e.message };
  }
}

// ---- REST ------------------------------------------------------------------

export async function get(srv, p, token, { headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  return srv.http(p, { headers: h });
}

// ---- the server process ----------------------------------------------------

// Resident set size of a process, in kB.
export function vmRssKb(pid) {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

// ---- a charger's session -----------------------------------------------------

export const boot = (cp) => cp.call('BootNotification', { chargePointVendor: 'flashCharge', chargePointModel: 'ESP32' });

export const statusN = (cp, status, connectorId = 1, timestamp = iso()) =>
  cp.call('StatusNotification', { connectorId, errorCode: 'NoError', status, timestamp });

// A MeterValues with every measurand the dashboard shows.
export function meterPayload({ connectorId = 1, transactionId, ts = iso(), energy = 1000, power = 7200,
  voltage = 230, current = 31.3, soc = 50 } = {}) {
  const p = {
    connectorId,
    meterValue: [{ timestamp: ts, sampledValue: [
      { value: String(energy), measurand: 'Energy.Active.Import.Register', unit: 'Wh' },
      { value: String(power), measurand: 'Power.Active.Import', unit: 'W' },
      { value: String(voltage), measurand: 'Voltage', unit: 'V' },
      { value: String(current), measurand: 'Current.Import', unit: 'A' },
      { value: String(soc), measurand: 'SoC' },
    ] }],
  };
  if (transactionId != null) p.transactionId = transactionId;
  return p;
}

// Percentiles of an array of numbers.
export function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (f) => s[Math.min(s.length - 1, Math.floor(f * s.length))];
  return { n: s.length, min: s[0], median: q(0.5), p95: q(0.95), max: s[s.length - 1] };
}
