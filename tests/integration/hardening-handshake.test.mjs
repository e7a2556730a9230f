// Handshake limits on both ports and charger password brute force (the
// hardening issue, items 5 and 6, and the per-address handshake rate of item 2):
//   - connections not yet a WebSocket are limited per address and port, and
//     closed at accept beyond it; another address is not affected;
//   - the handshake deadline is an option (was a fixed 10 s);
//   - new connections per address are rate-limited (token bucket);
//   - failed charger logins are throttled per (id, address), per address and,
//     for the addresses that failed, per id: 429 with Retry-After, without the
//     password being checked; a charger on another address still gets in;
//   - one summary log line per interval instead of a warning per attempt;
//   - `charger add` refuses AuthorizationKeys shorter than 16 bytes; a shorter
//     key stored before keeps working, with a warning.
// Every client comes from loopback: 127.0.0.1 is the attacker, other
// 127.0.0.x addresses (also loopback on Linux) are the bystanders.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { Server, until, sleep, withTimeout, cli, parseLogfmt } from './lib/server.mjs';

const servers = [];
after(async () => {
  for (const s of servers) await s.cleanup();
});

async function start(opts) {
  const s = await Server.start(opts);
  servers.push(s);
  return s;
}

// A TCP connection that says nothing. closed: resolves when the server hangs up.
function bare(port, from = '127.0.0.1') {
  const sock = net.connect({ port, host: '127.0.0.1', localAddress: from });
  sock.on('error', () => {});
  const closed = new Promise((resolve) => sock.once('close', () => resolve(true)));
  const connected = new Promise((resolve) => sock.once('connect', resolve));
  return { sock, closed, connected };
}

// One GET on a connection of its own. {status, headers, body} or {error}.
function get(port, path, from = '127.0.0.1') {
  return withTimeout(new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, localAddress: from, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', (e) => resolve({ error: e.code || e.message }));
  }), 10000, `GET ${path} from ${from}`);
}

// An OCPP handshake from address `from`: {open: true}, {status, headers} when
// refused over HTTP, or {error} when the connection was dropped.
function ocpp(srv, id, { from = '127.0.0.1', password, user = id } = {}) {
  const headers = {};
  if (password != null) headers.authorization = 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
  return withTimeout(new Promise((resolve) => {
    const ws = new WebSocket(srv.ocppUrl(id), ['ocpp1.6'], { headers, localAddress: from, handshakeTimeout: 8000 });
    ws.once('unexpected-response', (req, res) => {
      res.resume();
      resolve({ status: res.statusCode, headers: res.headers });
      ws.terminate();
    });
    ws.once('open', () => {
      resolve({ open: true });
      ws.terminate();
    });
    ws.once('error', (e) => resolve({ error: e.code || e.message }));
  }), 10000, `OCPP handshake of ${id} from ${from}`);
}

async function metrics(srv, from = '127.0.0.99') {
  const r = await get(srv.httpPort, '/metrics', from);
  assert.equal(r.status, 200, JSON.stringify(r));
  return r.body;
}

// The value of one sample of /metrics (0 when absent).
function sample(text, name, labels = '') {
  const want = labels ? `${name}{${labels}} ` : `${name} `;
  const line = text.split('\n').find((l) => l.startsWith(want));
  return line ? Number(line.slice(want.length)) : 0;
}

const KEY = 'handshake-test-key-0123456789';

// ---- item 5: sockets that never finish their handshake ------------------------

