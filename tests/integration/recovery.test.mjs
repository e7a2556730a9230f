// Crash recovery of state and backups: what an operator relies on after a
// kill -9, and a copy of a live database taken under load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { cli, sql, until, iso, serverPool, meterLoad } from './lib/server.mjs';

const start = serverPool();

const offlineEvents = (srv, id) =>
  srv.sql(`SELECT seq, ts, json FROM events WHERE charger_id = '${id}' AND type = 'charger.offline' ORDER BY seq`);

test('kill -9 with chargers online: after a restart they are offline, one event each, conn ids go on', { timeout: 30_000 }, async () => {
  const ids = ['CP-REC1', 'CP-REC2', 'CP-REC3'];
  const srv = await start({ chargers: [...ids, 'CP-REC4'].map((id) => ({ id })) });
  const cps = await Promise.all(ids.map((id) => srv.connect(id)));
  for (const cp of cps) assert.ok((await cp.call('Heartbeat', {})).currentTime);
  const lastSign = Date.now();
  await until(() => srv.sql('SELECT count(*) AS n FROM chargers WHERE online = 1')[0].n === 3,
    { what: 'three chargers online in the db' });
  const before = srv.sql('SELECT max(conn_id) AS m FROM connections')[0].m;
  assert.equal((await srv.kill9()).signal, 'SIGKILL');

  // restart without them
  await srv.spawn();
  const rows = srv.sql('SELECT id, online FROM chargers ORDER BY id');
  assert.deepEqual(rows.map((r) => r.online), [0, 0, 0, 0], JSON.stringify(rows));
  const list = srv.cli(['charger', 'list']);
  assert.equal(list.code, 0, list.stderr);
  for (const id of ids) assert.match(list.stdout, new RegExp(`${id}\\s.*offline`), list.stdout);
  for (const id of ids) {
    const ev = offlineEvents(srv, id);
    assert.equal(ev.length, 1, `${id}: one charger.offline event: ${JSON.stringify(ev)}`);
    // dated when the outage began (the charger's last heartbeat), not at the restart
    assert.ok(ev[0].ts <= lastSign + 1000, `${id}: offline at ${iso(ev[0].ts)}, last sign ${iso(lastSign)}`);
    const e = JSON.parse(ev[0].json);
    assert.equal(e.type, 'charger.offline');
    assert.equal(e.seq, ev[0].seq);
  }
  assert.equal(offlineEvents(srv, 'CP-REC4').length, 0, 'a charger that was not online gets no event');

  // a new connection's id is past every id of the killed process
  const cp = await srv.connect('CP-REC1');
  await cp.call('Heartbeat', {});
  await until(() => srv.sql("SELECT conn_id FROM chargers WHERE id = 'CP-REC1'")[0].conn_id > before,
    { what: `a conn id above ${before}` });
  await cp.close();
  await until(() => srv.sql("SELECT online FROM chargers WHERE id = 'CP-REC1'")[0].online === 0,
    { what: 'CP-REC1 offline after its close' });

  // a second restart (orderly this time) adds no event
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
  await srv.spawn();
  for (const id of ['CP-REC2', 'CP-REC3']) assert.equal(offlineEvents(srv, id).length, 1, `${id} after a second restart`);
  assert.equal(offlineEvents(srv, 'CP-REC1').length, 2, 'CP-REC1: the crash and its own close');
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
});

test('backup during a closed-loop load: it opens, passes integrity_check, holds every reading confirmed before it began', { timeout: 60_000 }, async () => {
  const ids = Array.from({ length: 10 }, (_, i) => `CP-BK${i}`);
  const srv = await start({ chargers: ids.map((id) => ({ id })) });
  const cps = await Promise.all(ids.map((id) => srv.connect(id, { callTimeoutMs: 5000 })));
  const load = meterLoad(cps, ids);
  const { confirmed } = load;
  await until(() => confirmed.length >= 500, { timeout: 30_000, interval: 20, what: '500 readings confirmed' });
  const before = confirmed.slice(); // confirmed before the backup began
  const file = path.join(srv.dir, 'backup.db');
  const r = cli(['backup', file, '--db', srv.db], { timeout: 30_000 });
  const during = confirmed.length;
  assert.equal(r.code, 0, r.stderr);
  // the load went on while the backup ran, and goes on after it
  await until(() => confirmed.length > during + 50, { timeout: 10_000, what: 'readings confirmed after the backup' });
  await load.stop();
  assert.deepEqual(load.errors, []);

  assert.ok(existsSync(file) && !existsSync(`${file}.partial`));
  assert.deepEqual(sql(file, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
  const have = new Set(sql(file, 'SELECT charger_id, value FROM meter_values').map((m) => `${m.charger_id}|${Number(m.value)}`));
  const lost = before.filter((k) => !have.has(k));
  assert.equal(lost.length, 0, `${lost.length} of ${before.length} readings confirmed before the backup missing from it`);

  // a second backup to the same file is refused, the first is untouched
  const again = cli(['backup', file, '--db', srv.db]);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /exists/);

  // a server starts on the backup: its chargers, left online in the copy, are offline
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
  const onBackup = await start({ args: ['--db', file] });
  assert.deepEqual(sql(file, 'SELECT count(*) AS n FROM chargers WHERE online = 1'), [{ n: 0 }]);
  const cp = await onBackup.connect('CP-BK0');
  assert.ok((await cp.call('Heartbeat', {})).currentTime);
  assert.deepEqual(await onBackup.stop(), { code: 0, signal: null }, onBackup.tail());

  // restore: refused while a server runs on the target, done once it stopped
  await srv.spawn();
  const busy = cli(['restore', file, '--db', srv.db]);
  assert.notEqual(busy.code, 0, 'restore onto a running server is refused');
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
  const ok = cli(['restore', file, '--db', srv.db]);
  assert.equal(ok.code, 0, ok.stderr);
  const restored = new Set(srv.sql('SELECT charger_id, value FROM meter_values').map((m) => `${m.charger_id}|${Number(m.value)}`));
  assert.equal(restored.size, have.size);
  await srv.spawn();
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
});
