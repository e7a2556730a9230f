// The published contracts (schemas/api/): served by the server exactly as
// they are in the repository, without a token; consistent with the C code's
// tables (event types, command routes); and the validation that every other
// test runs (lib/contract.mjs) does fail on a renamed, missing, extra or
// mistyped field, of a /ws frame and of a REST response.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server, iso } from './lib/server.mjs';
import { mint, uiOpen, get, boot, statusN, meterPayload } from './lib/ui.mjs';
import {
  checkApiResponse, docText, formatErrors, wsSchema, openapi, makeAjv, eventDefs, wsFrameProblems, apiResponseProblems,
  pathTemplate, takeViolations,
} from './lib/contract.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.resolve(here, '../../src');
const SECRET = 'contracts-test-secret-0123456789abcdef0123';

let srv;
let tok;
let ui;
const frames = []; // every frame the UiClient received, as text

before(async () => {
  srv = await Server.start({ chargers: [{ id: 'CP1' }], tags: [{ tag: 'TAG1' }],
    env: { FLASHCHARGE_JWT_SECRET: SECRET } });
  tok = mint(SECRET, { sub: 'admin', role: 'admin', chargers: '*' });
  ui = await uiOpen(srv, { token: tok, charger: 'CP1' });
  ui.ws.on('message', (d) => frames.push(d.toString('utf8')));
  const cp = await srv.connect('CP1');
  await boot(cp);
  await statusN(cp, 'Preparing', 1);
  const { transactionId } = await cp.call('StartTransaction',
    { connectorId: 1, idTag: 'TAG1', meterStart: 1000, timestamp: iso() });
  await cp.call('MeterValues', meterPayload({ connectorId: 1, transactionId, energy: 1500 }));
  await cp.call('StopTransaction', { transactionId, meterStop: 2000, timestamp: iso(), reason: 'Local' });
  await ui.waitType('transaction.stopped', { what: 'the session on /ws' });
  ui.send({ op: 'ping' });
  await ui.waitType('pong');
});

after(async () => {
  await srv?.cleanup();
});

test('the server serves both documents, byte for byte as in the repository, without a token', async () => {
  for (const name of ['openapi.json', 'ws.schema.json']) {
    const r = await srv.http(`/api/${name}`);
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.equal(r.text, docText(name), `GET /api/${name} differs from schemas/api/${name}`);
  }
  const post = await srv.http('/api/openapi.json', { method: 'POST', body: '{}',
    headers: { 'content-type': 'application/json' } });
  assert.equal(post.status, 405, post.text);
  // The documents stand beside, not instead of, the authenticated API.
  assert.equal((await srv.http('/api/chargers')).status, 401);
});

test('both documents compile under strict JSON Schema 2020-12, and every reference resolves', () => {
  const ajv = makeAjv({ validateSchema: true });
  const frame = ajv.getSchema('ws.schema.json');
  assert.ok(frame, 'ws.schema.json compiles');
  // the whole-frame schema agrees with the per-event checks of lib/contract.mjs
  const got = ui.events.filter((e) => e.type !== '<unparsable>');
  assert.ok(frame(got), formatErrors(frame.errors));
  assert.ok(frame(got[0]), formatErrors(frame.errors));
  assert.equal(frame([]), false);
  assert.equal(frame({ ...got[0], type: 'nonesuch' }), false);
  for (const name of Object.keys(wsSchema.$defs)) {
    assert.ok(ajv.getSchema(`ws.schema.json#/$defs/${name}`), `$defs/${name} compiles`);
  }
  assert.equal(openapi.openapi, '3.1.0');
  const refs = [];
  (function walk(o) {
    if (Array.isArray(o)) o.forEach(walk);
    else if (o && typeof o === 'object') {
      if (typeof o.$ref === 'string') refs.push(o.$ref);
      Object.values(o).forEach(walk);
    }
  })(openapi);
  for (const r of refs) {
    const key = r.startsWith('#') ? `openapi.json${r}` : r;
    const target = r.startsWith('#/components/responses/') || r.startsWith('#/components/parameters/')
      ? r.slice(2).split('/').reduce((a, k) => a?.[k], openapi)
      : ajv.getSchema(key);
    assert.ok(target, `${r} resolves`);
  }
  for (const [p, item] of Object.entries(openapi.paths)) {
    for (const [method, op] of Object.entries(item)) {
      assert.ok(op.operationId && op.responses?.default, `${method.toUpperCase()} ${p}: operationId and a default (error) response`);
    }
  }
});

