// Configuration surfaces: --config FILE, FLASHCHARGE_<NAME> variables, flags
// that change answers, the tag CLI, health, and refusal of bad settings.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Server, cli, cliOk, until, sleep, iso } from './lib/server.mjs';

const servers = [];
after(async () => {
  for (const s of servers) await s.cleanup();
});

async function start(opts) {
  const s = new Server();
  servers.push(s);
  s.opts = typeof opts === 'function' ? opts(s) : opts;
  s.register();
  await s.spawn();
  return s;
}

const boot = (c) => c.call('BootNotification', { chargePointVendor: 'flashCharge', chargePointModel: 'ESP32' });

test('--config FILE alone configures ports, bind, policy and heartbeat interval', async () => {
  const srv = await start((s) => {
    const file = path.join(s.dir, 'config.json');
    writeFileSync(file, JSON.stringify({
      db: s.db, ocpp_port: 0, http_port: 0, bind: '127.0.0.1',
      unknown_chargers: 'accept', heartbeat_interval: 123, log_level: 'debug',
    }));
    return { serveArgs: ['--config', file] };
  });
  const c = await srv.connect('CP-CONFIG');
  const r = await boot(c);
  assert.equal(r.status, 'Accepted', 'unknown_chargers from the config file');
  assert.equal(r.interval, 123, 'heartbeat_interval from the config file');
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
});

test('FLASHCHARGE_HEARTBEAT_INTERVAL and FLASHCHARGE_UNKNOWN_TAGS from the environment', async () => {
  const srv = await start({
    chargers: [{ id: 'CP-ENV' }],
    env: { FLASHCHARGE_HEARTBEAT_INTERVAL: '55', FLASHCHARGE_UNKNOWN_TAGS: 'accept' },
  });
  const c = await srv.connect('CP-ENV');
  assert.equal((await boot(c)).interval, 55);
  assert.equal((await c.call('Authorize', { idTag: 'NEVER-SEEN' })).idTagInfo.status, 'Accepted');
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
});

