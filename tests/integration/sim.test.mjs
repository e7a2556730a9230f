// flashcharge-sim against the real server: three simulated chargers boot,
// start transactions, send PreChargeData and meter values that reach a UI
// WebSocket and the REST API; then the server is killed (SIGKILL) and
// restarted on the same ports, and the simulator must reconnect and flush
// its offline queue: meter values time-stamped during the outage end up in
// the database, and no transaction the simulator saw confirmed is missing.
// Then one simulated charger answers every Central System operation over REST
// as a MicroOcpp charger does (watts only in charging profiles).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { Server, BIN, cliOk, until, sleep, parseLogfmt, withTimeout } from './lib/server.mjs';
import { checkWsFrame } from './lib/contract.mjs';

const SIM = process.env.FLASHCHARGE_SIM
  ? path.resolve(process.env.FLASHCHARGE_SIM)
  : path.join(path.dirname(BIN), 'flashcharge-sim');
const SECRET = 'sim-test-secret-0123456789-abcdefghijklmnop';
const TAG = '04A1B2C3';
const IDS = ['SIMT0001', 'SIMT0002', 'SIMT0003'];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

let server;
let sim;
after(async () => {
  if (sim && sim.exitCode == null) sim.kill('SIGKILL');
  await server?.cleanup();
});

