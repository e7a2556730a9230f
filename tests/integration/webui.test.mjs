// The web UI (web/) end to end: Chromium (playwright-core, headless) against
// the real server, with a charger played by ocpp-rpc that answers remote
// commands the way a MicroOcpp charger does. Every test saves screenshots
// under its own output directory (printed) and fails on console errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server, until, sleep, iso } from './lib/server.mjs';
import { checkWsFrame, apiResponseProblems, isContractPath, record } from './lib/contract.mjs';
import { mint } from './lib/ui.mjs';

const CHROMIUM = '/usr/bin/chromium';
const here = path.dirname(fileURLToPath(import.meta.url));
const WEB_ROOT = path.resolve(here, '../../web');
const SECRET = 'webui-e2e-secret-0123456789abcdef-XYZ';
const USER = 'olivia';
const PASSWORD = 'operator-password';
const skip = !existsSync(CHROMIUM) && `${CHROMIUM} not installed`;

const OUT = mkdtempSync(path.join(tmpdir(), 'fc-webui-'));
process.stdout.write(`# webui screenshots: ${OUT}\n`);

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

let chromium;
let browserCtx;
let profile;

before(async () => {
  if (skip) return;
  ({ chromium } = await import('playwright-core'));
});

after(async () => {
  if (browserCtx) await browserCtx.close().catch(() => {});
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function browser() {
  profile = mkdtempSync(path.join(tmpdir(), 'fc-chromium-'));
  browserCtx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return browserCtx;
}

// A page that records console errors and uncaught exceptions. What it
// receives from /ws and /api is checked against the published contracts
// (lib/contract.mjs): a mismatch fails the test.
async function newPage(ctx, { init } = {}) {
  const page = await ctx.newPage();
  page.errors = [];
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => page.errors.push(`pageerror: ${e.message}`));
  page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) =>
    checkWsFrame(String(payload), `the web UI (${ws.url().split('?')[0]})`)));
  page.on('response', async (r) => {
    const u = new URL(r.url());
    if (!isContractPath(u.pathname) || r.status() === 101) return;
    let text;
    try { text = await r.text(); } catch { return; /* the page went on */ }
    const method = r.request().method();
    const p = apiResponseProblems({ method, path: u.pathname, status: r.status(),
      contentType: r.headers()['content-type'] ?? '', text });
    if (p) record(`the web UI's ${method} ${u.pathname} → ${r.status()}: ${p}`);
  });
  if (init) await page.addInitScript(init);
  return page;
}

