// Restart storms: a charger flushing its offline queue is not slowed down
// (the per-charger bucket has a burst), and handshakes beyond the global
// rate are answered 503 with Retry-After before the upgrade.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { handshake, iso, serverPool } from './lib/server.mjs';

const start = serverPool();

async function metrics(srv) {
  const r = await srv.http('/metrics');
  assert.equal(r.status, 200);
  return r.text;
}

function sample(text, name, labels = '') {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line == null ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

// A queue of n messages, sent the way MicroOcpp flushes it after a
// reconnect: one call at a time, each as soon as the previous is answered,
// with their original (older) time stamps.
async function flush(cp, n) {
  const base = Date.now() - 3_600_000;
  for (let i = 0; i < n; i++) {
    await cp.call('MeterValues', { connectorId: 1, meterValue: [{ timestamp: iso(base + i * 1000), sampledValue: [
      { value: String(5000 + i), measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }] });
  }
}

test('a charger flushing 200 queued messages is not throttled (the default burst); with a small burst it is', { timeout: 60_000 }, async () => {
  const srv = await start({ chargers: [{ id: 'CP-Q1' }, { id: 'CP-Q2' }] });
  const cp = await srv.connect('CP-Q1');
  await flush(cp, 200);
  const m = await metrics(srv);
  assert.equal(sample(m, 'flashcharge_ocpp_throttled_total'), 0, 'no pause while the queue flushed');
  assert.ok(!srv.stderr.includes('event=rate_limited'), srv.tail());
  assert.equal(srv.sql("SELECT count(*) AS n FROM meter_values WHERE charger_id = 'CP-Q1'")[0].n, 200);
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());

  // the same flush under the old limit (a burst of two seconds' worth) is paced
  const slow = await start({ chargers: [{ id: 'CP-Q2' }], args: ['--rate-limit', '20', '--rate-burst', '40'] });
  const cp2 = await slow.connect('CP-Q2');
  await flush(cp2, 200);
  assert.ok(sample(await metrics(slow), 'flashcharge_ocpp_throttled_total') > 0, 'paced by a small bucket');
  assert.deepEqual(await slow.stop(), { code: 0, signal: null }, slow.tail());
});

test('handshakes beyond charger-handshake-rate: 503 with Retry-After before the upgrade, counted; later ones get in', { timeout: 30_000 }, async () => {
  const ids = Array.from({ length: 10 }, (_, i) => `CP-H${i}`);
  const srv = await start({
    chargers: ids.map((id) => ({ id })),
    args: ['--charger-handshake-rate', '1', '--charger-handshake-burst', '3'],
  });
  const t0 = Date.now();
  const results = await Promise.all(ids.map((id) => handshake(srv.ocppUrl(id))));
  const elapsed = (Date.now() - t0) / 1000;
  const opened = results.filter((r) => r.open);
  const busy = results.filter((r) => r.status === 503);
  // three from the burst, and one a second refilled meanwhile; the rest wait
  assert.ok(opened.length >= 3 && opened.length <= 3 + Math.ceil(elapsed), `${elapsed} s: ${JSON.stringify(results)}`);
  assert.ok(busy.length >= 1, JSON.stringify(results));
  assert.equal(opened.length + busy.length, ids.length, JSON.stringify(results));
  for (const r of busy) {
    const ra = Number(r.headers['retry-after']);
    assert.ok(Number.isInteger(ra) && ra >= 1, `Retry-After: ${r.headers['retry-after']}`);
  }
  const m = await metrics(srv);
  assert.equal(sample(m, 'flashcharge_ocpp_handshakes_refused_total', 'reason="busy"'), busy.length, m);
  assert.ok(sample(m, 'flashcharge_ocpp_handshake_tokens') < 2, m);
  // after the Retry-After, a refused charger gets in
  await new Promise((r) => setTimeout(r, 1100 * Number(busy[0].headers['retry-after'])));
  const again = await handshake(srv.ocppUrl(ids[ids.length - 1]));
  assert.ok(again.open, JSON.stringify(again));
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
});