test('flashcharge-sim: boot, transactions, events, offline queue across a server restart',
  { skip: !existsSync(SIM) && `no simulator at ${SIM}`, timeout: 90000 }, async () => {
    const ocppPort = await freePort();
    const httpPort = await freePort();
    server = new Server({ tags: [{ tag: TAG }], env: { FLASHCHARGE_JWT_SECRET: SECRET } });
    server.opts.serveArgs = ['--db', server.db, '--bind', '127.0.0.1',
      '--ocpp-port', String(ocppPort), '--http-port', String(httpPort),
      '--unknown-chargers', 'accept', '--log-level', 'info'];
    server.register();
    await server.spawn();

    const token = cliOk(['token', '--sub', 'simtest', '--chargers', '*', '--role', 'viewer',
      '--ttl', '1h'], { env: { FLASHCHARGE_JWT_SECRET: SECRET } }).stdout.trim();

    // A browser watching the three chargers.
    const events = [];
    const ui = new WebSocket(`ws://127.0.0.1:${httpPort}/ws?token=${token}&charger=${IDS.join(',')}`);
    server.clients.add(ui);
    ui.on('message', (d) => {
      checkWsFrame(d.toString(), 'the simulator test\'s browser');
      const m = JSON.parse(d.toString());
      for (const e of Array.isArray(m) ? m : [m]) events.push(e);
    });
    await withTimeout(new Promise((res, rej) => { ui.once('open', res); ui.once('error', rej); }),
      5000, 'the UI WebSocket');

    // The simulator; its stderr is one logfmt line per event.
    const simLines = [];
    sim = spawn(SIM, ['--count', '3', '--speed', '20', '--prefix', 'SIMT', '--tag', TAG,
      '--idle', '2,5', '--url', `ws://127.0.0.1:${ocppPort}/ocpp`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let buf = '';
    sim.stderr.on('data', (d) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        simLines.push({ t: Date.now(), ...parseLogfmt(buf.slice(0, nl)) });
        buf = buf.slice(nl + 1);
      }
    });
    const simLog = () => simLines.slice(-30).map((l) => JSON.stringify(l)).join('\n');
    const has = (type, id) => events.some((e) => e.type === type && e.charger === id);

    await until(() => IDS.every((id) => has('transaction.started', id) && has('meter', id) &&
      has('precharge', id)), { timeout: 20000, what: 'transactions, meter and precharge events of every charger' })
      .catch((e) => { e.message += `\n${simLog()}\n${server.tail()}`; throw e; });

    const meter = events.find((e) => e.type === 'meter' && e.charger === IDS[0]);
    assert.ok(meter.data.soc > 0 && meter.data.soc <= 100, `soc ${meter.data.soc}`);
    assert.ok(meter.data.power > 0, 'power while charging');
    const pre = events.find((e) => e.type === 'precharge' && e.charger === IDS[0]);
    assert.equal(pre.data.model, 'Pro');

    for (const id of IDS) {
      const r = await server.http(`/api/chargers/${id}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(r.status, 200, r.text);
    }
    assert.equal(server.sql(`SELECT count(*) AS n FROM chargers WHERE id LIKE 'SIMT%'`)[0].n, 3);
    const boots = simLines.filter((l) => l.event === 'boot');
    assert.equal(boots.length, 3, 'one BootNotification per charger');

    // Outage: the server dies; the chargers keep charging and queue.
    await sleep(500);
    await server.kill9();
    const downAt = Date.now();
    await sleep(2500);
    const upAt = Date.now();
    await server.spawn();

    // Reconnected, and the offline queue flushed: meter values stamped
    // during the outage are stored.
    await until(() => {
      const r = server.sql(`SELECT count(DISTINCT charger_id) AS n FROM meter_values
        WHERE charger_id LIKE 'SIMT%' AND ts > ${downAt + 100} AND ts < ${upAt - 100}`);
      return r[0].n === 3;
    }, { timeout: 30000, what: 'meter values of the outage from every charger' })
      .catch((e) => { e.message += `\n${simLog()}\n${server.tail()}`; throw e; });
    // The last charger's line may still be in the pipe when its flush has
    // landed (the polls above block on sqlite3): wait for it, do not race it.
    const reconnected = () => simLines.filter((l) => l.event === 'connected' && l.t > upAt).length;
    await until(() => reconnected() >= 3, { timeout: 5000, what: 'a connected line of every charger' })
      .catch(() => {});
    assert.ok(reconnected() >= 3, `reconnected: ${reconnected()}`);
    assert.equal(simLines.filter((l) => l.event === 'boot').length, 3, 'no boot on reconnect');

    // Every transaction the simulator saw confirmed is in the database.
    await sleep(1000);
    const confirmed = simLines.filter((l) => l.event === 'confirmed' && l.action === 'StartTransaction')
      .map((l) => Number(l.transactionId));
    assert.ok(confirmed.length >= 3, `confirmed starts: ${confirmed.length}`);
    const stored = new Set(server.sql(`SELECT id FROM transactions`).map((r) => r.id));
    for (const id of confirmed) assert.ok(stored.has(id), `transaction ${id} confirmed but not stored`);
    assert.equal(simLines.filter((l) => l.event === 'message_discarded').length, 0);

    sim.kill('SIGTERM');
    const code = await withTimeout(new Promise((r) => sim.once('exit', r)), 5000, 'the simulator to exit');
    assert.equal(code, 0);
  });

test('flashcharge-sim answers the Central System operations as a MicroOcpp charger does',
  { skip: !existsSync(SIM) && `no simulator at ${SIM}`, timeout: 60000 }, async () => {
    if (sim && sim.exitCode == null) sim.kill('SIGKILL');
    await server?.cleanup();
    const ocppPort = await freePort();
    server = new Server({ env: { FLASHCHARGE_JWT_SECRET: SECRET } });
    server.opts.serveArgs = ['--db', server.db, '--bind', '127.0.0.1',
      '--ocpp-port', String(ocppPort), '--http-port', '0', '--unknown-chargers', 'accept',
      '--log-level', 'info'];
    await server.spawn();
    const admin = cliOk(['token', '--sub', 'simadmin', '--chargers', '*', '--role', 'admin', '--ttl', '1h'],
      { env: { FLASHCHARGE_JWT_SECRET: SECRET } }).stdout.trim();
    // idle for a long while: no transaction during the test
    sim = spawn(SIM, ['--count', '1', '--speed', '1', '--prefix', 'SIMO', '--idle', '3000,4000',
      '--url', `ws://127.0.0.1:${ocppPort}/ocpp`], { stdio: ['ignore', 'ignore', 'ignore'] });
    const id = 'SIMO0001';
    const post = (verb, body) => server.http(`/api/chargers/${id}/${verb}`, {
      method: 'POST', timeout: 15000,
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    await until(async () => {
      const r = await server.http(`/api/chargers/${id}`, { headers: { authorization: `Bearer ${admin}` } });
      return r.status === 200 && r.json.online && r.json.connectors?.some((c) => c.connectorId === 1);
    }, { timeout: 15000, what: 'the simulated charger online with its connector' });

    const status = async (verb, body) => {
      const r = await post(verb, body);
      assert.equal(r.status, 200, `${verb}: ${r.text}`);
      return r.json;
    };
    assert.equal((await status('availability', { type: 'Inoperative', connectorId: 1 })).status, 'Accepted');
    assert.equal((await status('availability', { type: 'Operative', connectorId: 1 })).status, 'Accepted');
    assert.equal((await status('clear-cache', {})).status, 'Accepted');
    assert.equal((await status('data-transfer', { vendorId: 'flashCharge', messageId: 'Ping' })).status, 'UnknownVendorId');
    assert.equal((await status('trigger', { requestedMessage: 'Heartbeat' })).status, 'Accepted');
    // it takes watts only: a profile in amperes is converted, and accepted
    const set = await status('charging-profile', {
      connectorId: 0,
      csChargingProfiles: {
        chargingProfileId: 1, stackLevel: 0, chargingProfilePurpose: 'TxDefaultProfile',
        chargingProfileKind: 'Relative',
        chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 10 }] },
      },
    });
    assert.equal(set.status, 'Accepted');
    assert.equal(set.converted.to, 'W');
    const comp = await status('composite-schedule', { connectorId: 1, duration: 600 });
    assert.equal(comp.status, 'Accepted');
    assert.equal(comp.result.chargingSchedule.chargingRateUnit, 'W');
    // 10 A × 230 V × 3 phases (no meter value yet: the defaults), under its 32 A × 230 V maximum
    assert.equal(comp.result.chargingSchedule.chargingSchedulePeriod[0].limit, 6900);
    assert.equal((await status('clear-charging-profile', {})).status, 'Accepted');
    assert.equal((await status('clear-charging-profile', {})).status, 'Unknown');
    sim.kill('SIGTERM');
    assert.equal(await withTimeout(new Promise((r) => sim.once('exit', r)), 5000, 'the simulator to exit'), 0);
  });