async function shot(page, t, name) {
  const file = path.join(OUT, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  t.diagnostic(`screenshot: ${file}`);
  return file;
}

// ---- the server and a charger ----------------------------------------------

// accept: unknown chargers are accepted (a charger's first connection
// then brings it into the fleet)
// extra: more serve arguments; register: more charger ids to register
async function startServer(ports, { accept = false, extra = [], register = [] } = {}) {
  const srv = new Server({ chargers: [{ id: 'CP1' }, ...register.map((id) => ({ id }))], tags: [{ tag: 'TAG-UI' }] });
  const p = ports ?? { http: await freePort(), ocpp: await freePort() };
  srv.ports = p;
  srv.opts.serveArgs = ['--db', srv.db, '--ocpp-port', String(p.ocpp), '--http-port', String(p.http),
    '--bind', '127.0.0.1', '--log-level', 'info', '--web-root', WEB_ROOT,
    ...(accept ? ['--unknown-chargers', 'accept'] : []), ...extra];
  srv.opts.env = { FLASHCHARGE_JWT_SECRET: SECRET };
  srv.register();
  srv.cli(['user', 'add', USER, '--role', 'operator', '--password', PASSWORD]);
  await srv.spawn();
  return srv;
}

// A flashCharge charger: boots, reports Available with a vehicle's
// PreChargeData, and answers remote start/stop like MicroOcpp (accept, then
// StartTransaction/StopTransaction and the status changes).
async function charger(srv, id = 'CP1', { answerDelay = 400 } = {}) {
  const cp = await srv.connect(id);
  cp.calls = [];
  cp.txId = null;
  cp.meter = 1000;
  const status = (s) => cp.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: s, timestamp: iso() });
  cp.status = status;
  cp.handle('RemoteStartTransaction', async ({ params }) => {
    cp.calls.push(['RemoteStartTransaction', params]);
    await sleep(answerDelay); // long enough to see the buttons disabled in flight
    setTimeout(async () => {
      await status('Preparing');
      const r = await cp.call('StartTransaction', { connectorId: 1, idTag: params.idTag, meterStart: cp.meter, timestamp: iso() });
      cp.txId = r.transactionId;
      await status('Charging');
    }, 50);
    return { status: 'Accepted' };
  });
  cp.handle('RemoteStopTransaction', async ({ params }) => {
    cp.calls.push(['RemoteStopTransaction', params]);
    await sleep(answerDelay);
    setTimeout(async () => {
      cp.meter += 500;
      await cp.call('StopTransaction', { transactionId: params.transactionId, meterStop: cp.meter, timestamp: iso(), reason: 'Remote' });
      cp.txId = null;
      await status('Finishing');
    }, 50);
    return { status: 'Accepted' };
  });
  cp.handle('SetChargingProfile', ({ params }) => { cp.calls.push(['SetChargingProfile', params]); return { status: 'Accepted' }; });
  await cp.call('BootNotification', { chargePointVendor: 'flashCharge', chargePointModel: 'FC-1' });
  await status('Available');
  await cp.call('DataTransfer', {
    vendorId: 'flashCharge', messageId: 'PreChargeData',
    data: JSON.stringify({ connectorId: 1, soc: 42, batteryVoltage: 51.2, batteryCapacityWh: 3700, model: 'Pro' }),
  });
  cp.meterValues = (soc, { power = 2400, voltage = 230.1, current = 10.4 } = {}) => {
    cp.meter += 20;
    return cp.call('MeterValues', {
      connectorId: 1,
      ...(cp.txId ? { transactionId: cp.txId } : {}),
      meterValue: [{
        timestamp: iso(),
        sampledValue: [
          { value: String(cp.meter), measurand: 'Energy.Active.Import.Register', unit: 'Wh' },
          { value: String(power), measurand: 'Power.Active.Import', unit: 'W' },
          { value: String(voltage), measurand: 'Voltage', unit: 'V' },
          { value: String(current), measurand: 'Current.Import', unit: 'A' },
          { value: String(soc), measurand: 'SoC' },
        ],
      }],
    });
  };
  return cp;
}

async function signIn(page, srv, hash = '') {
  await page.goto(`http://127.0.0.1:${srv.httpPort}/${hash}`);
  await page.waitForSelector('#username');
  await page.fill('#username', USER);
  await page.fill('#password', PASSWORD);
  await page.press('#password', 'Enter');
  await page.waitForFunction(() => window.fcLive && window.fcLive.state === 'live', null, { timeout: 10000 });
}

const text = (page, sel) => page.locator(sel).first().textContent();

// ---- tests -------------------------------------------------------------------

test('sign-in: a wrong password is refused, the right one shows the fleet live', { skip }, async (t) => {
  const srv = await startServer();
  const ctx = await browser();
  try {
    const cp = await charger(srv);
    const page = await newPage(ctx);
    await page.goto(`http://127.0.0.1:${srv.httpPort}/`);
    await page.waitForSelector('#username');
    assert.match(page.url(), /#\/login$/);
    // signed out: no connection state and no "Sign out" in the header
    assert.equal(await page.locator('#conn').isVisible(), false, 'the connection state is hidden');
    assert.equal(await page.locator('#who').isVisible(), false, 'the user and Sign out are hidden');
    await shot(page, t, 'signin');
    // a wrong password: the page says so (the 401 is an expected console line)
    await page.fill('#username', USER);
    await page.fill('#password', 'not-the-password');
    await page.click('button[type=submit]');
    await page.waitForFunction(() => /Wrong/.test(document.querySelector('#login-error').textContent));
    page.errors = page.errors.filter((e) => !/401/.test(e));
    // the keyboard alone signs in
    await page.focus('#password');
    await page.fill('#password', PASSWORD);
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-charger="CP1"]');
    await page.waitForFunction(() => window.fcLive.state === 'live');
    assert.equal((await text(page, '#conn .conn-text')).trim(), 'Live');
    assert.match(await text(page, '[data-charger="CP1"] .online'), /Online/);
    assert.match(await text(page, '[data-charger="CP1"] .badge'), /Available/);
    assert.match(await text(page, '.who-name'), /olivia \(operator\)/);
    await cp.meterValues(45, { power: 3300 });
    await page.waitForFunction(() => /3\.30/.test(document.querySelector('[data-charger="CP1"] .conn-power').textContent));
    await shot(page, t, 'fleet-desktop');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, t, 'fleet-phone');
    // the session lives in session storage: a reload stays signed in
    await page.reload();
    await page.waitForSelector('[data-charger="CP1"]');
    assert.deepEqual(page.errors, []);
    // sign out returns to the sign-in page
    await page.click('#signout');
    await page.waitForSelector('#username');
    await page.close();
  } finally {
    await srv.cleanup();
  }
});

