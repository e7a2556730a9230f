// SIGHUP reloads the configuration under load; SIGTERM drains under load:
// chargers and browsers get 1001, every confirmed reading is on disk, the
// process exits 0 within --shutdown-timeout.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Server, until, parseLogfmt, handshake, meterLoad } from './lib/server.mjs';
import { mint, uiOpen } from './lib/ui.mjs';

const SECRET = 'reload-test-secret-0123456789abcdef0123456789';
const servers = [];
after(async () => {
  for (const s of servers) await s.cleanup();
});

const lines = (srv, event) => srv.stderr.split('\n').map(parseLogfmt).filter((f) => f.event === event);

test('SIGHUP under load: reloadable options apply, the rest are named for a restart, a bad file changes nothing', { timeout: 60_000 }, async () => {
  const srv = new Server();
  servers.push(srv);
  const file = path.join(srv.dir, 'flashcharge.json');
  writeFileSync(file, JSON.stringify({ rate_limit: 20, rate_burst: 40, log_level: 'info' }));
  const ids = Array.from({ length: 5 }, (_, i) => `CP-HUP${i}`);
  srv.opts = { chargers: ids.map((id) => ({ id })), args: ['--config', file] };
  // the file's log level, not the harness's debug flag
  srv.serveArgs = () => ['serve', '--db', srv.db, '--ocpp-port', '0', '--http-port', '0',
    '--bind', '127.0.0.1', '--config', file];
  srv.register();
  await srv.spawn();
  const cps = await Promise.all(ids.map((id) => srv.connect(id, { callTimeoutMs: 5000 })));
  const l = meterLoad(cps, ids);
  await until(() => l.confirmed.length >= 200, { timeout: 20_000, what: '200 readings' });

  writeFileSync(file, JSON.stringify({ rate_limit: 500, rate_burst: 1000, log_level: 'debug',
    store_batch_max: 100, tariff: { currency: 'EUR', perKwh: 0.4 } }));
  srv.proc.kill('SIGHUP');
  await until(() => lines(srv, 'reloaded').length === 1, { what: 'event=reloaded' });
  const changed = Object.fromEntries(lines(srv, 'config_changed').map((f) => [f.option, f]));
  assert.equal(changed['rate-limit']?.applied, 'yes', srv.tail());
  assert.equal(changed['rate-limit'].from, '20');
  assert.equal(changed['rate-limit'].to, '500');
  assert.equal(changed['rate-burst']?.applied, 'yes');
  assert.equal(changed['log-level']?.applied, 'yes');
  assert.equal(changed['store-batch-max']?.applied, 'no');
  assert.equal(changed['store-batch-max'].needs, 'restart');
  assert.equal(changed['models,tariff']?.applied, 'yes');
  assert.equal(lines(srv, 'reloaded')[0].needs_restart, '1');
  // debug is on now: an unknown charger's refusal, logged at debug, appears
  assert.equal(lines(srv, 'handshake_refused').length, 0);
  assert.equal((await handshake(srv.ocppUrl('CP-NOBODY'))).status, 401);
  await until(() => lines(srv, 'handshake_refused').length === 1, { what: 'a debug line after the reload' });
  const n0 = l.confirmed.length;
  await until(() => l.confirmed.length > n0 + 100, { timeout: 20_000, what: 'load goes on after SIGHUP' });

  // a file that does not load: nothing changes, the server goes on
  writeFileSync(file, '{"rate_limit": "fast"');
  srv.proc.kill('SIGHUP');
  await until(() => lines(srv, 'reload_failed').length === 1, { what: 'event=reload_failed' });
  const n1 = l.confirmed.length;
  await until(() => l.confirmed.length > n1 + 50, { timeout: 20_000, what: 'load goes on after a failed reload' });
  await l.stop();
  assert.deepEqual(l.errors, []);
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
});

test('SIGTERM under load: chargers and browsers get 1001, every confirmed reading is stored, exit 0 in time', { timeout: 60_000 }, async () => {
  const ids = Array.from({ length: 10 }, (_, i) => `CP-TERM${i}`);
  const srv = await Server.start({ chargers: ids.map((id) => ({ id })), env: { FLASHCHARGE_JWT_SECRET: SECRET },
    args: ['--shutdown-timeout', '3000'] });
  servers.push(srv);
  const cps = await Promise.all(ids.map((id) => srv.connect(id, { callTimeoutMs: 5000 })));
  const ui = await uiOpen(srv, { token: mint(SECRET), charger: ids });
  const l = meterLoad(cps, ids);
  await until(() => l.confirmed.length >= 300, { timeout: 20_000, what: '300 readings' });

  const t0 = Date.now();
  const exit = await srv.stop({ signal: 'SIGTERM' });
  const took = Date.now() - t0;
  await l.stop();
  assert.deepEqual(exit, { code: 0, signal: null }, srv.tail());
  // shutdown-timeout for the calls in flight, two seconds for the closes, then the store's drain
  assert.ok(took < 3000 + 2000 + 5000, `exited after ${took} ms`);
  const closes = await Promise.all(cps.map((cp) => Promise.race([cp.closeEvent, new Promise((r) => setTimeout(() => r(null), 3000))])));
  for (const [i, c] of closes.entries()) assert.equal(c?.code, 1001, `${ids[i]}: ${JSON.stringify(c)}`);
  const uiClose = await Promise.race([ui.closed, new Promise((r) => setTimeout(() => r(null), 3000))]);
  assert.equal(uiClose?.code, 1001, `browser: ${JSON.stringify(uiClose)}`);

  const have = new Set(srv.sql('SELECT charger_id, value FROM meter_values').map((m) => `${m.charger_id}|${Number(m.value)}`));
  const lost = l.confirmed.filter((k) => !have.has(k));
  assert.equal(lost.length, 0, `${lost.length} of ${l.confirmed.length} confirmed readings missing after SIGTERM`);
});