test('OCPP port: connections in handshake are limited per address; others still get in', { timeout: 60_000 }, async () => {
  const srv = await start({ chargers: [{ id: 'CP-H1' }],
    args: ['--handshake-max-per-ip', '4', '--handshake-timeout', '60'] });
  const held = [];
  for (let i = 0; i < 4; i++) {
    const b = bare(srv.ocppPort);
    await b.connected;
    held.push(b);
  }
  // The server has taken them (accepted in order): the fifth is one too many.
  const fifth = bare(srv.ocppPort);
  await fifth.connected;
  const gone = await Promise.race([fifth.closed, sleep(5000).then(() => false)]);
  assert.ok(gone, 'the fifth half-open connection from 127.0.0.1 was not closed');
  assert.deepEqual(await ocpp(srv, 'CP-H1').then((r) => !!r.open), false,
    'a sixth connection from 127.0.0.1 became a WebSocket');
  for (const b of held) assert.equal(b.sock.destroyed, false, 'a held connection was closed early');

  // Another address, and the other port, are not affected.
  assert.deepEqual(await ocpp(srv, 'CP-H1', { from: '127.0.0.2' }), { open: true });
  assert.equal((await get(srv.httpPort, '/healthz')).status, 200);
  const m = await metrics(srv);
  assert.ok(sample(m, 'flashcharge_connections_refused_total', 'port="ocpp",reason="concurrent"') >= 2, m);
  assert.equal(sample(m, 'flashcharge_handshakes_in_progress', 'port="ocpp"'), 4, m);

  // Once they go, 127.0.0.1 gets in again.
  for (const b of held) b.sock.destroy();
  await until(async () => (await ocpp(srv, 'CP-H1')).open, { timeout: 10_000, what: 'CP-H1 from 127.0.0.1 again' });
  // One log line for the offender, not one per refused connection.
  const lines = srv.stderr.split('\n').filter((l) => l.includes('event=connections_refused'));
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0], /port=ocpp peer=127\.0\.0\.1 reason=concurrent/);
  // With connections in handshake at the time (counted, then released by
  // lws as it closes them): a clean exit (under ASan: no leak either).
  const again = bare(srv.ocppPort);
  await again.connected;
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
});

test('web port: half-open connections from one address cannot take /healthz away from others', { timeout: 60_000 }, async () => {
  const srv = await start({ args: ['--handshake-max-per-ip', '4', '--handshake-timeout', '60'] });
  const held = [];
  for (let i = 0; i < 4; i++) {
    const b = bare(srv.httpPort);
    await b.connected;
    held.push(b);
  }
  const r = await get(srv.httpPort, '/healthz');
  assert.ok(r.error, `a fifth connection from 127.0.0.1 was served: ${JSON.stringify(r)}`);
  assert.equal((await get(srv.httpPort, '/healthz', '127.0.0.2')).status, 200);
  const m = await metrics(srv);
  assert.ok(sample(m, 'flashcharge_connections_refused_total', 'port="web",reason="concurrent"') >= 1, m);
  for (const b of held) b.sock.destroy();
  await until(async () => (await get(srv.httpPort, '/healthz')).status === 200,
    { timeout: 10_000, what: '/healthz from 127.0.0.1 again' });
});

test('the handshake deadline is an option: a silent connection is closed after it', { timeout: 30_000 }, async () => {
  const srv = await start({ args: ['--handshake-timeout', '2'] });
  const a = bare(srv.ocppPort);
  const b = bare(srv.httpPort);
  await a.connected;
  await b.connected;
  // The old fixed deadline was 10 s.
  await withTimeout(a.closed, 8000, 'the silent OCPP connection to be closed');
  await withTimeout(b.closed, 8000, 'the silent web connection to be closed');
  assert.equal(srv.cli(['charger', 'list']).code, 0);
});

test('new connections are rate-limited per address (token bucket), on both ports', { timeout: 60_000 }, async () => {
  const srv = await start({ chargers: [{ id: 'CP-R1' }],
    args: ['--handshake-rate', '1', '--handshake-burst', '3'] });
  for (let i = 0; i < 3; i++) assert.equal((await get(srv.httpPort, '/healthz')).status, 200, `GET ${i}`);
  const r4 = await get(srv.httpPort, '/healthz');
  assert.ok(r4.error, `the fourth connection within a minute was served: ${JSON.stringify(r4)}`);
  assert.equal((await get(srv.httpPort, '/healthz', '127.0.0.2')).status, 200);

  for (let i = 0; i < 3; i++) assert.deepEqual(await ocpp(srv, 'CP-R1'), { open: true }, `handshake ${i}`);
  const h4 = await ocpp(srv, 'CP-R1');
  assert.ok(h4.error, `the fourth OCPP handshake within a minute: ${JSON.stringify(h4)}`);
  assert.deepEqual(await ocpp(srv, 'CP-R1', { from: '127.0.0.2' }), { open: true });

  const m = await metrics(srv);
  assert.equal(sample(m, 'flashcharge_connections_refused_total', 'port="web",reason="rate"'), 1, m);
  assert.equal(sample(m, 'flashcharge_connections_refused_total', 'port="ocpp",reason="rate"'), 1, m);
});

