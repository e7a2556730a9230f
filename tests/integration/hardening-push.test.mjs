// Hardening of the UI WebSocket (/ws) against hostile browsers: what a token
// holder can make the server spend through subscriptions, tokens that expire
// or users that change while a socket is open, and subprotocols that are not
// the browser's. Each test reproduces an attack of the hardening review.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Server, until, withTimeout } from './lib/server.mjs';
import { mint, craftJwt, claims, now, uiOpen, uiUrl, UiClient, get, boot, statusN } from './lib/ui.mjs';

const SECRET = 'hardening-push-secret-0123456789abcdef0123';
const ENV = { FLASHCHARGE_JWT_SECRET: SECRET };

const servers = [];
after(async () => {
  for (const s of servers) await s.cleanup();
});

async function start(opts) {
  const s = new Server();
  servers.push(s);
  s.opts = opts;
  s.register();
  await s.spawn();
  return s;
}

// The value of one /metrics sample (its whole name, labels included).
async function metric(srv, name) {
  const m = await srv.http('/metrics');
  const line = m.text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.split(' ').pop()) : NaN;
}

const logLines = (srv, re) => srv.stderr.split('\n').filter((l) => re.test(l));

const login = async (srv, username, password) => {
  const r = await srv.http('/api/login', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  assert.equal(r.status, 200, r.text);
  return r.json.token;
};

// A /ws handshake offering subprotocols: {open, protocol, client} or {status, body}.
function openWithProtocols(srv, token, protocols) {
  const ws = new WebSocket(uiUrl(srv, { token }), protocols, { handshakeTimeout: 5000 });
  const c = new UiClient(ws);
  srv.clients.add(c);
  return withTimeout(new Promise((resolve) => {
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => { ws.terminate(); resolve({ status: res.statusCode, body }); });
    });
    ws.once('error', (e) => resolve({ error: e.message }));
    ws.once('open', () => resolve({ open: true, protocol: ws.protocol, client: c }));
  }), 7000, 'a /ws handshake');
}

// ---- item 1: subscriptions ----------------------------------------------------

test('subscribe: ids the bus has not seen cost no channel, in one O(1) record each; a charger that appears later reaches its subscribers', { timeout: 30_000 }, async () => {
  const srv = await start({
    chargers: [{ id: 'REG1' }, { id: 'SEEN1' }], env: ENV,
    args: ['--unknown-chargers', 'accept'],
  });
  const cp = await srv.connect('SEEN1');
  await boot(cp);
  await statusN(cp, 'Available');
  await cp.close();
  const channels = await metric(srv, 'flashcharge_bus_channels');
  assert.ok(channels >= 1, `channels: ${channels}`);

  // A viewer names 2,000 ids no charger has: each gets the snapshot of a
  // charger never seen (as before), and the bus holds no channel for any.
  const viewer = mint(SECRET, { sub: 'viewer-1', role: 'viewer', chargers: '*' });
  const u = await uiOpen(srv, { token: viewer });
  const ids = Array.from({ length: 2000 }, (_, i) => `GHOST-${i}`);
  u.send({ op: 'subscribe', chargers: ids });
  await u.waitCount((e) => e.type === 'snapshot', 2000, { what: '2,000 snapshots', timeout: 15_000 });
  const g = u.events.find((e) => e.type === 'snapshot' && e.charger === 'GHOST-7');
  assert.deepEqual([g.seq, g.data.online, g.data.connectors], [0, false, []]);
  assert.equal(await metric(srv, 'flashcharge_bus_channels'), channels,
    'no bus channel for an id that was never seen');
  assert.equal(await metric(srv, 'flashcharge_ui_subscriptions'), 2000);
  assert.equal(await metric(srv, 'flashcharge_ui_subscriptions_waiting'), 2000);
  assert.equal(u.events.filter((e) => e.type === 'error').length, 0);

  // A registered charger that has never connected (README's quick start
  // watches CP001 before it connects; the bus knows the registry's chargers
  // from the start), a charger seen before, and one of the ghosts that turns
  // out to be a real charger (unknown chargers accepted): their events reach
  // the subscriber from their first one on.
  u.send({ op: 'subscribe', chargers: ['REG1', 'SEEN1'] });
  await u.waitFor((e) => e.type === 'snapshot' && e.charger === 'REG1', { what: 'the snapshot of REG1' });
  await u.waitFor((e) => e.type === 'snapshot' && e.charger === 'SEEN1', { what: 'the snapshot of SEEN1' });
  assert.equal(await metric(srv, 'flashcharge_ui_subscriptions'), 2002);
  assert.equal(await metric(srv, 'flashcharge_ui_subscriptions_waiting'), 2000);
  for (const id of ['REG1', 'GHOST-7']) {
    const c = await srv.connect(id);
    await boot(c);
    await statusN(c, 'Faulted');
    const first = await u.waitFor((e) => e.charger === id && e.seq > 0 && e.type !== 'snapshot',
      { what: `the first event of ${id}` });
    assert.equal(first.seq, 1, `${id}: the first event is not missed: ${JSON.stringify(first)}`);
    await u.waitFor((e) => e.type === 'status' && e.charger === id && e.data.status === 'Faulted',
      { what: `the status of ${id}` });
    await c.close();
  }
  assert.equal(await metric(srv, 'flashcharge_ui_subscriptions_waiting'), 1999);

  // "*" still sees chargers as they come.
  const star = await uiOpen(srv, { token: viewer });
  star.send({ op: 'subscribe', chargers: ['*'] });
  await star.waitFor((e) => e.type === 'snapshot' && e.charger === 'SEEN1');
  const late = await srv.connect('LATE1');
  await boot(late);
  await star.waitFor((e) => e.charger === 'LATE1' && e.seq > 0, { what: 'an event of LATE1 through "*"' });
  await late.close();

  // unsubscribing and closing release the records (and the channels' subscribers)
  u.send({ op: 'unsubscribe', chargers: ids.slice(0, 1000) });
  u.send({ op: 'ping' });
  await u.waitType('pong');
  assert.equal(await metric(srv, 'flashcharge_ui_subscriptions_waiting'), 1000);
  await u.close();
  await star.close();
  await until(async () => (await metric(srv, 'flashcharge_ui_subscriptions')) === 0,
    { what: 'subscriptions released with their connection' });
  assert.equal(await metric(srv, 'flashcharge_ui_subscriptions_waiting'), 0);
});

test('subscribe: a cap per connection and per subject (--ui-max-subscriptions, --ui-max-subscriptions-per-subject); refusals counted, logged once per subject per interval', { timeout: 40_000 }, async () => {
  const ids = Array.from({ length: 12 }, (_, i) => `CAP${String(i).padStart(2, '0')}`);
  const srv = await start({
    chargers: ids.map((id) => ({ id })), env: ENV,
    args: ['--ui-max-subscriptions', '5', '--ui-max-subscriptions-per-subject', '8'],
  });
  const tok = mint(SECRET, { sub: 'greedy', role: 'viewer', chargers: '*' });
  const a = await uiOpen(srv, { token: tok });
  a.send({ op: 'subscribe', chargers: ids });
  const errA = await a.waitFor((e) => e.type === 'error' && e.data?.code === 'too_many_subscriptions',
    { what: 'a too_many_subscriptions error' });
  assert.equal(errA.data.count, 7, JSON.stringify(errA.data));
  assert.deepEqual(errA.data.chargers, ids.slice(5));
  await a.waitCount((e) => e.type === 'snapshot', 5, { what: '5 snapshots' });

  // the same subject on a second connection: what is left of the 8
  const b = await uiOpen(srv, { token: tok });
  b.send({ op: 'subscribe', chargers: ids });
  const errB = await b.waitFor((e) => e.type === 'error' && e.data?.code === 'too_many_subscriptions',
    { what: 'a second too_many_subscriptions error' });
  assert.equal(errB.data.count, 9, JSON.stringify(errB.data));
  await b.waitCount((e) => e.type === 'snapshot', 3, { what: '3 snapshots' });
  // again: nothing new, and subscribing what it already has is no refusal
  b.send({ op: 'subscribe', chargers: ids.slice(0, 3), since: {} });
  b.send({ op: 'subscribe', chargers: ids.slice(3) });
  await b.waitCount((e) => e.type === 'error' && e.data?.code === 'too_many_subscriptions', 2,
    { what: 'a third refusal' });

  // another subject is not held back by this one
  const c = await uiOpen(srv, { token: mint(SECRET, { sub: 'other', role: 'viewer', chargers: '*' }) });
  c.send({ op: 'subscribe', chargers: ids.slice(0, 5) });
  await c.waitCount((e) => e.type === 'snapshot', 5, { what: 'the other subject\'s 5 snapshots' });
  assert.equal(c.events.filter((e) => e.type === 'error').length, 0);

  assert.equal(await metric(srv, 'flashcharge_ui_subscriptions'), 13);
  assert.equal(await metric(srv, 'flashcharge_ui_subscribe_refused_total'), 7 + 9 + 9);
  // three refused batches of one subject, one log line
  const lines = logLines(srv, /event=ui_subscribe_refused/);
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0], /sub="greedy"/);

  // unsubscribing frees room for the subject
  a.send({ op: 'unsubscribe', chargers: ids.slice(0, 2) });
  a.send({ op: 'ping' }); // answered after the unsubscribe: it is done
  await a.waitType('pong');
  const from = b.events.length;
  b.send({ op: 'subscribe', chargers: [ids[10], ids[11]] });
  await b.waitCount((e) => e.type === 'snapshot' && [ids[10], ids[11]].includes(e.charger), 2,
    { what: 'two snapshots after room was freed', from });
  for (const x of [a, b, c]) await x.close();
  await until(async () => (await metric(srv, 'flashcharge_ui_subscriptions')) === 0,
    { what: 'subscriptions to be released with their connections' });
});

// ---- item 3: tokens and users ---------------------------------------------------

test('a socket whose token expires is closed with 1008 (at exp + leeway), as REST starts answering 401', { timeout: 20_000 }, async () => {
  const srv = await start({ chargers: [{ id: 'EXP1' }], env: ENV, args: ['--jwt-leeway', '0'] });
  const short = craftJwt({ alg: 'HS256', typ: 'JWT' }, claims({ sub: 'short', exp: now() + 2 }), SECRET);
  const long = craftJwt({ alg: 'HS256', typ: 'JWT' }, claims({ sub: 'long', exp: now() + 3600 }), SECRET);
  const s = await uiOpen(srv, { token: short, charger: 'EXP1' });
  const l = await uiOpen(srv, { token: long, charger: 'EXP1' });
  const closed = await withTimeout(s.closed, 8000, 'the expired token\'s socket to close');
  assert.equal(closed.code, 1008, JSON.stringify(closed));
  assert.match(closed.reason, /expired/);
  assert.equal((await get(srv, '/api/chargers', short)).status, 401);
  // the other socket is untouched and still gets events
  const cp = await srv.connect('EXP1');
  await boot(cp);
  await statusN(cp, 'Available');
  await l.waitFor((e) => e.type === 'status' && e.charger === 'EXP1', { what: 'a status on the live socket' });
  assert.equal(l.closeInfo, null);
  assert.equal(await metric(srv, 'flashcharge_ui_closed_total{reason="expired"}'), 1);
  await cp.close();
  await l.close();
});

test('a removed user\'s sockets and a user whose role changed are closed with 1008; their tokens no longer open /ws', { timeout: 40_000 }, async () => {
  const srv = new Server({ env: ENV, args: ['--ui-user-check', '200'] });
  servers.push(srv);
  srv.cli(['user', 'add', 'alice', '--role', 'operator', '--password', 'alice-password']);
  srv.cli(['user', 'add', 'bob', '--role', 'viewer', '--password', 'bob-password']);
  srv.cli(['user', 'add', 'carol', '--role', 'viewer', '--password', 'carol-password']);
  await srv.spawn();
  const ta = await login(srv, 'alice', 'alice-password');
  const tb = await login(srv, 'bob', 'bob-password');
  const tc = await login(srv, 'carol', 'carol-password');
  const a1 = await uiOpen(srv, { token: ta });
  const a2 = await uiOpen(srv, { token: ta });
  const b = await uiOpen(srv, { token: tb });
  const c = await uiOpen(srv, { token: tc });
  // a token minted for a name that is no user is left alone
  const tool = await uiOpen(srv, { token: mint(SECRET, { sub: 'integration', role: 'viewer' }) });

  srv.cli(['user', 'remove', 'alice']);
  for (const x of [a1, a2]) {
    const info = await withTimeout(x.closed, 10_000, 'alice\'s socket to close');
    assert.equal(info.code, 1008, JSON.stringify(info));
    assert.match(info.reason, /user removed/);
  }
  srv.cli(['user', 'add', 'bob', '--role', 'admin', '--password', 'bob-password']);
  const info = await withTimeout(b.closed, 10_000, 'bob\'s socket to close');
  assert.equal(info.code, 1008, JSON.stringify(info));
  assert.match(info.reason, /role changed/);

  // their old tokens are refused at the handshake; bob's new one works
  for (const t of [ta, tb]) {
    await assert.rejects(uiOpen(srv, { token: t }), (e) => e.status === 401);
  }
  const b2 = await uiOpen(srv, { token: await login(srv, 'bob', 'bob-password') });
  assert.equal(c.closeInfo, null, 'carol was not touched');
  assert.equal(tool.closeInfo, null, 'a non-user subject was not touched');
  c.send({ op: 'ping' });
  await c.waitType('pong');
  assert.equal(await metric(srv, 'flashcharge_ui_closed_total{reason="revoked"}'), 3);
  for (const x of [b2, c, tool]) await x.close();
});

// ---- item 10: subprotocols ---------------------------------------------------------

test('/ws refuses the web vhost\'s internal subprotocols (no bypass of the per-subject cap); none or "fc-ui" open', { timeout: 20_000 }, async () => {
  const srv = await start({ env: ENV, args: ['--ui-max-per-subject', '2'] });
  const tok = mint(SECRET, { sub: 'one', role: 'viewer' });
  const refusedBefore = await metric(srv, 'flashcharge_ui_refused_total');
  for (const proto of [['fc-web-http'], ['fc-web-http', 'fc-ui'], ['http-only'], ['fc-ui', 'fc-web-http']]) {
    const r = await openWithProtocols(srv, tok, proto);
    assert.equal(r.status, 400, `${proto}: ${JSON.stringify({ ...r, client: undefined })}`);
    assert.match(r.body, /subprotocol/);
  }
  assert.equal(await metric(srv, 'flashcharge_ui_refused_total'), refusedBefore + 4);
  const plain = await openWithProtocols(srv, tok, []);
  assert.equal(plain.open, true);
  const named = await openWithProtocols(srv, tok, ['fc-ui']);
  assert.equal(named.open, true);
  assert.equal(named.protocol, 'fc-ui');
  await named.client.waitType('hello');
  // both count against the subject's limit of 2
  const third = await openWithProtocols(srv, tok, ['fc-ui']);
  assert.equal(third.status, 429, JSON.stringify({ ...third, client: undefined }));
  await plain.client.close();
  await named.client.close();
});

// Last: every server above stops cleanly on SIGTERM (under ASan, with leak
// detection, a leak of what these tests made the server hold fails here).
test('every server of this file exits 0 on SIGTERM', { timeout: 60_000 }, async () => {
  for (const s of servers) {
    if (!s.alive) continue;
    for (const c of s.clients) c.terminate?.();
    const exit = await s.stop();
    assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}\n${s.tail()}`);
  }
});