test('every event type of the C table (src/bus/events.h) has its definition, and no other', () => {
  const h = readFileSync(path.join(SRC, 'bus/events.h'), 'utf8');
  const inC = [...h.matchAll(/XX\(\w+, "([^"]+)", [01]\)/g)].map((m) => m[1]).sort();
  assert.ok(inC.length >= 17, `parsed ${inC.length} types from FC_EVENT_TYPE_MAP`);
  const listed = wsSchema.$defs.event.oneOf.map((r) => r.$ref.replace('#/$defs/', ''));
  const inSchema = listed.map((n) => wsSchema.$defs[n].properties.type.const).sort();
  assert.deepEqual(inSchema, inC);
  assert.deepEqual([...eventDefs.keys()].sort(), inC);
});

test('every command route of src/api/commands.c is in the OpenAPI document with its method', () => {
  const c = readFileSync(path.join(SRC, 'api/commands.c'), 'utf8');
  const verbs = [...c.matchAll(/\{"([a-z-]+)", FC_HTTP_(GET|POST|PUT),/g)];
  assert.ok(verbs.length >= 9, `parsed ${verbs.length} commands`);
  for (const [, verb, method] of verbs) {
    const item = openapi.paths[`/api/chargers/{id}/${verb}`];
    assert.ok(item?.[method.toLowerCase()], `${method} /api/chargers/{id}/${verb} is documented`);
  }
  assert.equal(pathTemplate('/api/chargers/CP1/meter-values'), '/api/chargers/{id}/meter-values');
  assert.equal(pathTemplate('/api/openapi.json'), '/api/openapi.json');
});

test('what the server sent on /ws conforms, event by event', () => {
  assert.ok(frames.length > 0);
  const types = new Set(ui.events.map((e) => e.type));
  for (const t of ['hello', 'snapshot', 'charger.online', 'status', 'transaction.started', 'meter',
    'energy', 'cost', 'transaction.stopped', 'pong']) {
    assert.ok(types.has(t), `a ${t} event was received (got ${[...types].join(', ')})`);
  }
  for (const f of frames) assert.equal(wsFrameProblems(f), null);
  assert.deepEqual(takeViolations(), []);
});

// A copy of the first received event of type t, changed by fn.
function mutated(t, fn) {
  const e = structuredClone(ui.events.find((x) => x.type === t));
  assert.ok(e, `a ${t} event to change`);
  fn(e);
  return e;
}

test('a /ws frame with a renamed, missing, extra or mistyped field fails, saying where', () => {
  const cases = [
    ['energy', (e) => { e.data.energy = e.data.energyWh; delete e.data.energyWh; },
      /\/data must have required property 'energyWh'.*\/data must NOT have additional properties \("energy"\)/],
    ['meter', (e) => { e.sequence = e.seq; delete e.seq; }, /must have required property 'seq'/],
    ['transaction.started', (e) => { e.data.transactionId = String(e.data.transactionId); },
      /\/data\/transactionId must be integer/],
    ['status', (e) => { e.data.status = 'Plugged'; }, /\/data\/status must be equal to one of the allowed values/],
    ['snapshot', (e) => { e.data.lastSeen = 5; }, /\/data\/lastSeen must be string,null/],
    ['hello', (e) => { e.ts = 'yesterday'; }, /\/ts must match format "date-time"/],
    ['cost', (e) => { e.type = 'price'; }, /unknown type "price"/],
  ];
  for (const [t, fn, re] of cases) {
    const bad = mutated(t, fn);
    assert.match(wsFrameProblems(JSON.stringify(bad)) ?? '(conforms)', re, `${t} changed`);
  }
  // In an array, the offending element is named.
  const good = ui.events.find((x) => x.type === 'meter');
  const bad = mutated('meter', (e) => { e.data.power = '7200'; });
  assert.match(wsFrameProblems([good, bad]), /event #1 \(meter\): \/data\/power must be number/);
  assert.equal(wsFrameProblems([good, good]), null);
  assert.match(wsFrameProblems('[]'), /empty array/);
  assert.match(wsFrameProblems('{"type":'), /not JSON/);
});

test('a REST response with a renamed or mistyped field fails, saying where', async () => {
  const r = await get(srv, '/api/chargers/CP1', tok);
  assert.equal(r.status, 200, r.text);
  const res = (body, over = {}) => ({ method: 'GET', path: '/api/chargers/CP1', status: 200,
    contentType: 'application/json', text: JSON.stringify(body), ...over });
  assert.equal(apiResponseProblems(res(r.json)), null);
  const renamed = structuredClone(r.json);
  renamed.isOnline = renamed.online;
  delete renamed.online;
  assert.match(apiResponseProblems(res(renamed)), /must have required property 'online'/);
  const extra = structuredClone(r.json);
  // the live meter, or the last session's once it stopped
  const k0 = extra.connectors[0];
  (k0.meter ?? k0.lastTransaction.meter).powerW = 1;
  assert.match(apiResponseProblems(res(extra)), /\/connectors\/0\/(lastTransaction\/)?meter.*additional properties \("powerW"\)/);
  const tx = await get(srv, '/api/transactions?charger=CP1', tok);
  assert.equal(tx.status, 200, tx.text);
  const t0 = structuredClone(tx.json);
  t0[0].cost = '0.00';
  assert.match(apiResponseProblems(res(t0, { path: '/api/transactions?charger=CP1' })),
    /\/0\/cost must be number,null/);
  // errors: {"error","detail"} and nothing else
  assert.match(apiResponseProblems(res({ error: 'not_found', message: 'x' }, { status: 404 })),
    /must have required property 'detail'/);
  assert.match(apiResponseProblems(res(r.json, { contentType: 'text/html' })), /Content-Type/);
  assert.match(apiResponseProblems(res(r.json, { path: '/api/nothing-here' })), /not documented/);
  assert.match(apiResponseProblems(res(r.json, { status: 418 })), /must have required property 'error'/);
  // What srv.http does with a mismatch: throws, and records it for the
  // test's afterEach (which would fail this test: taken here).
  assert.throws(() => checkApiResponse(res(renamed)), /contract violated.*GET \/api\/chargers\/CP1 → 200/);
  assert.equal(takeViolations().length, 1);
});