test('charger page: the SoC shown changes within one second of the charger\'s MeterValues', { skip }, async (t) => {
  const srv = await startServer();
  const ctx = browserCtx ?? await browser();
  try {
    const cp = await charger(srv);
    const page = await newPage(ctx);
    await signIn(page, srv, '#/chargers/CP1');
    await page.waitForSelector('[data-k="soc"]');
    assert.match(await text(page, '[data-k="model"]'), /Pro/);
    assert.equal((await text(page, '[data-k="soc"]')).trim(), '42.0%'); // from PreChargeData
    const delays = [];
    for (const soc of [57, 58.5, 61]) {
      const t0 = Date.now();
      const sent = cp.meterValues(soc);
      await page.waitForFunction((want) => document.querySelector('[data-k="soc"]').textContent.trim() === want,
        `${soc.toFixed(1)}%`, { timeout: 3000, polling: 'raf' });
      delays.push(Date.now() - t0);
      await sent;
    }
    t.diagnostic(`SoC shown after ${delays.join(', ')} ms`);
    for (const d of delays) assert.ok(d < 1000, `SoC shown after ${d} ms`);
    assert.match(await text(page, '[data-k="voltage"]'), /230\.1/);
    assert.match(await text(page, '[data-k="current"]'), /10\.4/);
    assert.match(await text(page, '.gauge-value'), /61%/);
    await shot(page, t, 'charger-desktop');
    assert.deepEqual(page.errors, []);
    await page.close();
  } finally {
    await srv.cleanup();
  }
});

test('configure page: start and stop reach the charger; the buttons follow the state', { skip }, async (t) => {
  const srv = await startServer();
  const ctx = browserCtx ?? await browser();
  try {
    const cp = await charger(srv);
    await cp.status('Preparing');
    const page = await newPage(ctx);
    await signIn(page, srv, '#/chargers/CP1/configure');
    await page.waitForSelector('#start');
    await page.waitForFunction(() => !document.querySelector('#start').disabled);
    assert.equal(await page.locator('#stop').isDisabled(), true);
    await page.fill('#id-tag', 'TAG-UI');
    await page.fill('#max-current', '16');
    await page.fill('#target-soc', '80');
    await shot(page, t, 'configure-ready');

    // start: every button disabled while in flight, then the answer
    await page.click('#start');
    await page.waitForFunction(() => document.querySelector('#start').getAttribute('aria-busy') === 'true');
    for (const b of ['#start', '#stop', '#set-limit', '#set-target']) {
      assert.equal(await page.locator(b).isDisabled(), true, `${b} disabled in flight`);
    }
    await shot(page, t, 'configure-inflight');
    await page.waitForFunction(() => /answered Accepted/.test(document.querySelector('#answer').textContent));
    const start = cp.calls.find(([a]) => a === 'RemoteStartTransaction');
    assert.ok(start, 'the charger got RemoteStartTransaction');
    assert.equal(start[1].idTag, 'TAG-UI');
    assert.equal(start[1].connectorId, 1);
    // charging: stop and limit enabled, start not
    await page.waitForFunction(() => !document.querySelector('#stop').disabled, null, { timeout: 5000 });
    assert.equal(await page.locator('#start').isDisabled(), true);
    assert.equal(await page.locator('#set-limit').isDisabled(), false);
    assert.match(await text(page, '#cfg-status'), /Charging/);
    await cp.meterValues(63, { power: 7200 });
    await page.waitForFunction(() => /63\.0%/.test(document.querySelector('#cfg-soc').textContent));

    // a current limit on the running session
    await page.fill('#max-current', '10');
    await page.click('#set-limit');
    await page.waitForFunction(() => /Current limit: the charger answered Accepted/.test(document.querySelector('#answer').textContent));
    assert.ok(cp.calls.some(([a]) => a === 'SetChargingProfile'));
    await shot(page, t, 'configure-charging');

    // keyboard: Tab to Stop and press Enter
    await page.focus('#stop');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => /Stop: the charger answered Accepted/.test(document.querySelector('#answer').textContent));
    const stop = cp.calls.find(([a]) => a === 'RemoteStopTransaction');
    assert.ok(stop, 'the charger got RemoteStopTransaction');
    assert.ok(stop[1].transactionId > 0);
    // Finishing: neither start nor stop
    await page.waitForFunction(() => /Finishing/.test(document.querySelector('#cfg-status').textContent));
    assert.equal(await page.locator('#stop').isDisabled(), true);
    assert.equal(await page.locator('#start').isDisabled(), true);
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, t, 'configure-phone');
    // the transaction is in the charger page's history
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`http://127.0.0.1:${srv.httpPort}/#/chargers/CP1`);
    await page.waitForFunction(() => /Remote/.test(document.querySelector('.tx-card tbody').textContent));
    await shot(page, t, 'charger-history');
    assert.deepEqual(page.errors, []);
    await page.close();
  } finally {
    await srv.cleanup();
  }
});