// ---- item 6: charger passwords guessed online --------------------------------

function logLines(srv, re) {
  return srv.stderr.split('\n').filter((l) => re.test(l));
}

test('failed logins per (charger, address): 429 without the password checked; the charger elsewhere gets in', { timeout: 60_000 }, async () => {
  const srv = await start({ chargers: [{ id: 'CP-BF', password: KEY }],
    args: ['--auth-fail-max', '3', '--handshake-log-interval', '1', '--log-level', 'info'] });
  for (let i = 0; i < 3; i++) {
    const r = await ocpp(srv, 'CP-BF', { password: `guess-number-${i}-0123456789` });
    assert.equal(r.status, 401, `guess ${i}: ${JSON.stringify(r)}`);
  }
  const t = await ocpp(srv, 'CP-BF', { password: 'guess-number-3-0123456789' });
  assert.equal(t.status, 429, JSON.stringify(t));
  assert.ok(Number(t.headers['retry-after']) >= 1, JSON.stringify(t.headers));
  // Even the right password is not checked from here now.
  assert.equal((await ocpp(srv, 'CP-BF', { password: KEY })).status, 429);
  // The charger itself, on its own address, is not locked out by the guesses.
  assert.deepEqual(await ocpp(srv, 'CP-BF', { from: '127.0.0.2', password: KEY }), { open: true });

  const m = await metrics(srv);
  assert.equal(sample(m, 'flashcharge_ocpp_handshakes_refused_total', 'reason="bad_credentials"'), 3, m);
  assert.equal(sample(m, 'flashcharge_ocpp_handshakes_refused_total', 'reason="throttled"'), 2, m);

  // No warning per guess: one summary line per interval, with the counts (the
  // attempts may straddle two intervals: their lines add up).
  const total = (key) => logLines(srv, /event=auth_failures /)
    .reduce((n, l) => n + Number(parseLogfmt(l)[key]), 0);
  await until(() => total('failures') === 3 && total('throttled') === 2,
    { timeout: 10_000, what: 'summary lines counting 3 failures and 2 throttled logins' });
  for (const l of logLines(srv, /event=auth_failures /).filter((x) => !/ failures=0 /.test(x))) {
    assert.match(l, /top_peer=127\.0\.0\.1 /);
    assert.match(l, /top_id="CP-BF"/);
  }
  assert.ok(logLines(srv, /event=auth_failures /).length <= 3, srv.tail());
  assert.equal(logLines(srv, /level=warn.*cp=CP-BF/).length, 0, logLines(srv, /cp=CP-BF/).join('\n'));
  assert.ok(!srv.stderr.includes('guess-number'), 'a guessed password is in the log');
  assert.ok(!srv.stderr.includes(KEY), 'the key is in the log');
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
});

