// The frame log keeps every inbound frame exactly once, whatever became of
// it (dispatch logs it), and every outbound frame once, where it is sent:
// a frame that does not parse, an unknown action, a schema violation, a
// connectorId out of bounds, a charger not accepted, a stray answer, a tag
// lookup that fails, and the ordinary calls.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, until } from './lib/server.mjs';

let srv;
let c; // CPF, registered and accepted
let p; // CPP, unknown, let in as Pending

before(async () => {
  srv = await Server.start({
    chargers: [{ id: 'CPF' }],
    tags: [{ tag: 'TAG-F' }],
    args: ['--unknown-chargers', 'pending'],
  });
  c = await srv.raw('CPF');
  p = await srv.raw('CPP');
});

after(async () => {
  await srv?.cleanup();
});

const count = (id, dir) =>
  srv.sql(`SELECT count(*) AS n FROM frames WHERE direction = '${dir}' AND text LIKE '%"${id}"%'`)[0].n;

test('every inbound frame is logged once, every answer once', { timeout: 30_000 }, async () => {
  const status = { connectorId: 1, errorCode: 'NoError', status: 'Available' };
  const expect = []; // [message id, inbound rows, outbound rows]

  c.send('[2,"fl-unparsed","Heartbeat",{');
  assert.equal((await c.answer('-1'))[2], 'FormationViolation');
  expect.push(['fl-unparsed', 1, 0]);

  assert.equal((await c.call('CustomOperation', {}, { id: 'fl-unknown' }))[2], 'NotImplemented');
  expect.push(['fl-unknown', 1, 1]);

  assert.equal((await c.call('StatusNotification', { connectorId: 1 }, { id: 'fl-schema' }))[0], 4);
  expect.push(['fl-schema', 1, 1]);

  const far = await c.call('StatusNotification', { ...status, connectorId: 100000 }, { id: 'fl-connector' });
  assert.equal(far[2], 'PropertyConstraintViolation');
  expect.push(['fl-connector', 1, 1]);

  assert.equal((await p.call('StatusNotification', status, { id: 'fl-pending' }))[2], 'SecurityError');
  expect.push(['fl-pending', 1, 1]);

  c.send('[3,"fl-stray",{}]');
  expect.push(['fl-stray', 1, 0]);

  assert.equal((await c.call('Heartbeat', {}, { id: 'fl-heartbeat' }))[0], 3);
  expect.push(['fl-heartbeat', 1, 1]);

  assert.equal((await c.call('Authorize', { idTag: 'TAG-F' }, { id: 'fl-authorize' }))[0], 3);
  expect.push(['fl-authorize', 1, 1]);

  // The tag table gone: the lookup fails, the call gets InternalError.
  srv.sql('ALTER TABLE id_tags RENAME TO id_tags_gone');
  const failed = await c.call('Authorize', { idTag: 'TAG-F' }, { id: 'fl-lookup-failed' });
  assert.deepEqual(failed.slice(0, 2), [4, 'fl-lookup-failed']);
  assert.equal(failed[2], 'InternalError');
  assert.equal(failed[3], 'tag lookup failed, retry later');
  expect.push(['fl-lookup-failed', 1, 1]);
  srv.sql('ALTER TABLE id_tags_gone RENAME TO id_tags');

  // Writes commit in order: once the last answer is in the log, so is all before it.
  assert.equal((await c.call('StatusNotification', status, { id: 'fl-last' }))[0], 3);
  expect.push(['fl-last', 1, 1]);
  await until(() => count('fl-last', 'out') >= 1, { timeout: 10_000, what: 'the last answer in the frame log' });

  const got = expect.map(([id]) => [id, count(id, 'in'), count(id, 'out')]);
  assert.deepEqual(got, expect);
  assert.equal(srv.sql(`SELECT count(*) AS n FROM frames WHERE direction = 'out' AND text LIKE '[4,"-1",%'`)[0].n, 1,
    'the unparsed frame\'s answer');
});