test('after the server restarts, the page reconnects and catches up', { skip }, async (t) => {
  const srv = await startServer();
  const ctx = browserCtx ?? await browser();
  try {
    let cp = await charger(srv);
    const page = await newPage(ctx);
    await signIn(page, srv, '#/chargers/CP1');
    await cp.meterValues(50);
    await page.waitForFunction(() => document.querySelector('[data-k="soc"]').textContent.trim() === '50.0%');

    await cp.close({ force: true }).catch(() => {});
    await srv.stop();
    await page.waitForFunction(() => window.fcLive.state !== 'live', null, { timeout: 10000 });
    assert.match(await text(page, '#conn .conn-text'), /Reconnecting|Offline/);
    await shot(page, t, 'restart-reconnecting');
    // Chromium reports the failed reconnects on the console: expected here
    page.errors = [];

    await srv.spawn();
    cp = await charger(srv);
    await cp.meterValues(71);
    await cp.meterValues(72.5);
    await page.waitForFunction(() => window.fcLive.state === 'live', null, { timeout: 40000 });
    await page.waitForFunction(() => document.querySelector('[data-k="soc"]').textContent.trim() === '72.5%', null, { timeout: 5000 });
    const seqs = await page.evaluate(() => {
      const c = window.fcLive.chargers.get('CP1');
      return { seq: c.seq, streamSeq: c.streamSeq };
    });
    const snap = (await srv.http('/api/chargers/CP1', { headers: { authorization: `Bearer ${await page.evaluate(() => JSON.parse(sessionStorage.getItem('fc.session')).token)}` } })).json;
    assert.equal(seqs.streamSeq, snap.seq, 'the stream resumed up to the server\'s latest event');
    // and keeps going live
    await cp.meterValues(74);
    await page.waitForFunction(() => document.querySelector('[data-k="soc"]').textContent.trim() === '74.0%', null, { timeout: 2000 });
    await shot(page, t, 'restart-caught-up');
    assert.deepEqual(page.errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED/.test(e)), []);
    await page.close();
  } finally {
    await srv.cleanup();
  }
});

test('with the WebSocket blocked, the page polls REST, and stops once the socket is back', { skip }, async (t) => {
  const srv = await startServer();
  const ctx = browserCtx ?? await browser();
  try {
    const cp = await charger(srv);
    const page = await newPage(ctx, { init: () => sessionStorage.setItem('fc.pollMs', '1000') });
    let blocked = true;
    let attempts = 0;
    await page.routeWebSocket(/\/ws/, (ws) => {
      attempts++;
      if (blocked) ws.close({ code: 1011, reason: 'blocked by the test' });
      else ws.connectToServer();
    });
    const polls = [];
    page.on('request', (r) => { if (new URL(r.url()).pathname === '/api/chargers') polls.push(Date.now()); });

    await page.goto(`http://127.0.0.1:${srv.httpPort}/#/chargers/CP1`);
    await page.fill('#username', USER);
    await page.fill('#password', PASSWORD);
    await page.press('#password', 'Enter');
    await page.waitForSelector('[data-k="soc"]');
    await page.waitForFunction(() => window.fcLive && window.fcLive.polling, null, { timeout: 10000 });
    assert.match(await text(page, '#conn .conn-text'), /Reconnecting.*every 30 s/);
    await cp.meterValues(33);
    await page.waitForFunction(() => document.querySelector('[data-k="soc"]').textContent.trim() === '33.0%', null, { timeout: 5000 });
    assert.ok(polls.length >= 2, `polled ${polls.length} times`);
    assert.ok(attempts >= 1);
    await shot(page, t, 'polling');

    // the socket comes back: live again, polling stops
    blocked = false;
    await page.waitForFunction(() => window.fcLive.state === 'live', null, { timeout: 40000 });
    assert.equal(await page.evaluate(() => window.fcLive.polling), false);
    const n = polls.length;
    await cp.meterValues(36);
    await page.waitForFunction(() => document.querySelector('[data-k="soc"]').textContent.trim() === '36.0%', null, { timeout: 2000 });
    await sleep(2500);
    assert.ok(polls.length <= n + 1, `no polling while live (${polls.length - n} more)`);
    assert.equal((await text(page, '#conn .conn-text')).trim(), 'Live');
    await shot(page, t, 'polling-back-live');
    assert.deepEqual(page.errors, []);
    await page.close();
  } finally {
    await srv.cleanup();
  }
});

// The ids of the cards on the fleet page, in page order.
const cardIds = (page) => page.$$eval('[data-charger]', (els) => els.map((e) => e.dataset.charger));

test('fleet page: a charger that connects for the first time while the page is open appears, in order', { skip }, async (t) => {
  const srv = await startServer(undefined, { accept: true });
  const ctx = browserCtx ?? await browser();
  try {
    const cp1 = await charger(srv, 'CP1');
    const page = await newPage(ctx);
    await signIn(page, srv);
    await page.waitForSelector('[data-charger="CP1"]');
    assert.deepEqual(await cardIds(page), ['CP1']);
    // the card of CP1, and its link, stay the same node while others come
    await page.focus('[data-charger="CP1"] h2 a');
    await page.evaluate(() => { window.fcCard1 = document.querySelector('[data-charger="CP1"]'); });

    // CP2 connects for the first time: the server has never heard of it
    assert.equal((await srv.http('/api/chargers', { headers: { authorization: `Bearer ${await page.evaluate(() => JSON.parse(sessionStorage.getItem('fc.session')).token)}` } })).json.length, 1);
    const cp2 = await charger(srv, 'CP2');
    await page.waitForSelector('[data-charger="CP2"]', { timeout: 1000 });
    await page.waitForFunction(() => /Available/.test(document.querySelector('[data-charger="CP2"] .badge')?.textContent),
      null, { timeout: 5000 });
    assert.match(await text(page, '[data-charger="CP2"] .online'), /Online/);
    // and its live values follow
    await cp2.meterValues(44, { power: 5100 });
    await page.waitForFunction(() => /5\.10/.test(document.querySelector('[data-charger="CP2"] .conn-power').textContent),
      null, { timeout: 5000 });
    // one that sorts first goes first, without moving the others
    const cp0 = await charger(srv, 'CP0');
    await page.waitForSelector('[data-charger="CP0"]', { timeout: 5000 });
    assert.deepEqual(await cardIds(page), ['CP0', 'CP1', 'CP2']);
    assert.match(await text(page, '.summary'), /3 of 3 online/);
    await cp1.meterValues(47, { power: 3300 });
    await page.waitForFunction(() => /3\.30/.test(document.querySelector('[data-charger="CP1"] .conn-power').textContent));
    assert.equal(await page.evaluate(() => window.fcCard1 === document.querySelector('[data-charger="CP1"]')), true,
      'the card was updated in place');
    assert.equal(await page.evaluate(() => document.activeElement?.closest('[data-charger]')?.dataset.charger), 'CP1',
      'the focus stayed');
    await cp0.close({ force: true }).catch(() => {});
    await page.waitForFunction(() => /Offline/.test(document.querySelector('[data-charger="CP0"] .online').textContent));
    assert.match(await text(page, '.summary'), /2 of 3 online/);
    await shot(page, t, 'fleet-new-charger');
    assert.deepEqual(page.errors, []);
    await page.close();
  } finally {
    await srv.cleanup();
  }
});

test('fleet page: a token scoped to some chargers sees those only, including one that connects later', { skip }, async (t) => {
  const srv = await startServer(undefined, { accept: true });
  const ctx = browserCtx ?? await browser();
  try {
    await charger(srv, 'CP1');
    await charger(srv, 'CP2');
    const token = mint(SECRET, { sub: 'scoped', chargers: ['CP1', 'CP3'], role: 'viewer' });
    const expiresAt = new Date(Date.now() + 3600e3).toISOString();
    const page = await newPage(ctx, {
      init: `sessionStorage.setItem('fc.session', ${JSON.stringify(JSON.stringify({ token, expiresAt, role: 'viewer', sub: 'scoped' }))})`,
    });
    await page.goto(`http://127.0.0.1:${srv.httpPort}/#/`);
    await page.waitForSelector('[data-charger="CP1"]');
    await page.waitForFunction(() => window.fcLive.state === 'live');
    const cp3 = await charger(srv, 'CP3');
    await page.waitForSelector('[data-charger="CP3"]', { timeout: 1000 });
    await cp3.meterValues(30, { power: 1200 });
    await page.waitForFunction(() => /1\.20/.test(document.querySelector('[data-charger="CP3"] .conn-power').textContent),
      null, { timeout: 5000 });
    assert.deepEqual(await cardIds(page), ['CP1', 'CP3']);
    assert.equal(await page.evaluate(() => window.fcLive.chargers.has('CP2')), false);
    await shot(page, t, 'fleet-scoped');
    assert.deepEqual(page.errors, []);
    await page.close();
  } finally {
    await srv.cleanup();
  }
});

test('fleet page: more chargers than the browser queue\'s hard bound holds at once: every snapshot comes, the page stays connected', { skip }, async (t) => {
  // 80 registered chargers: their snapshots (~110 bytes each under "*")
  // are twice the 4 KiB hard bound
  const ids = Array.from({ length: 80 }, (_, i) => `Q${String(i).padStart(3, '0')}`);
  const srv = await startServer(undefined, { extra: ['--ui-queue-soft', '1024', '--ui-queue-hard', '4096'], register: ids });
  const ctx = browserCtx ?? await browser();
  try {
    const page = await newPage(ctx);
    const sockets = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await signIn(page, srv);
    // every snapshot reached the stream (seq 0: registered, never connected)
    await page.waitForFunction((n) => document.querySelectorAll('[data-charger]').length === n, ids.length + 1);
    // then a charger's events still come on the same connection
    const cp = await charger(srv, 'CP1');
    await cp.meterValues(40, { power: 2200 });
    await page.waitForFunction(() => /2\.20/.test(document.querySelector('[data-charger="CP1"] .conn-power')?.textContent), null, { timeout: 10000 });
    assert.equal(await page.evaluate(() => window.fcLive.state), 'live');
    assert.equal(sockets.length, 1, `one /ws connection (${sockets.length}: closed as lagged and reconnected)`);
    assert.equal(srv.stderr.split('\n').filter((l) => /ui_lagged/.test(l)).length, 0, 'no ui_lagged');
    assert.deepEqual((await cardIds(page)).slice(0, 3), ['CP1', 'Q000', 'Q001']);
    assert.deepEqual(page.errors, []);
    await page.close();
  } finally {
    await srv.cleanup();
  }
});

