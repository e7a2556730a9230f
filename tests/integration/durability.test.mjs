// A CALLRESULT is a promise that the data is on disk: kill -9 right after the
// answers and find every confirmed row after a restart. And when the store
// fails or stalls, every call is still answered (InternalError) in time.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, iso, field, until, sleep } from './lib/server.mjs';

const servers = [];
after(async () => {
  for (const s of servers) await s.cleanup();
});

// opts may be a function of the Server (to name its fault file before it starts).
async function start(opts) {
  const s = new Server();
  servers.push(s);
  s.opts = typeof opts === 'function' ? opts(s) : opts;
  s.register();
  await s.spawn();
  return s;
}

const boot = (c) => c.call('BootNotification', { chargePointVendor: 'flashCharge', chargePointModel: 'ESP32' });
const txOf = (r) => field(r, 'transaction_id', 'tx_id');

test('kill -9 right after StopTransaction is confirmed: every confirmed row survives', { timeout: 30_000 }, async () => {
  const srv = await start({ chargers: [{ id: 'CP-DUR' }], tags: [{ tag: 'TAG-D' }] });
  const rounds = [];
  for (let round = 0; round < 3; round++) {
    const cp = await srv.connect('CP-DUR');
    if (round === 0) assert.equal((await boot(cp)).status, 'Accepted');
    const base = Date.now() - 600_000 + round * 100_000; // rounds never share a time stamp
    const start = { connectorId: 1, idTag: 'TAG-D', meterStart: 100 * round, timestamp: iso(base) };
    const { transactionId } = await cp.call('StartTransaction', start);
    assert.ok(Number.isInteger(transactionId));
    const values = [];
    for (let i = 0; i < 5; i++) {
      const e = String(100 * round + 10 * (i + 1));
      const p = String(1000 + i);
      values.push(e, p);
      assert.deepEqual(await cp.call('MeterValues', {
        connectorId: 1, transactionId,
        meterValue: [{ timestamp: iso(base + (i + 1) * 1000), sampledValue: [
          { value: e, measurand: 'Energy.Active.Import.Register', unit: 'Wh' },
          { value: p, measurand: 'Power.Active.Import', unit: 'W' }] }],
      }), {});
    }
    const meterStop = 100 * round + 99;
    // Kill the server the moment the StopTransaction answer reaches us.
    let armed = true;
    cp.on('message', ({ message, outbound }) => {
      if (armed && !outbound && JSON.parse(String(message))[0] === 3) {
        armed = false;
        srv.proc.kill('SIGKILL');
      }
    });
    const stopAnswer = await cp.call('StopTransaction', {
      transactionId, meterStop, timestamp: iso(base + 10_000), reason: 'Local',
      transactionData: [{ timestamp: iso(base + 9000), sampledValue: [
        { value: String(meterStop), measurand: 'Energy.Active.Import.Register', unit: 'Wh', context: 'Transaction.End' }] }],
    });
    assert.ok(stopAnswer);
    const e = await srv.exited;
    assert.equal(e.signal, 'SIGKILL');
    rounds.push({ transactionId, meterStop, values: [...values, String(meterStop)] });

    await srv.spawn(); // same db, after a crash
    const txs = srv.sql('SELECT * FROM transactions');
    for (const r of rounds) {
      const tx = txs.find((t) => field(t, 'id', 'transaction_id') === r.transactionId);
      assert.ok(tx, `transaction ${r.transactionId} is in the db after kill -9 (round ${round})`);
      assert.equal(Number(field(tx, 'meter_stop', 'meter_stop_wh')), r.meterStop,
        `transaction ${r.transactionId} stopped with meter_stop after kill -9: ${JSON.stringify(tx)}`);
      const mv = srv.sql('SELECT * FROM meter_values').filter((m) => txOf(m) === r.transactionId)
        .map((m) => String(Number(field(m, 'value'))));
      assert.deepEqual(mv.sort(), r.values.map((v) => String(Number(v))).sort(),
        `every confirmed meter value of transaction ${r.transactionId} survived`);
    }
  }
  // the restarted server still works and stops cleanly
  const cp = await srv.connect('CP-DUR');
  assert.ok((await cp.call('Heartbeat', {})).currentTime);
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
});

