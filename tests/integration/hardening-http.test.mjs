// The web port's HTTP details, REST scope and sign-in under attack (the
// hardening issue, items 7, 8, 13, 14, 15): empty bodies, Content-Length with
// Transfer-Encoding, security headers, static 404s and pipelined requests
// over raw sockets, large tokens, /metrics behind a token, transactions
// filtered by the token's chargers in the query, sign-in throttled per
// (name, address) and per address so a name is never locked out from an
// address that has not failed, a sign-in queue instead of 503s, and a
// first-start code that a busy answer does not spend.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server, until, sleep, iso } from './lib/server.mjs';
import { craftJwt, claims, boot, get, uiOpen } from './lib/ui.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const WEB_ROOT = path.resolve(here, '../../web');
const SECRET = 'hardening-http-secret-0123456789abcdef-XYZ';
const ENV = { FLASHCHARGE_JWT_SECRET: SECRET };
const token = (over = {}) => craftJwt({ alg: 'HS256', typ: 'JWT' }, claims(over), SECRET);

// Sends text on a fresh TCP connection and parses the HTTP responses that
// come back until `want` of them arrived, the server closed, or timeout ms
// passed. Returns {responses: [{status, headers, body}], closed}.
function rawHttp(port, text, { want = 1, timeout = 5000, localAddress } = {}) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    let buf = Buffer.alloc(0);
    const responses = [];
    let closed = false;
    let timer;
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve({ responses, closed });
    };
    const parse = () => {
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1').split('\r\n');
        const headers = {};
        for (const l of head.slice(1)) {
          const i = l.indexOf(':');
          headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        const len = Number(headers['content-length'] ?? 0);
        if (buf.length < end + 4 + len) return;
        responses.push({
          status: Number(head[0].split(' ')[1]),
          headers,
          body: buf.subarray(end + 4, end + 4 + len).toString('utf8'),
        });
        buf = buf.subarray(end + 4 + len);
        if (responses.length >= want) done();
      }
    };
    s.on('connect', () => s.write(text));
    s.on('data', (d) => { buf = Buffer.concat([buf, d]); parse(); });
    s.on('error', () => {});
    s.on('close', () => { closed = true; done(); });
    timer = setTimeout(done, timeout);
  });
}

// node's http with a local address (127.0.0.2 is loopback too on Linux).
function post(port, p, body, { localAddress = '127.0.0.1', timeout = 60000 } = {}) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request({
      host: '127.0.0.1', port, path: p, method: 'POST', localAddress, agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      timeout,
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, json, text });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(data);
  });
}

const login = (srv, body, opts) => post(srv.httpPort, '/api/login', body, opts);

async function metric(srv, name, headers = {}) {
  const r = await srv.http('/metrics', { headers });
  const line = r.text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : undefined;
}

// ---- one server for the HTTP details and REST ---------------------------------

let srv;
let tx1;
let tx2;

