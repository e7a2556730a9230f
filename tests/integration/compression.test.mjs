// permessage-deflate (RFC 7692) on the UI WebSocket: negotiation, events
// compressed once and shared, client messages inflated statelessly, the
// 64 KiB limit on inflated messages, and a real browser (Chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { Server, cliOk, until, withTimeout, sleep } from './lib/server.mjs';
import { checkWsFrame } from './lib/contract.mjs';

const SECRET = 'compression-test-secret-0123456789abcdef';
const CP = 'CP1';
const CHROMIUM = '/usr/bin/chromium';
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

let srv;
let cp;
let token;
let webRoot;
let meterN = 0;

before(async () => {
  webRoot = mkdtempSync(path.join(tmpdir(), 'fc-web-'));
  writeFileSync(path.join(webRoot, 'index.html'),
    '<!doctype html><html><head><title>fc ws test</title></head><body>test</body></html>\n');
  srv = await Server.start({
    chargers: [{ id: CP }],
    env: { FLASHCHARGE_JWT_SECRET: SECRET },
    args: ['--web-root', webRoot, '--ui-max-per-ip', '5000', '--ui-max-per-subject', '5000'],
  });
  token = cliOk(['token', '--sub', 'tester', '--chargers', '*', '--role', 'viewer', '--ttl', '1h'],
    { env: { FLASHCHARGE_JWT_SECRET: SECRET } }).stdout.trim();
  cp = await srv.connect(CP);
  await cp.call('BootNotification', { chargePointVendor: 'flashCharge', chargePointModel: 'T1' });
});

after(async () => {
  await srv?.cleanup();
  if (webRoot) rmSync(webRoot, { recursive: true, force: true });
});

const wsPath = () => `/ws?charger=${CP}&token=${token}`;
const wsUrl = () => `ws://127.0.0.1:${srv.httpPort}${wsPath()}`;

// Events from the charger: n MeterValues (each a "meter" event), sent
// concurrently so that some reach the browsers batched in one array.
async function makeEvents(n) {
  const calls = [];
  for (let i = 0; i < n; i++) {
    meterN++;
    calls.push(cp.call('MeterValues', {
      connectorId: 1,
      meterValue: [{
        timestamp: new Date().toISOString(),
        sampledValue: [
          { value: String(1000 + meterN * 7), measurand: 'Energy.Active.Import.Register', unit: 'Wh' },
          { value: String(3000 + meterN), measurand: 'Power.Active.Import', unit: 'W' },
          { value: '230.4', measurand: 'Voltage', unit: 'V' },
        ],
      }],
    }));
  }
  await Promise.all(calls);
}

// A ws client that flattens every frame (object or array) into events.
class Ui {
  constructor(pmd) {
    this.ws = new WebSocket(wsUrl(), { perMessageDeflate: pmd });
    this.frames = [];
    this.events = [];
    this.closed = new Promise((resolve) => this.ws.on('close', (code, reason) =>
      resolve({ code, reason: reason.toString() })));
    this.ws.on('error', () => {});
    this.upgrade = new Promise((resolve) => this.ws.on('upgrade', resolve));
    this.ws.on('message', (d) => {
      const text = d.toString('utf8');
      this.frames.push(text);
      checkWsFrame(text, 'the compression test\'s Ui');
      const v = JSON.parse(text);
      for (const e of Array.isArray(v) ? v : [v]) this.events.push(e);
    });
  }

  static async open(pmd) {
    const u = new Ui(pmd);
    await withTimeout(once(u.ws, 'open'), 5000, 'the UI WebSocket to open');
    u.res = await u.upgrade;
    return u;
  }

  get ext() {
    return this.res.headers['sec-websocket-extensions'];
  }

  waitEvents(pred, n, what) {
    return until(() => this.events.filter(pred).length >= n,
      { timeout: 10000, interval: 20, what: what ?? `${n} events` });
  }

  close() {
    this.ws.close();
    return this.closed;
  }
}

const isMeter = (e) => e.type === 'meter' && e.charger === CP;

// ---- a raw client, to look at the frames themselves ----