// Under load the writer commits a batch while the sync thread is still
// syncing the one before: kill -9 in the middle of that, and every reading
// that was confirmed is there after the restart (confirmed ⇒ committed, in
// whatever order batches and syncs interleave).
test('kill -9 under load, batches committing while others sync: every confirmed reading survives', { timeout: 60_000 }, async () => {
  const ids = Array.from({ length: 20 }, (_, i) => `CP-LOAD${String(i).padStart(2, '0')}`);
  const srv = await start({ chargers: ids.map((id) => ({ id })) });
  const cps = await Promise.all(ids.map((id) => srv.connect(id, { callTimeoutMs: 5000 })));
  const confirmed = [];
  const base = Date.now() - 3_600_000;
  let stop = false;
  const loops = cps.map(async (cp, c) => {
    for (let i = 0; !stop; i++) {
      const ts = iso(base + i * 1000);
      try {
        await cp.call('MeterValues', { connectorId: 1, meterValue: [{ timestamp: ts, sampledValue: [
          { value: String(1000 + i), measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }] });
        confirmed.push({ id: ids[c], ts, value: String(1000 + i) });
      } catch {
        return; // the server is gone
      }
    }
  });
  await until(() => confirmed.length >= 2000, { timeout: 30_000, interval: 20, what: '2,000 readings confirmed' });
  srv.proc.kill('SIGKILL');
  stop = true;
  await Promise.all(loops);
  assert.equal((await srv.exited).signal, 'SIGKILL');
  const n = confirmed.length;

  await srv.spawn(); // same db, after the crash
  const rows = srv.sql('SELECT charger_id, value FROM meter_values');
  const have = new Set(rows.map((r) => `${r.charger_id}|${Number(r.value)}`));
  const lost = confirmed.filter((r) => !have.has(`${r.id}|${Number(r.value)}`));
  assert.equal(lost.length, 0, `${lost.length} of ${n} confirmed readings lost, e.g. ${JSON.stringify(lost.slice(0, 3))}`);
  assert.ok(rows.length >= n, `${rows.length} rows, ${n} confirmed`);
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
});

async function timed(p) {
  const t0 = Date.now();
  try {
    const v = await p;
    return { ok: true, value: v, ms: Date.now() - t0 };
  } catch (e) {
    return { ok: false, code: e.rpcErrorCode, error: e, ms: Date.now() - t0 };
  }
}

// The StartTransaction refused during a failure, sent again: one transaction,
// with the id it is answered.
async function retriedStartIsOne(srv, cp, startReq) {
  const ok = await cp.call('StartTransaction', startReq);
  assert.ok(Number.isInteger(ok.transactionId));
  const txs = srv.sql('SELECT * FROM transactions');
  assert.equal(txs.length, 1, `the retried start is one transaction: ${JSON.stringify(txs)}`);
  assert.equal(field(txs[0], 'id', 'transaction_id'), ok.transactionId);
}

const status = (cp, s = 'Available') =>
  cp.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: s, timestamp: iso() });

test('--fault-file fail: InternalError in time, healthz 503 while down, recovery after the file goes', { timeout: 45_000 }, async () => {
  const AT = 2000;
  // --fault-file is given through the environment here, to cover FLASHCHARGE_<NAME> too.
  const srv = await start((s) => ({
    chargers: [{ id: 'CP-FAIL' }], tags: [{ tag: 'TAG-F' }],
    args: ['--answer-timeout', String(AT)],
    env: { FLASHCHARGE_FAULT_FILE: s.faultFile },
  }));

  const h0 = await srv.http('/healthz');
  assert.equal(h0.status, 200, h0.text);
  assert.equal(h0.json?.status, 'ok', h0.text);

  const cp = await srv.connect('CP-FAIL', { callTimeoutMs: AT + 5000 });
  assert.equal((await boot(cp)).status, 'Accepted');

  srv.writeFault('fail');
  await sleep(200); // the fault file is re-read at most every 50 ms
  const first = await timed(status(cp));
  assert.equal(first.ok, false, `StatusNotification answered ${JSON.stringify(first.value)} while every write fails`);
  assert.equal(first.code, 'InternalError', String(first.error));
  assert.ok(first.ms < AT + 2000, `answered after ${first.ms} ms (answer-timeout ${AT})`);

  // MicroOcpp retries a refused StartTransaction with the identical payload.
  const startReq = { connectorId: 1, idTag: 'TAG-F', meterStart: 1, timestamp: iso() };
  const st = await timed(cp.call('StartTransaction', startReq));
  assert.equal(st.code, 'InternalError', `StartTransaction during failure: ${JSON.stringify(st.value ?? st.code)}`);
  assert.ok(st.ms < AT + 2000, `answered after ${st.ms} ms`);

  // The breaker opens: healthz says the store is down, and calls fail at once.
  const down = await until(async () => {
    const r = await timed(status(cp, 'Preparing'));
    assert.equal(r.code, 'InternalError', `while failing: ${JSON.stringify(r.value ?? r.code)}`);
    assert.ok(r.ms < AT + 2000, `answered after ${r.ms} ms`);
    const h = await srv.http('/healthz');
    return h.status === 503 ? h : false;
  }, { timeout: 15_000, interval: 200, what: 'healthz 503' });
  assert.equal(down.json?.store, 'down', down.text);
  const fast = await timed(status(cp, 'Preparing'));
  assert.equal(fast.code, 'InternalError');
  assert.ok(fast.ms < AT, `with the breaker open, answered after ${fast.ms} ms (answer-timeout ${AT})`);

  // Recovery once the file is gone.
  srv.clearFault();
  await until(async () => (await timed(status(cp, 'Available'))).ok,
    { timeout: 15_000, interval: 300, what: 'a StatusNotification to succeed after the fault is removed' });
  const h1 = await until(async () => {
    const h = await srv.http('/healthz');
    return h.status === 200 ? h : false;
  }, { timeout: 10_000, interval: 200, what: 'healthz 200 after recovery' });
  assert.equal(h1.json?.status, 'ok', h1.text);

  await retriedStartIsOne(srv, cp, startReq);
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
});

// The disk takes the writes but cannot sync them: the commit happens, the sync
// that is to confirm it fails, and the charger is not told. A failed sync is
// not retried: the store is down at once, until a probe syncs again.
test('--fault-file fail-sync: committed but not synced is not confirmed; the retry is one transaction', { timeout: 45_000 }, async () => {
  const srv = await start((s) => ({
    chargers: [{ id: 'CP-SYNC' }], tags: [{ tag: 'TAG-S' }],
    args: ['--answer-timeout', '2000', '--fault-file', s.faultFile],
  }));
  const cp = await srv.connect('CP-SYNC', { callTimeoutMs: 7000 });
  assert.equal((await boot(cp)).status, 'Accepted');
  await sleep(500); // the boot answer's frame-log write is committed (it waits for company)

  srv.writeFault('fail-sync');
  await sleep(200); // the fault file is re-read at most every 50 ms
  const startReq = { connectorId: 1, idTag: 'TAG-S', meterStart: 7, timestamp: iso() };
  const st = await timed(cp.call('StartTransaction', startReq));
  assert.equal(st.ok, false, `StartTransaction confirmed (${JSON.stringify(st.value)}) though its sync failed`);
  assert.equal(st.code, 'InternalError', String(st.error));
  // It was committed (SQLite has it), only never confirmed.
  assert.equal(srv.sql("SELECT * FROM transactions").length, 1, srv.tail());
  const down = await srv.http('/healthz');
  assert.equal(down.status, 503, down.text);
  assert.equal(down.json?.store, 'down', down.text);
  const refused = await timed(status(cp));
  assert.equal(refused.code, 'InternalError');

  srv.clearFault();
  await until(async () => (await srv.http('/healthz')).status === 200,
    { timeout: 15_000, interval: 200, what: 'healthz 200 after the disk syncs again' });
  // MicroOcpp sends the refused StartTransaction again, identical: it gets
  // the transaction that was committed.
  await retriedStartIsOne(srv, cp, startReq);
  assert.deepEqual(await srv.stop(), { code: 0, signal: null }, srv.tail());
});

test('--fault-file "stall 10000" with --answer-timeout 1000: answered InternalError within ~1 s', { timeout: 45_000 }, async () => {
  const AT = 1000;
  const srv = await start((s) => ({
    chargers: [{ id: 'CP-STALL' }],
    args: ['--answer-timeout', String(AT), '--fault-file', s.faultFile],
  }));
  const cp = await srv.connect('CP-STALL', { callTimeoutMs: 8000 });
  assert.equal((await boot(cp)).status, 'Accepted');

  srv.writeFault('stall 10000');
  await sleep(200); // the fault file is re-read at most every 50 ms
  // The firmware blocks every later message behind an unanswered StatusNotification:
  // it must be answered within the deadline, whatever the store does.
  const r = await timed(status(cp, 'Preparing'));
  assert.equal(r.ok, false, `answered ${JSON.stringify(r.value)} although the write cannot have committed`);
  assert.equal(r.code, 'InternalError');
  assert.ok(r.ms < AT + 2000, `answered after ${r.ms} ms (answer-timeout ${AT})`);
  for (const call of [() => cp.call('Heartbeat', {}), () => status(cp, 'Charging')]) {
    const x = await timed(call());
    assert.ok(x.ok || x.code === 'InternalError', `answer: ${x.code} ${x.error}`);
    assert.ok(x.ms < AT + 2000, `answered after ${x.ms} ms`);
  }

  srv.clearFault();
  await until(async () => (await timed(status(cp, 'Available'))).ok,
    { timeout: 25_000, interval: 500, what: 'a StatusNotification to succeed after the stall ends' });
  assert.deepEqual(await srv.stop({ timeout: 20_000 }), { code: 0, signal: null }, srv.tail());
});