before(async () => {
  srv = await Server.start({
    chargers: [{ id: 'CP1' }, { id: 'CP2' }],
    tags: [{ tag: 'TAG1' }],
    env: ENV,
    args: ['--web-root', WEB_ROOT],
  });
  // CP1's transaction is older than CP2's: newest first, CP2's comes first.
  const t = Date.now() - 3600_000;
  const cp1 = await srv.connect('CP1');
  await boot(cp1);
  tx1 = (await cp1.call('StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart: 0, timestamp: iso(t) })).transactionId;
  await cp1.call('StopTransaction', { transactionId: tx1, meterStop: 100, timestamp: iso(t + 60_000), reason: 'Local' });
  const cp2 = await srv.connect('CP2');
  await boot(cp2);
  tx2 = (await cp2.call('StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart: 0, timestamp: iso(t + 600_000) })).transactionId;
  await cp2.call('StopTransaction', { transactionId: tx2, meterStop: 100, timestamp: iso(t + 660_000), reason: 'Local' });
  await cp1.close();
  await cp2.close();
});

after(async () => {
  await srv?.cleanup();
});

test('empty POST bodies (chunked, Content-Length: 0, fetch) are answered and the server lives', async () => {
  // lws 4.1 does not decode chunked request bodies: 411, send a length
  const chunked = await rawHttp(srv.httpPort,
    'POST /api/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
  const zero = await rawHttp(srv.httpPort, 'POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
  await sleep(200); // a crash takes a moment to be seen
  assert.ok(srv.alive, srv.tail());
  assert.doesNotMatch(srv.stderr, /runtime error|AddressSanitizer/);
  assert.equal(chunked.responses[0]?.status, 411, JSON.stringify(chunked));
  assert.equal(zero.responses[0]?.status, 400, JSON.stringify(zero));
  const r = await srv.http('/api/login', { method: 'POST', body: '' });
  assert.equal(r.status, 400);
});

test('Content-Length with Transfer-Encoding is refused with 400 and counted', async () => {
  const before_ = await metric(srv, 'flashcharge_http_refused_total{reason="ambiguous_length"}');
  const r = await rawHttp(srv.httpPort,
    'POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
  assert.equal(r.responses[0]?.status, 400, JSON.stringify(r));
  assert.match(r.responses[0].body, /Transfer-Encoding/);
  assert.equal(await metric(srv, 'flashcharge_http_refused_total{reason="ambiguous_length"}'), before_ + 1);
  assert.match(srv.stderr, /event=http_refused reason=content_length_and_transfer_encoding peer=127\.0\.0\.1/);
});

test('every answer of the web port carries nosniff, no framing and a CSP', async () => {
  for (const p of ['/', '/app.css', '/js/main.js', '/healthz', '/api/chargers', '/no-such-file.txt']) {
    const r = await srv.http(p);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', p);
    assert.equal(r.headers.get('x-frame-options'), 'DENY', p);
    const csp = r.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/, p);
    assert.match(csp, /frame-ancestors 'none'/, p);
    assert.match(csp, /script-src 'self'/, p);
  }
});

test('a static file that is not there gets a 404 (raw socket)', async () => {
  const r = await rawHttp(srv.httpPort, 'GET /no-such-file.txt HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(r.responses.length, 1, JSON.stringify(r));
  assert.equal(r.responses[0].status, 404);
  const dir = await rawHttp(srv.httpPort, 'GET /js/nothing-here.js HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(dir.responses[0]?.status, 404, JSON.stringify(dir));
});

test('pipelined GETs are each answered, in order (raw socket)', async () => {
  const tok = token();
  const r = await rawHttp(srv.httpPort,
    'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' +
    `GET /api/chargers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tok}\r\n\r\n` +
    'GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n' +
    'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n', { want: 4 });
  assert.deepEqual(r.responses.map((x) => x.status), [200, 200, 404, 200], JSON.stringify(r.responses.map((x) => x.body.slice(0, 60))));
  assert.equal(JSON.parse(r.responses[0].body).status, 'ok');
  assert.deepEqual(JSON.parse(r.responses[1].body).map((c) => c.id).sort(), ['CP1', 'CP2']);
  assert.match(r.responses[3].body, /flashcharge_connections/);
  // Behind an answer that waits for the store, a pipelined request is never
  // answered out of order: the connection closes, for the client to retry.
  const w = await rawHttp(srv.httpPort,
    `GET /api/transactions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tok}\r\n\r\n` +
    'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', { want: 2 });
  if (w.responses.length) assert.ok(Array.isArray(JSON.parse(w.responses[0].body)), JSON.stringify(w.responses));
  if (w.responses.length < 2) assert.ok(w.closed);
  assert.ok(srv.alive);
});

test('a token listing 80 chargers (5.6 KB) works in Authorization and ?token=; one over 8 KiB gets 401', async () => {
  const ids = Array.from({ length: 80 }, (_, i) => `CHARGER-${String(i).padStart(40, '0')}`);
  const big = token({ chargers: ['CP1', ...ids] });
  assert.ok(big.length > 5500, `token of ${big.length} bytes`);
  const h = await get(srv, '/api/chargers', big);
  assert.equal(h.status, 200, h.text);
  assert.deepEqual(h.json.map((c) => c.id), ['CP1']);
  const q = await srv.http(`/api/chargers?token=${big}`);
  assert.equal(q.status, 200, q.text);
  const u = await uiOpen(srv, { token: big, charger: 'CP1' });
  await u.close();
  // The documented bound: tokens up to 8 KiB are read; a longer one is
  // answered 401, not dropped.
  let n = 80;
  let huge;
  do {
    huge = token({ chargers: Array.from({ length: n++ }, (_, i) => `C-${String(i).padStart(40, '0')}`) });
  } while (huge.length <= 8192);
  const r = await get(srv, '/api/chargers', huge);
  assert.equal(r.status, 401, r.text);
});

test('a token limited to CP1 lists CP1\'s transaction with limit=1; another charger\'s is as missing as none', async () => {
  const cp1 = token({ chargers: ['CP1'] });
  const one = await get(srv, '/api/transactions?limit=1', cp1);
  assert.equal(one.status, 200, one.text);
  assert.deepEqual(one.json.map((t) => t.id), [tx1]);
  const all = await get(srv, '/api/transactions', cp1);
  assert.deepEqual(all.json.map((t) => t.id), [tx1]);
  const admin = await get(srv, '/api/transactions?limit=1', token());
  assert.deepEqual(admin.json.map((t) => t.id), [tx2]);
  const mine = await get(srv, `/api/transactions/${tx1}`, cp1);
  assert.equal(mine.status, 200, mine.text);
  const other = await get(srv, `/api/transactions/${tx2}`, cp1);
  const missing = await get(srv, '/api/transactions/987654321', cp1);
  assert.equal(other.status, 404, other.text);
  assert.equal(missing.status, 404);
  assert.deepEqual(other.json, missing.json);
  const none = await get(srv, '/api/transactions', token({ chargers: ['CP9'] }));
  assert.deepEqual(none.json, []);
});

test('the server stops cleanly after the requests above (leaks are checked under ASan)', async () => {
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
});

test('/metrics can require a bearer token (--metrics-token-file); refusals counted, logged once', async () => {
  const s = new Server({ env: { ...ENV, FLASHCHARGE_METRICS_TOKEN_FILE: '' } });
  try {
    const file = path.join(s.dir, 'metrics-token');
    writeFileSync(file, 'scrape-me-0123456789\n');
    s.opts.env.FLASHCHARGE_METRICS_TOKEN_FILE = file;
    await s.spawn();
    assert.equal((await s.http('/metrics')).status, 401);
    assert.equal((await s.http('/metrics', { headers: { authorization: 'Bearer wrong' } })).status, 401);
    const ok = await s.http('/metrics', { headers: { authorization: 'Bearer scrape-me-0123456789' } });
    assert.equal(ok.status, 200);
    assert.match(ok.text, /flashcharge_http_refused_total\{reason="metrics_unauthorized"\} 2/);
    assert.equal(s.stderr.match(/reason=metrics_unauthorized/g)?.length, 1, 'logged once per address and minute');
    assert.doesNotMatch(s.stderr, /scrape-me/);
    assert.equal((await s.http('/healthz')).status, 200, '/healthz stays open');
    assert.deepEqual(await s.stop(), { code: 0, signal: null }, s.tail());
  } finally {
    await s.cleanup();
  }
});

// ---- sign-in -------------------------------------------------------------------

test('failed sign-ins lock a name out only where they came from; 127.0.0.2 still signs in', async () => {
  const s = new Server({ env: ENV });
  try {
    s.cli(['user', 'add', 'carol', '--role', 'admin', '--password', 'carol-password']);
    await s.spawn();
    for (let i = 0; i < 5; i++) {
      assert.equal((await login(s, { username: 'carol', password: `guess-${i}-xxxx` })).status, 401);
    }
    const blocked = await login(s, { username: 'carol', password: 'carol-password' });
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.headers['retry-after']) > 0);
    // the admin signs in from an address that never failed
    const other = await login(s, { username: 'carol', password: 'carol-password' }, { localAddress: '127.0.0.2' });
    assert.equal(other.status, 200, other.text);
    // per address: 20 failures from 127.0.0.1, any names, block it for every name
    for (let i = 0; i < 15; i++) {
      assert.equal((await login(s, { username: `nobody-${i}`, password: 'whatever-xx' })).status, 401);
    }
    assert.equal((await login(s, { username: 'dave', password: 'whatever-xx' })).status, 429);
    const checks = await metric(s, 'flashcharge_login_verifications_total');
    assert.equal((await login(s, { username: 'erin', password: 'whatever-xx' })).status, 429);
    assert.equal(await metric(s, 'flashcharge_login_verifications_total'), checks, 'refused before any hashing');
    assert.equal((await login(s, { username: 'carol', password: 'carol-password' }, { localAddress: '127.0.0.2' })).status, 200);
    assert.equal(await metric(s, 'flashcharge_login_total{result="throttled"}'), 3);
    // throttling is logged once per address and window, not per attempt
    const lines = s.stderr.split('\n').filter((l) => /event=login result=throttled/.test(l));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0], /peer=127\.0\.0\.1/);
  } finally {
    await s.cleanup();
  }
});

test('the slow bound per name refuses only addresses that failed themselves', async () => {
  const s = new Server({ env: ENV, args: ['--login-max-per-user', '3'] });
  try {
    s.cli(['user', 'add', 'frank', '--role', 'viewer', '--password', 'frank-password']);
    await s.spawn();
    for (let i = 0; i < 3; i++) {
      assert.equal((await login(s, { username: 'frank', password: `guess-${i}-xxxx` })).status, 401);
    }
    // 3 failures of frank everywhere: 127.0.0.1 failed, so it is refused for frank…
    assert.equal((await login(s, { username: 'frank', password: 'frank-password' })).status, 429);
    // …but 127.0.0.2 never failed
    assert.equal((await login(s, { username: 'frank', password: 'frank-password' }, { localAddress: '127.0.0.2' })).status, 200);
  } finally {
    await s.cleanup();
  }
});

test('30 concurrent sign-ins all succeed: they queue for the verifications, none gets 503', async () => {
  const s = new Server({ env: ENV });
  try {
    s.cli(['user', 'add', 'gina', '--role', 'viewer', '--password', 'gina-password']);
    await s.spawn();
    const all = await Promise.all(Array.from({ length: 30 },
      () => login(s, { username: 'gina', password: 'gina-password' })));
    assert.deepEqual(all.map((r) => r.status), Array(30).fill(200));
    assert.equal(await metric(s, 'flashcharge_login_total{result="ok"}'), 30);
    assert.equal(await metric(s, 'flashcharge_login_total{result="busy"}'), 0);
    assert.equal(await metric(s, 'flashcharge_login_running'), 0);
    assert.equal(await metric(s, 'flashcharge_login_queued'), 0);
    assert.deepEqual(await s.stop(), { code: 0, signal: null }, s.tail());
  } finally {
    await s.cleanup();
  }
});

test('a sign-in answered 503 busy does not spend the first-start code', async () => {
  // One verification at a time and no queue: any sign-in during another is busy.
  // The first-start link is logged only where the web UI is served.
  const s = new Server({ env: { FLASHCHARGE_LOGIN_CONCURRENCY: '1', FLASHCHARGE_LOGIN_QUEUE: '0' },
    args: ['--web-root', WEB_ROOT] });
  try {
    await s.spawn();
    await until(() => /#login=/.test(s.stderr), { what: 'the first-start line' });
    const code = s.stderr.match(/#login=(\S+)/)[1];
    // Wrong names keep the verifications busy (a dummy hash each)…
    const guesses = Array.from({ length: 12 },
      (_, i) => login(s, { username: `x${i}`, password: 'whatever-xx' }).catch((e) => e));
    await sleep(150);
    // …while the code is tried until it works: busy answers must not spend it.
    let ok;
    const seen = [];
    for (let i = 0; i < 200 && !ok; i++) {
      const r = await login(s, { code });
      seen.push(r.status);
      assert.ok(r.status === 200 || r.status === 503, `code answered ${r.status} after ${seen.join(',')}`);
      if (r.status === 200) ok = r;
      else await sleep(50);
    }
    assert.ok(ok, `never signed in: ${seen.join(',')}`);
    assert.equal(ok.json.role, 'admin');
    await Promise.all(guesses);
    assert.equal((await login(s, { code })).status, 401, 'spent once used');
    assert.deepEqual(await s.stop(), { code: 0, signal: null }, s.tail());
  } finally {
    await s.cleanup();
  }
});