class RawWs {
  static async open(extOffer, p = wsPath()) {
    const r = new RawWs();
    r.sock = net.connect(srv.httpPort, '127.0.0.1');
    await once(r.sock, 'connect');
    const key = crypto.randomBytes(16).toString('base64');
    r.sock.write(`GET ${p} HTTP/1.1\r\nHost: 127.0.0.1:${srv.httpPort}\r\n` +
      'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      (extOffer ? `Sec-WebSocket-Extensions: ${extOffer}\r\n` : '') + '\r\n');
    r.buf = Buffer.alloc(0);
    r.frames = [];
    r.ended = false;
    r.sock.on('data', (d) => { r.buf = Buffer.concat([r.buf, d]); r.parse(); });
    r.sock.on('close', () => { r.ended = true; });
    r.sock.on('error', () => {});
    await until(() => r.head, { timeout: 5000, interval: 10, what: 'the handshake response' });
    return r;
  }

  parse() {
    if (!this.head) {
      const i = this.buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      const lines = this.buf.subarray(0, i).toString('latin1').split('\r\n');
      this.status = Number(lines[0].split(' ')[1]);
      this.headers = {};
      for (const l of lines.slice(1)) {
        const c = l.indexOf(':');
        this.headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
      }
      this.head = lines;
      this.buf = this.buf.subarray(i + 4);
    }
    for (;;) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0], b1 = this.buf[1];
      let len = b1 & 0x7f, off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2); off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2)); off = 10;
      }
      if (this.buf.length < off + len) return;
      this.frames.push({ fin: !!(b0 & 0x80), rsv1: !!(b0 & 0x40), opcode: b0 & 0x0f,
        payload: Buffer.from(this.buf.subarray(off, off + len)) });
      this.buf = this.buf.subarray(off + len);
    }
  }

  send(payload, { opcode = 1, fin = true, rsv1 = false } = {}) {
    const mask = crypto.randomBytes(4);
    const len = payload.length;
    const head = len < 126 ? Buffer.alloc(2) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
    head[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
    if (len < 126) head[1] = 0x80 | len;
    else if (len < 65536) { head[1] = 0x80 | 126; head.writeUInt16BE(len, 2); }
    else { head[1] = 0x80 | 127; head.writeBigUInt64BE(BigInt(len), 2); }
    const body = Buffer.from(payload);
    for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
    this.sock.write(Buffer.concat([head, mask, body]));
  }

  // Text messages, each inflated on its own with a fresh inflater.
  messages() {
    return this.frames.filter((f) => f.opcode === 1).map((f) => (f.rsv1
      ? zlib.inflateRawSync(Buffer.concat([f.payload, TAIL]),
        { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString('utf8')
      : f.payload.toString('utf8')));
  }

  closeFrame() {
    const f = this.frames.find((x) => x.opcode === 8);
    return f && { code: f.payload.readUInt16BE(0), reason: f.payload.subarray(2).toString() };
  }

  destroy() {
    this.sock.destroy();
  }
}

// A message compressed the way a client without context takeover does it.
const deflateMsg = (text) => {
  const d = zlib.deflateRawSync(Buffer.from(text), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  assert.deepEqual(d.subarray(-4), TAIL);
  return d.subarray(0, -4);
};

// ---- tests ----

test('permessage-deflate is answered when offered, and only then', async () => {
  const on = await Ui.open(true);
  assert.match(on.ext, /^permessage-deflate(;|$)/);
  const params = on.ext.split(';').slice(1).map((s) => s.trim());
  assert.ok(params.includes('server_no_context_takeover'), on.ext);
  assert.ok(params.includes('client_no_context_takeover'), on.ext);
  assert.equal(on.ws.extensions, 'permessage-deflate');
  const off = await Ui.open(false);
  assert.equal(off.ext, undefined);
  assert.equal(off.ws.extensions, '');
  await on.waitEvents((e) => e.type === 'snapshot', 1);
  await off.waitEvents((e) => e.type === 'snapshot', 1);
  await on.close();
  await off.close();
});

test('serverNoContextTakeover: many events intact (same as a plain client), compressed client messages', async () => {
  const z = await Ui.open({ serverNoContextTakeover: true, threshold: 0 });
  const plain = await Ui.open(false);
  assert.match(z.ext, /permessage-deflate/);
  await z.waitEvents((e) => e.type === 'snapshot', 1);
  await plain.waitEvents((e) => e.type === 'snapshot', 1);
  const before = z.events.filter(isMeter).length;
  await makeEvents(12);
  await sleep(50);
  await makeEvents(13);
  await z.waitEvents(isMeter, before + 25, '25 meter events (compressed client)');
  await plain.waitEvents(isMeter, before + 25, '25 meter events (plain client)');
  const zm = z.events.filter(isMeter).map((e) => JSON.stringify(e));
  const pm = plain.events.filter(isMeter).map((e) => JSON.stringify(e));
  assert.deepEqual(zm, pm, 'the compressed stream carries exactly the plain one');
  const seqs = z.events.filter(isMeter).map((e) => e.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  assert.ok(z.frames.length > 2, `more than 2 messages (${z.frames.length})`);

  // Client → server, compressed (threshold 0): pings and subscribes.
  for (let i = 0; i < 5; i++) z.ws.send(JSON.stringify({ op: 'ping', n: i }));
  z.ws.send(JSON.stringify({ op: 'subscribe', chargers: [CP] })); // a fresh snapshot, on request
  z.ws.send(JSON.stringify({ op: 'ping', pad: 'x'.repeat(3000) }));
  await z.waitEvents((e) => e.type === 'pong', 6, '6 pongs');
  await z.waitEvents((e) => e.type === 'snapshot', 2, 'a second snapshot');
  assert.equal(z.events.filter((e) => e.type === 'error').length, 0);
  await z.close();
  await plain.close();
});

const variants = [
  { clientNoContextTakeover: true },
  { serverMaxWindowBits: 10 },
  { serverMaxWindowBits: 9, serverNoContextTakeover: true },
  { clientMaxWindowBits: 10 },
  { clientMaxWindowBits: true, serverMaxWindowBits: 15 },
  { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 11,
    clientMaxWindowBits: 12 },
];

for (const v of variants) {
  test(`offer ${JSON.stringify(v)}: negotiated, events and client messages intact`, async () => {
    const z = await Ui.open({ ...v, threshold: 0 });
    assert.match(z.ext, /^permessage-deflate;/);
    assert.match(z.ext, /client_no_context_takeover/);
    if (v.serverMaxWindowBits) {
      assert.match(z.ext, new RegExp(`server_max_window_bits=${v.serverMaxWindowBits}\\b`));
    } else {
      assert.doesNotMatch(z.ext, /server_max_window_bits/);
    }
    await z.waitEvents((e) => e.type === 'snapshot', 1);
    const before = z.events.filter(isMeter).length;
    await makeEvents(6);
    await z.waitEvents(isMeter, before + 6);
    for (let i = 0; i < 4; i++) z.ws.send(JSON.stringify({ op: 'ping', i }));
    await z.waitEvents((e) => e.type === 'pong', 4, '4 pongs');
    await z.close();
  });
}

test('raw frames: RSV1 on every event message, each inflatable on its own; fragmented and BFINAL client messages', async () => {
  const r = await RawWs.open('permessage-deflate; client_max_window_bits');
  assert.equal(r.status, 101);
  assert.match(r.headers['sec-websocket-extensions'],
    /^permessage-deflate; server_no_context_takeover; client_no_context_takeover$/);
  await until(() => r.messages().some((m) => m.includes('"snapshot"')), { what: 'snapshot' });
  await makeEvents(8);
  await until(() => r.messages().filter((m) => m.includes('"meter"')).length >= 1, { what: 'meter' });
  await sleep(200);
  const text = r.frames.filter((f) => f.opcode === 1);
  assert.ok(text.length >= 3);
  for (const f of text) assert.ok(f.rsv1 && f.fin, 'every message compressed, in one frame');
  const events = r.messages().flatMap((m) => { const v = JSON.parse(m); return Array.isArray(v) ? v : [v]; });
  assert.ok(events.filter((e) => e.type === 'meter').length >= 8);

  // A compressed message in two frames (RSV1 on the first only).
  const ping = deflateMsg(JSON.stringify({ op: 'ping', frag: true }));
  r.send(ping.subarray(0, 5), { fin: false, rsv1: true });
  r.send(ping.subarray(5), { opcode: 0 });
  // One ending in a final block, as zlib's Z_FINISH leaves it.
  r.send(zlib.deflateRawSync(Buffer.from(JSON.stringify({ op: 'ping', final: true }))), { rsv1: true });
  // An uncompressed one on the same connection.
  r.send(Buffer.from(JSON.stringify({ op: 'ping', plain: true })));
  const all = () => r.messages().flatMap((m) => { const v = JSON.parse(m); return Array.isArray(v) ? v : [v]; });
  await until(() => all().filter((e) => e.type === 'pong').length >= 3, { what: '3 pongs' });
  assert.equal(all().filter((e) => e.type === 'error').length, 0);
  r.destroy();
});

test('offers we cannot honour: no compression, a working connection', async () => {
  for (const offer of ['permessage-deflate; foo', 'permessage-deflate; server_max_window_bits=7',
    'permessage-deflate; server_no_context_takeover=1',
    'permessage-deflate; client_max_window_bits=16',
    'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
    'x-webkit-deflate-frame']) {
    const r = await RawWs.open(offer);
    assert.equal(r.status, 101, offer);
    assert.equal(r.headers['sec-websocket-extensions'], undefined, offer);
    await until(() => r.frames.some((f) => f.opcode === 1 && f.payload.includes('"snapshot"')),
      { what: `a plain snapshot (${offer})` });
    assert.ok(r.frames.every((f) => !f.rsv1));
    r.destroy();
  }
  // Of several offers, the first we can honour.
  const r = await RawWs.open('permessage-deflate; foo=1, permessage-deflate; server_max_window_bits=12');
  assert.equal(r.headers['sec-websocket-extensions'],
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12');
  await until(() => r.messages().some((m) => m.includes('"snapshot"')), { what: 'snapshot' });
  r.destroy();
});

test('a compressed client message inflating past 64 KiB closes with 1009; the server stays up', async () => {
  const z = await Ui.open({ threshold: 0 });
  await z.waitEvents((e) => e.type === 'snapshot', 1);
  z.ws.send(JSON.stringify({ op: 'ping', pad: 'a'.repeat(100 * 1024) }));
  const c = await withTimeout(z.closed, 5000, 'close after an oversized message');
  assert.equal(c.code, 1009);

  // A zip bomb: 16 MiB of zeros in about 16 KB, in one frame.
  const r = await RawWs.open('permessage-deflate');
  await until(() => r.messages().some((m) => m.includes('"snapshot"')), { what: 'snapshot' });
  r.send(deflateMsg(Buffer.alloc(16 << 20).toString()), { rsv1: true });
  await until(() => r.closeFrame() || r.ended, { what: 'the close frame' });
  assert.equal(r.closeFrame()?.code, 1009);
  r.destroy();

  assert.ok(srv.alive);
  assert.equal((await srv.http('/healthz')).status, 200);
  const again = await Ui.open(true);
  await again.waitEvents((e) => e.type === 'snapshot', 1);
  await again.close();
});

test('Chromium: the page\'s WebSocket negotiates permessage-deflate and receives events intact',
  { skip: !existsSync(CHROMIUM) && `${CHROMIUM} not installed` }, async () => {
    const { chromium } = await import('playwright-core');
    const profile = mkdtempSync(path.join(tmpdir(), 'fc-chromium-'));
    const ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = ctx.pages()[0] ?? await ctx.newPage();
      const cdp = await ctx.newCDPSession(page);
      await cdp.send('Network.enable');
      let handshake;
      cdp.on('Network.webSocketHandshakeResponseReceived', (e) => { handshake = e.response; });
      const plain = await Ui.open(false);
      await plain.waitEvents((e) => e.type === 'snapshot', 1);

      await page.goto(`http://127.0.0.1:${srv.httpPort}/`);
      assert.equal(await page.title(), 'fc ws test');
      const ext = await page.evaluate((p) => new Promise((resolve, reject) => {
        window.events = [];
        window.frames_ = 0;
        const ws = new WebSocket(`ws://${location.host}${p}`);
        window.ws = ws;
        ws.onmessage = (m) => {
          window.frames_++;
          const v = JSON.parse(m.data);
          for (const e of Array.isArray(v) ? v : [v]) window.events.push(e);
        };
        ws.onopen = () => resolve(ws.extensions);
        ws.onerror = () => reject(new Error('websocket error'));
      }), wsPath());
      assert.match(ext, /^permessage-deflate/);
      await until(() => handshake, { what: 'the CDP handshake event' });
      const hdr = Object.entries(handshake.headers)
        .find(([k]) => k.toLowerCase() === 'sec-websocket-extensions')?.[1];
      assert.match(hdr, /permessage-deflate; server_no_context_takeover; client_no_context_takeover/);

      const count = (pred) => page.evaluate(`window.events.filter(${pred}).length`);
      await until(async () => (await count('e => e.type === "snapshot"')) >= 1, { what: 'snapshot' });
      const before = plain.events.filter(isMeter).length;
      await makeEvents(10);
      await sleep(30);
      await makeEvents(10);
      await plain.waitEvents(isMeter, before + 20);
      await until(async () => (await count(`e => e.type === "meter"`)) >= before + 20,
        { timeout: 10000, what: '20 meter events in Chromium' });
      const inPage = await page.evaluate(() =>
        window.events.filter((e) => e.type === 'meter').map((e) => JSON.stringify(e)));
      assert.deepEqual(inPage, plain.events.filter(isMeter).map((e) => JSON.stringify(e)));
      assert.ok(await page.evaluate(() => window.frames_) > 2);

      // The browser's own messages, compressed by Chromium.
      await page.evaluate(() => {
        for (let i = 0; i < 3; i++) window.ws.send(JSON.stringify({ op: 'ping', i }));
      });
      await until(async () => (await count('e => e.type === "pong"')) >= 3, { what: '3 pongs' });
      await page.evaluate(() => window.ws.close());
      await plain.close();
    } finally {
      await ctx.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });
