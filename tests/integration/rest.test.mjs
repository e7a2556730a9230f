// REST reads (/api) with data from real charging sessions: chargers,
// snapshots, meter-value history and transactions with their filters; the
// JWT and the charger grant; JSON errors 400/401/403/404; /metrics, /healthz.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, iso } from './lib/server.mjs';
import { mint, craftJwt, claims, now, uiOpen, get, boot, statusN, meterPayload } from './lib/ui.mjs';

const SECRET = 'rest-test-secret-0123456789abcdef0123456789';
const ENV = { FLASHCHARGE_JWT_SECRET: SECRET };

let srv;
let cp1;
let adminTok;
let cp1Tok;
const T = Date.now() - 3 * 3600_000; // the sessions happened 3 hours ago, and later
const at = (min) => iso(T + min * 60_000);
const tx = {};
const q = (v) => encodeURIComponent(v);

before(async () => {
  srv = await Server.start({
    chargers: [{ id: 'CP1' }, { id: 'CP2' }],
    tags: [{ tag: 'TAG1' }],
    env: ENV,
    args: ['--rate-limit', '1000'],
  });
  adminTok = mint(SECRET, { sub: 'admin', role: 'admin', chargers: '*' });
  cp1Tok = mint(SECRET, { sub: 'cp1-viewer', role: 'viewer', chargers: ['CP1'] });

  cp1 = await srv.connect('CP1');
  await boot(cp1);
  await statusN(cp1, 'Available', 1, at(-1));
  await statusN(cp1, 'Available', 2, at(-1));
  // CP1 session 1, connector 1: T .. T+10 min, two MeterValues.
  tx.a = (await cp1.call('StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart: 1000, timestamp: at(0) })).transactionId;
  await cp1.call('MeterValues', meterPayload({ connectorId: 1, transactionId: tx.a, ts: at(1), energy: 1100 }));
  await cp1.call('MeterValues', meterPayload({ connectorId: 1, transactionId: tx.a, ts: at(2), energy: 1200 }));
  await cp1.call('StopTransaction', { transactionId: tx.a, meterStop: 2000, timestamp: at(10), reason: 'Local' });
  // Connector 2, no transaction: T+30 min.
  await cp1.call('MeterValues', meterPayload({ connectorId: 2, ts: at(30), energy: 50, power: 0, current: 0, soc: 10 }));
  // CP1 session 2: T+60 .. T+65 min.
  tx.b = (await cp1.call('StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart: 2000, timestamp: at(60) })).transactionId;
  await cp1.call('StopTransaction', { transactionId: tx.b, meterStop: 2500, timestamp: at(65), reason: 'EVDisconnected' });

  // CP2 session: T+120 .. T+125 min; CP2 goes away afterwards.
  const cp2 = await srv.connect('CP2');
  await boot(cp2);
  tx.c = (await cp2.call('StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart: 0, timestamp: at(120) })).transactionId;
  await cp2.call('MeterValues', meterPayload({ connectorId: 1, transactionId: tx.c, ts: at(121), energy: 300 }));
  await cp2.call('StopTransaction', { transactionId: tx.c, meterStop: 700, timestamp: at(125), reason: 'Local' });
  await cp2.close();
});

after(async () => {
  await srv?.cleanup();
});

const ids = (arr) => arr.map((t) => t.id).sort((a, b) => a - b);

test('GET /api/chargers: every granted charger, as snapshots', async () => {
  const r = await get(srv, '/api/chargers', adminTok);
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.deepEqual(r.json.map((c) => c.id).sort(), ['CP1', 'CP2']);
  const c1 = r.json.find((c) => c.id === 'CP1');
  assert.equal(c1.online, true);
  assert.equal(r.json.find((c) => c.id === 'CP2').online, false);
  // Each entry is that charger's snapshot.
  const one = await get(srv, '/api/chargers/CP1', adminTok);
  assert.deepEqual(c1, one.json);
  const v = await get(srv, '/api/chargers', cp1Tok);
  assert.equal(v.status, 200, v.text);
  assert.deepEqual(v.json.map((c) => c.id), ['CP1'], 'a viewer limited to CP1 sees only CP1');
});

test('GET /api/chargers/{id}: the snapshot of a real session', async () => {
  const r = await get(srv, '/api/chargers/CP2', adminTok);
  assert.equal(r.status, 200, r.text);
  const s = r.json;
  assert.equal(s.id, 'CP2');
  assert.equal(s.online, false);
  assert.ok(Number.isInteger(s.seq) && s.seq > 0, `seq ${s.seq}`);
  const k = s.connectors.find((c) => c.connectorId === 1);
  assert.ok(k, JSON.stringify(s));
  assert.equal(k.transaction, null, 'no running transaction after the stop');
  assert.equal(k.lastTransaction?.transactionId, tx.c);
  assert.equal(k.lastTransaction?.meterStop, 700);
  // live figures end with the transaction; its last reading stays as the last session's
  assert.equal(k.meter, null);
  assert.equal(k.lastTransaction?.meter?.energyWh, 300);
  assert.equal(k.lastTransaction?.meter?.transactionId, tx.c);

  const c1 = (await get(srv, '/api/chargers/CP1', adminTok)).json;
  assert.deepEqual(c1.connectors.map((c) => c.connectorId), [1, 2]);
  assert.equal(c1.connectors[1].meter?.energyWh, 50);
  // The same as the /ws snapshot.
  const u = await uiOpen(srv, { token: adminTok, charger: 'CP1' });
  const snap = await u.waitType('snapshot');
  assert.deepEqual(snap.data, c1);
  await u.close();
});

test('GET /api/chargers/{id}/meter-values: history with connector, from/to and limit filters', async () => {
  const all = await get(srv, '/api/chargers/CP1/meter-values', adminTok);
  assert.equal(all.status, 200, all.text);
  assert.equal(all.json.length, 15, `3 MeterValues x 5 measurands: ${all.json.length}`);
  const row = all.json.find((m) => m.measurand === 'Voltage' && m.timestamp === at(1));
  assert.ok(row, JSON.stringify(all.json.slice(0, 3)));
  assert.equal(row.connectorId, 1);
  assert.equal(row.transactionId, tx.a);
  assert.equal(row.unit, 'V');
  assert.equal(row.value, '230');
  assert.equal(row.valueNum, 230);
  const soc = all.json.find((m) => m.measurand === 'SoC' && m.connectorId === 2);
  assert.equal(soc.value, '10');

  const c2 = await get(srv, '/api/chargers/CP1/meter-values?connector=2', adminTok);
  assert.equal(c2.status, 200, c2.text);
  assert.equal(c2.json.length, 5);
  assert.ok(c2.json.every((m) => m.connectorId === 2), JSON.stringify(c2.json));

  // Between the two readings of session 1 and the connector-2 reading.
  const win = await get(srv, `/api/chargers/CP1/meter-values?from=${q(at(1.5))}&to=${q(at(20))}`, adminTok);
  assert.equal(win.status, 200, win.text);
  assert.deepEqual([...new Set(win.json.map((m) => m.timestamp))], [at(2)], JSON.stringify(win.json.map((m) => m.timestamp)));
  const from = await get(srv, `/api/chargers/CP1/meter-values?from=${q(at(20))}`, adminTok);
  assert.deepEqual([...new Set(from.json.map((m) => m.timestamp))], [at(30)]);
  const to = await get(srv, `/api/chargers/CP1/meter-values?to=${q(at(1.5))}`, adminTok);
  assert.deepEqual([...new Set(to.json.map((m) => m.timestamp))], [at(1)]);
  const both = await get(srv, `/api/chargers/CP1/meter-values?connector=1&from=${q(at(1.5))}`, adminTok);
  assert.equal(both.json.length, 5);

  const lim = await get(srv, '/api/chargers/CP1/meter-values?limit=3', adminTok);
  assert.equal(lim.status, 200, lim.text);
  assert.equal(lim.json.length, 3);

  const other = await get(srv, '/api/chargers/CP2/meter-values', adminTok);
  assert.equal(other.json.length, 5);
  assert.ok(other.json.every((m) => m.transactionId === tx.c));
});

test('a date with a time-zone offset (URL-encoded) means the same instant as in UTC', async () => {
  const ms = T + 20 * 60_000;
  const d = new Date(ms + 3600_000);
  const local = d.toISOString().replace('Z', '+01:00');
  const utc = await get(srv, `/api/chargers/CP1/meter-values?from=${q(iso(ms))}`, adminTok);
  const off = await get(srv, `/api/chargers/CP1/meter-values?from=${q(local)}`, adminTok);
  assert.equal(off.status, 200, `from=${local}: ${off.text}`);
  assert.deepEqual(off.json, utc.json);
});

test('GET /api/transactions: all, charger filter, from/to, limit', async () => {
  const all = await get(srv, '/api/transactions', adminTok);
  assert.equal(all.status, 200, all.text);
  assert.deepEqual(ids(all.json), [tx.a, tx.b, tx.c].sort((a, b) => a - b));
  const a = all.json.find((t) => t.id === tx.a);
  assert.equal(a.charger, 'CP1');
  assert.equal(a.connectorId, 1);
  assert.equal(a.meterStart, 1000);
  assert.equal(a.meterStop, 2000);
  assert.equal(a.energyWh, 1000);
  assert.equal(a.startedAt, at(0));
  assert.equal(a.stoppedAt, at(10));
  assert.equal(a.stopReason, 'Local');

  const cp2 = await get(srv, '/api/transactions?charger=CP2', adminTok);
  assert.deepEqual(ids(cp2.json), [tx.c]);
  const cp1 = await get(srv, '/api/transactions?charger=CP1', adminTok);
  assert.deepEqual(ids(cp1.json), [tx.a, tx.b].sort((x, y) => x - y));
  const from = await get(srv, `/api/transactions?from=${q(at(30))}`, adminTok);
  assert.deepEqual(ids(from.json), [tx.b, tx.c].sort((x, y) => x - y));
  const to = await get(srv, `/api/transactions?to=${q(at(30))}`, adminTok);
  assert.deepEqual(ids(to.json), [tx.a]);
  const win = await get(srv, `/api/transactions?from=${q(at(30))}&to=${q(at(90))}&charger=CP1`, adminTok);
  assert.deepEqual(ids(win.json), [tx.b]);
  const lim = await get(srv, '/api/transactions?limit=1', adminTok);
  assert.equal(lim.status, 200, lim.text);
  assert.equal(lim.json.length, 1);
  const unknown = await get(srv, '/api/transactions?charger=NOPE', adminTok);
  assert.equal(unknown.status, 200, unknown.text);
  assert.deepEqual(unknown.json, []);
});

test('GET /api/transactions/{id}', async () => {
  const r = await get(srv, `/api/transactions/${tx.c}`, adminTok);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.id, tx.c);
  assert.equal(r.json.charger, 'CP2');
  assert.equal(r.json.meterStop, 700);
  assert.equal(r.json.energyWh, 700);
  assert.equal(r.json.stoppedAt, at(125));
  const list = (await get(srv, '/api/transactions', adminTok)).json;
  assert.deepEqual(r.json, list.find((t) => t.id === tx.c), 'the same record as in the list');
});

test('a viewer limited to CP1: 403 for CP2 everywhere, and only CP1\'s transactions', async () => {
  for (const p of ['/api/chargers/CP2', '/api/chargers/CP2/meter-values', '/api/transactions?charger=CP2']) {
    const r = await get(srv, p, cp1Tok);
    assert.equal(r.status, 403, `${p}: ${r.status} ${r.text}`);
    assert.equal(r.json?.error, 'forbidden', r.text);
    assert.equal(typeof r.json?.detail, 'string');
  }
  // A CP2 transaction by id is as missing as one that does not exist: no
  // existence oracle (hardening-http.test.mjs has the limit case).
  const other = await get(srv, `/api/transactions/${tx.c}`, cp1Tok);
  assert.equal(other.status, 404, other.text);
  assert.deepEqual(other.json, (await get(srv, '/api/transactions/999999', cp1Tok)).json);
  const list = await get(srv, '/api/transactions', cp1Tok);
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(ids(list.json), [tx.a, tx.b].sort((x, y) => x - y));
  assert.ok(list.json.every((t) => t.charger === 'CP1'));
  assert.equal((await get(srv, `/api/transactions/${tx.a}`, cp1Tok)).status, 200);
  assert.equal((await get(srv, '/api/chargers/CP1', cp1Tok)).status, 200);
  assert.equal((await get(srv, '/api/chargers/CP1/meter-values', cp1Tok)).json.length, 15);
});

test('401 without a token, with a bad one, an expired one, alg none', async () => {
  const bad = {
    'no token': null,
    'garbage': 'abc.def.ghi',
    'another secret': craftJwt({ alg: 'HS256', typ: 'JWT' }, claims(), 'another-secret-0123456789abcdef0123456789'),
    'expired': craftJwt({ alg: 'HS256', typ: 'JWT' }, claims({ exp: now() - 600, iat: now() - 4000 }), SECRET),
    'alg none': craftJwt({ alg: 'none', typ: 'JWT' }, claims(), null, { sign: false }),
  };
  for (const [what, tok] of Object.entries(bad)) {
    for (const p of ['/api/chargers', '/api/chargers/CP1', `/api/transactions/${tx.a}`, '/api/nope']) {
      const r = await get(srv, p, tok);
      assert.equal(r.status, 401, `${what} ${p}: ${r.status} ${r.text}`);
      assert.equal(r.json?.error, 'unauthorized', r.text);
      assert.equal(typeof r.json?.detail, 'string');
      assert.match(String(r.headers.get('www-authenticate')), /^Bearer/);
    }
  }
  const basic = await get(srv, '/api/chargers', null, { headers: { authorization: 'Basic ' + Buffer.from('a:b').toString('base64') } });
  assert.equal(basic.status, 401);
});

test('404: unknown charger, transaction, path', async () => {
  const cases = ['/api/chargers/NOPE', '/api/chargers/NOPE/meter-values', '/api/transactions/999999',
    '/api/nope', '/api/chargers/CP1/nope', '/api', '/nope'];
  for (const p of cases) {
    const r = await get(srv, p, adminTok);
    assert.equal(r.status, 404, `${p}: ${r.status} ${r.text}`);
    assert.equal(r.json?.error, 'not_found', `${p}: ${r.text}`);
    assert.equal(typeof r.json?.detail, 'string');
  }
});

test('400: bad dates, limit, connector, transaction id', async () => {
  const cases = [
    '/api/chargers/CP1/meter-values?from=yesterday',
    '/api/chargers/CP1/meter-values?to=2026-13-45T99:00:00Z',
    '/api/chargers/CP1/meter-values?limit=0',
    '/api/chargers/CP1/meter-values?limit=10001',
    '/api/chargers/CP1/meter-values?limit=ten',
    '/api/chargers/CP1/meter-values?limit=-5',
    '/api/chargers/CP1/meter-values?connector=x',
    '/api/chargers/CP1/meter-values?connector=-1',
    '/api/transactions?from=not-a-date',
    '/api/transactions?to=12',
    '/api/transactions?limit=0',
    '/api/transactions/abc',
  ];
  for (const p of cases) {
    const r = await get(srv, p, adminTok);
    assert.equal(r.status, 400, `${p}: ${r.status} ${r.text}`);
    assert.equal(r.json?.error, 'bad_request', `${p}: ${r.text}`);
    assert.equal(typeof r.json?.detail, 'string');
  }
});

test('meter values sent without transactionId during a session are stored under that session, as the live event says', async () => {
  const u = await uiOpen(srv, { token: adminTok, charger: 'CP1' });
  await u.waitType('snapshot');
  const { transactionId } = await cp1.call('StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart: 3000, timestamp: at(170) });
  await cp1.call('MeterValues', meterPayload({ connectorId: 1, ts: at(171), energy: 3100 })); // no transactionId (allowed in OCPP 1.6)
  const ev = await u.waitType('meter');
  assert.equal(ev.data.transactionId, transactionId, 'the live meter event names the running transaction');
  await cp1.call('StopTransaction', { transactionId, meterStop: 3200, timestamp: at(175), reason: 'Local' });
  await u.close();
  const r = await get(srv, `/api/chargers/CP1/meter-values?from=${q(at(170.5))}&to=${q(at(172))}`, adminTok);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.length, 5, r.text);
  assert.deepEqual([...new Set(r.json.map((m) => m.transactionId))], [transactionId],
    `stored rows: ${JSON.stringify(r.json.map((m) => ({ measurand: m.measurand, transactionId: m.transactionId })))}`);
});

test('/metrics: Prometheus text with connections by kind and the commit histogram', async () => {
  const u = await uiOpen(srv, { token: adminTok });
  const r = await srv.http('/metrics');
  await u.close();
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain/);
  const lines = r.text.split('\n').filter((l) => l);
  for (const l of lines) {
    if (l.startsWith('#')) {
      assert.match(l, /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+/, `comment line: ${l}`);
    } else {
      assert.match(l, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? -?[0-9.e+]+$|^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? (\+Inf|NaN)$/, `sample line: ${l}`);
    }
  }
  const sample = (name) => {
    const l = lines.find((x) => x.split(' ')[0] === name);
    return l == null ? undefined : Number(l.split(' ').pop());
  };
  assert.equal(sample('flashcharge_connections{kind="charger"}'), 1, 'CP1 is connected');
  assert.equal(sample('flashcharge_connections{kind="browser"}'), 1, 'one UI client was open');
  assert.ok(lines.includes('# TYPE flashcharge_connections gauge'));
  // Commits (start to on disk) and the WAL's fsyncs (each covers every commit
  // before it, so there are at most as many).
  const hist = {};
  for (const name of ['flashcharge_store_commit_seconds', 'flashcharge_store_sync_seconds']) {
    assert.ok(lines.includes(`# TYPE ${name} histogram`), name);
    const buckets = lines.filter((l) => l.startsWith(`${name}_bucket{`));
    assert.ok(buckets.length >= 2, r.text);
    const counts = buckets.map((l) => Number(l.split(' ').pop()));
    for (let i = 1; i < counts.length; i++) assert.ok(counts[i] >= counts[i - 1], `cumulative buckets: ${buckets.join(' | ')}`);
    assert.match(buckets.at(-1), /le="\+Inf"/);
    const count = sample(`${name}_count`);
    assert.ok(count > 0, `${name}: counted ${count}`);
    assert.equal(counts.at(-1), count, '+Inf bucket = _count');
    assert.ok(sample(`${name}_sum`) >= 0);
    hist[name] = count;
  }
  assert.ok(hist.flashcharge_store_sync_seconds <= hist.flashcharge_store_commit_seconds,
    `syncs ${hist.flashcharge_store_sync_seconds}, commits ${hist.flashcharge_store_commit_seconds}`);
  // Each metric family's samples come after its TYPE line, once.
  const types = lines.filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
  assert.equal(new Set(types).size, types.length, `a TYPE line per family, once: ${types.join(', ')}`);
});

test('/healthz', async () => {
  const r = await srv.http('/healthz');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json?.status, 'ok', r.text);
});