test('fleet page: a card out of sight is redrawn when it scrolls into view, with what changed meanwhile', { skip }, async (t) => {
  // 80 registered chargers before ZZ9 in the order: its card is far below
  // the view (the page redraws only the cards near it)
  const ids = Array.from({ length: 80 }, (_, i) => `Q${String(i).padStart(3, '0')}`);
  const srv = await startServer(undefined, { register: [...ids, 'ZZ9'] });
  const ctx = browserCtx ?? await browser();
  try {
    const cp = await charger(srv, 'ZZ9');
    const page = await newPage(ctx);
    await signIn(page, srv);
    // CP1, the 80, ZZ9
    await page.waitForFunction((n) => document.querySelectorAll('[data-charger]').length === n, ids.length + 2);
    await page.waitForFunction(() => window.fcLive.chargers.get('ZZ9')?.snap.connectors.some((c) => c.status === 'Available'));
    const below = await page.evaluate(() => document.querySelector('[data-charger="ZZ9"]').getBoundingClientRect().top / innerHeight);
    assert.ok(below > 3, `ZZ9's card is ${below.toFixed(1)} screens down`);
    await cp.meterValues(40, { power: 4400 });
    // the page has it, and does not draw it out of sight
    await page.waitForFunction(() => window.fcLive.chargers.get('ZZ9')?.snap.connectors.some((c) => c.meter?.power === 4400));
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    assert.doesNotMatch(await text(page, '[data-charger="ZZ9"] .conn-power'), /4\.40/);
    // in view, it shows it within a few frames
    await page.locator('[data-charger="ZZ9"]').scrollIntoViewIfNeeded();
    await page.waitForFunction(() => /4\.40/.test(document.querySelector('[data-charger="ZZ9"] .conn-power').textContent), null, { timeout: 2000 });
    assert.match(await text(page, '[data-charger="ZZ9"] .conn-soc'), /40/);
    assert.deepEqual(page.errors, []);
    await shot(page, t, 'fleet-scrolled');
    await page.close();
  } finally {
    await srv.cleanup();
  }
});

test('charger page: after a reconnect, the chart gets the points sent while the socket was down', { skip }, async (t) => {
  const srv = await startServer();
  const ctx = browserCtx ?? await browser();
  try {
    const cp = await charger(srv);
    await cp.status('Preparing');
    const r = await cp.call('StartTransaction', { connectorId: 1, idTag: 'TAG-UI', meterStart: cp.meter, timestamp: iso() });
    cp.txId = r.transactionId;
    await cp.status('Charging');
    const page = await newPage(ctx);
    let blocked = false;
    let current = null;
    await page.routeWebSocket(/\/ws/, (ws) => {
      if (blocked) { ws.close({ code: 1011, reason: 'blocked by the test' }); return; }
      current = ws;
      ws.connectToServer();
    });
    await signIn(page, srv, '#/chargers/CP1');
    await cp.meterValues(50);
    await page.waitForFunction(() => document.querySelector('[data-k="soc"]').textContent.trim() === '50.0%');
    const socs = () => page.evaluate(() => document.querySelector('.chart').fcChart.points.map((p) => p.soc));
    await page.waitForFunction(() => document.querySelector('.chart').fcChart.points.some((p) => p.soc === 50));

    // the socket drops; two MeterValues while it is down
    blocked = true;
    await current.close({ code: 1011, reason: 'dropped by the test' });
    await page.waitForFunction(() => window.fcLive.state !== 'live');
    await cp.meterValues(52);
    await cp.meterValues(54);
    blocked = false;
    await page.waitForFunction(() => window.fcLive.state === 'live', null, { timeout: 40000 });
    await page.waitForFunction(() => document.querySelector('[data-k="soc"]').textContent.trim() === '54.0%');
    await page.waitForFunction(() => [52, 54].every((s) => document.querySelector('.chart').fcChart.points.some((p) => p.soc === s)),
      null, { timeout: 5000 }).catch(() => {});
    const got = await socs();
    assert.ok(got.includes(52) && got.includes(54), `the chart has the missed points (SoC ${got.join(', ')})`);
    await shot(page, t, 'charger-resync');
    assert.deepEqual(page.errors.filter((e) => !/WebSocket/.test(e)), []);
    await page.close();
  } finally {
    await srv.cleanup();
  }
});