test('--unknown-tags invalid (default) vs tag CLI add / list / remove while running', async () => {
  const srv = await start({ chargers: [{ id: 'CP-TAGS' }], tags: [{ tag: 'TAG-A' }] });
  const c = await srv.connect('CP-TAGS');
  const st = async (idTag) => (await c.call('Authorize', { idTag })).idTagInfo.status;
  assert.equal(await st('TAG-A'), 'Accepted');
  assert.equal(await st('TAG-NEW'), 'Invalid');

  assert.equal(srv.cli(['tag', 'add', 'TAG-NEW', '--status', 'Accepted']).code, 0);
  await until(async () => (await st('TAG-NEW')) === 'Accepted', { timeout: 5000, interval: 250, what: 'TAG-NEW accepted' });

  const list = srv.cli(['tag', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.ok(list.stdout.includes('TAG-A') && list.stdout.includes('TAG-NEW'), list.stdout);

  assert.equal(srv.cli(['tag', 'remove', 'TAG-A']).code, 0);
  await until(async () => (await st('TAG-A')) === 'Invalid', { timeout: 5000, interval: 250, what: 'TAG-A invalid after removal' });
  const list2 = srv.cli(['tag', 'list']);
  assert.ok(!list2.stdout.includes('TAG-A'), list2.stdout);
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
});

test('--max-frame 2048: a frame under it is answered, one over it closes with 1009', async () => {
  const srv = await start({ chargers: [{ id: 'CP-MF' }, { id: 'CP-MF2' }], args: ['--max-frame', '2048'] });
  const a = await srv.raw('CP-MF');
  const ok = await a.call('DataTransfer', { vendorId: 'com.example', data: 'x'.repeat(1500) });
  assert.equal(ok[0], 3, JSON.stringify(ok));
  assert.equal(ok[2].status, 'UnknownVendorId');
  a.send(JSON.stringify([2, 'big', 'DataTransfer', { vendorId: 'com.example', data: 'x'.repeat(3000) }]));
  const info = await Promise.race([a.closed, sleep(5000).then(() => null)]);
  assert.ok(info, 'still open 5 s after a 3 KB frame with --max-frame 2048');
  assert.equal(info.code, 1009);
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
});

test('GET /healthz → 200 {"status":"ok"}', async () => {
  const srv = await start({});
  const h = await srv.http('/healthz');
  assert.equal(h.status, 200, h.text);
  assert.equal(h.json?.status, 'ok', h.text);
  assert.match(h.headers.get('content-type') ?? '', /json/);
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
});

// Events past --event-days go (in small passes riding on commits), except
// each key's latest; younger ones stay.
test('--event-days 2: 10- and 3-day-old events are deleted, a 1-day-old one and the latest stay', { timeout: 30_000 }, async () => {
  const srv = await start({ chargers: [{ id: 'CP-RET' }], args: ['--event-days', '2'] });
  const cp = await srv.connect('CP-RET');
  assert.equal((await boot(cp)).status, 'Accepted');
  const day = 86_400_000, now = Date.now();
  for (const [ago, wh] of [[10, 100], [3, 200], [1, 250], [0, 300]]) {
    await cp.call('MeterValues', { connectorId: 1, meterValue: [{ timestamp: iso(now - ago * day),
      sampledValue: [{ value: String(wh), measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }] });
  }
  const meterEvents = () => srv.sql("SELECT ts FROM events WHERE charger_id = 'CP-RET' AND type = 'meter'");
  assert.equal(meterEvents().length, 4);
  // a pass is due at most every second, with a commit: heartbeats make them
  await until(async () => {
    await cp.call('Heartbeat', {});
    return meterEvents().length === 2;
  }, { timeout: 15_000, interval: 300, what: 'the meter events older than 2 days to be deleted' });
  const left = meterEvents().map((e) => Math.round((now - Number(e.ts)) / day)).sort();
  assert.deepEqual(left, [0, 1]);
  // the readings themselves are not events: all four stay
  assert.equal(srv.sql("SELECT * FROM meter_values WHERE charger_id = 'CP-RET'").length, 4);
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
});

test('bad settings are refused at start with a non-zero exit', () => {
  const dir = servers[0]?.dir ?? '/tmp';
  for (const bad of [
    ['--unknown-chargers', 'maybe'],
    ['--unknown-tags', 'sometimes'],
    ['--ocpp-port', 'eighty'],
    ['--no-such-flag', '1'],
    ['--event-days', '0'],
  ]) {
    const r = cli(['serve', '--db', path.join(dir, 'bad.db'), '--ocpp-port', '0', '--http-port', '0',
      '--bind', '127.0.0.1', ...bad], { timeout: 5000 });
    assert.ok(!r.timedOut, `serve ${bad.join(' ')} did not exit by itself within 5 s`);
    assert.notEqual(r.code, 0, `serve ${bad.join(' ')} exited 0`);
    assert.ok(r.stderr.length > 0, `serve ${bad.join(' ')} says why`);
  }
});

test('--db PATH is taken by every command (charger, tag, user, token)', () => {
  const dir = servers[0]?.dir ?? '/tmp';
  const db = path.join(dir, `every-command-${process.pid}.db`);
  const env = { FLASHCHARGE_JWT_SECRET: 'every-command-secret-0123456789abcdef' };
  cliOk(['charger', 'add', 'CP-DB', '--db', db], { env });
  assert.match(cliOk(['charger', 'list', '--db', db], { env }).stdout, /CP-DB/);
  cliOk(['tag', 'add', 'TAG-DB', '--db', db], { env });
  assert.match(cliOk(['tag', 'list', '--db', db], { env }).stdout, /TAG-DB/);
  cliOk(['user', 'list', '--db', db], { env });
  const tok = cliOk(['token', '--db', db, '--sub', 'ops', '--chargers', '*', '--role', 'viewer',
    '--ttl', '1h'], { env }).stdout.trim();
  assert.equal(tok.split('.').length, 3, tok);
});

test('--log-format json: every line one JSON object with the fields of the text line', async () => {
  const s = await start({ args: ['--log-format', 'json', '--unknown-chargers', 'accept'] });
  const c = await s.connect('CP-JSON');
  await boot(c);
  await c.close();
  await until(() => s.stderr.includes('"cp":"CP-JSON"'), { what: 'a line of the charger' });
  const lines = s.stderr.split('\n').filter(Boolean);
  assert.ok(lines.length > 5);
  for (const l of lines) {
    const o = JSON.parse(l); // throws on a line that is not JSON
    assert.equal(typeof o.ts, 'string', l);
    assert.match(o.level, /^(error|warn|notice|info|debug)$/, l);
    assert.ok(o.event || o.src, l);
  }
  assert.ok(lines.some((l) => JSON.parse(l).cp === 'CP-JSON'), 'a line in the charger context');
});