test('failed logins per charger id from many addresses: the addresses that failed are throttled, a new one is checked', { timeout: 60_000 }, async () => {
  const srv = await start({ chargers: [{ id: 'CP-ID', password: KEY }],
    args: ['--auth-fail-max', '10', '--auth-fail-max-id', '2'] });
  assert.equal((await ocpp(srv, 'CP-ID', { from: '127.0.0.3', password: 'wrong-wrong-wrong-wrong-1' })).status, 401);
  assert.equal((await ocpp(srv, 'CP-ID', { from: '127.0.0.4', password: 'wrong-wrong-wrong-wrong-2' })).status, 401);
  // The id has had its failures: an address that failed for it waits…
  assert.equal((await ocpp(srv, 'CP-ID', { from: '127.0.0.3', password: 'wrong-wrong-wrong-wrong-3' })).status, 429);
  assert.equal((await ocpp(srv, 'CP-ID', { from: '127.0.0.4', password: KEY })).status, 429);
  // …one that never failed is still checked: the charger gets in, a guess gets 401.
  assert.deepEqual(await ocpp(srv, 'CP-ID', { from: '127.0.0.5', password: KEY }), { open: true });
  assert.equal((await ocpp(srv, 'CP-ID', { from: '127.0.0.6', password: 'wrong-wrong-wrong-wrong-4' })).status, 401);
  assert.equal((await ocpp(srv, 'CP-ID', { from: '127.0.0.6', password: KEY })).status, 429);
});

test('failed logins per address over many ids (unknown ones too): the address is throttled, others are not', { timeout: 60_000 }, async () => {
  const srv = await start({ chargers: [{ id: 'CP-A1', password: KEY }, { id: 'CP-A2' }],
    args: ['--auth-fail-max-ip', '3'] });
  assert.equal((await ocpp(srv, 'CP-A1', { from: '127.0.0.7', password: 'wrong-wrong-wrong-wrong-1' })).status, 401);
  assert.equal((await ocpp(srv, 'CP-NOBODY-1', { from: '127.0.0.7' })).status, 401);
  assert.equal((await ocpp(srv, 'CP-NOBODY-2', { from: '127.0.0.7', password: 'x' })).status, 401);
  const r = await ocpp(srv, 'CP-A2', { from: '127.0.0.7' });
  assert.equal(r.status, 429, JSON.stringify(r));
  assert.ok(Number(r.headers['retry-after']) >= 1);
  assert.deepEqual(await ocpp(srv, 'CP-A2', { from: '127.0.0.8' }), { open: true });
  assert.deepEqual(await ocpp(srv, 'CP-A1', { from: '127.0.0.8', password: KEY }), { open: true });
});

test('charger add refuses an AuthorizationKey shorter than 16 bytes', async () => {
  const srv = await start({});
  const short = srv.cli(['charger', 'add', 'CP-SHORT', '--password', 'zzz']);
  assert.notEqual(short.code, 0, short.stdout);
  assert.match(short.stderr, /16/);
  assert.notEqual(srv.cli(['charger', 'add', 'CP-SHORT', '--password', 'a'.repeat(15)]).code, 0);
  const env = cli(['charger', 'add', 'CP-SHORT', '--db', srv.db], { env: { FLASHCHARGE_CHARGER_PASSWORD: 'zzz' } });
  assert.notEqual(env.code, 0, env.stdout);
  assert.deepEqual(srv.sql("SELECT id FROM chargers WHERE id = 'CP-SHORT'"), []);
  assert.equal(srv.cli(['charger', 'add', 'CP-SHORT', '--password', 'a'.repeat(16)]).code, 0);
});

test('a key shorter than 16 bytes stored before still works, with one warning', { timeout: 30_000 }, async () => {
  const srv = await start({ chargers: [{ id: 'CP-OLD', password: KEY }] });
  // What `charger add --password zzz` used to store.
  const salt = randomBytes(16);
  const mac = createHmac('sha256', salt).update('zzz').digest('hex');
  srv.sql(`UPDATE chargers SET auth = 'hmac-sha256$${salt.toString('hex')}$${mac}' WHERE id = 'CP-OLD'`);
  await until(async () => (await ocpp(srv, 'CP-OLD', { password: 'zzz' })).open,
    { timeout: 10_000, what: 'CP-OLD with its old short key' });
  assert.equal((await ocpp(srv, 'CP-OLD', { password: 'zzzz' })).status, 401);
  assert.deepEqual(await ocpp(srv, 'CP-OLD', { password: 'zzz' }), { open: true });
  const warned = logLines(srv, /event=short_authorization_key/);
  assert.equal(warned.length, 1, warned.join('\n'));
  assert.match(warned[0], /level=warn cp=CP-OLD .*bytes=3 /);
});
