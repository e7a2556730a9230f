// Charger page (SoC monitoring): the SoC gauge, status, vehicle model,
// range, voltage, current, power, energy, cost and elapsed time of the
// session, a live chart of power and SoC over the session, and the recent
// transactions.
import { api } from '../api.js';
import { h, fill, badge, gauge, chart, fmt, fmtPower, fmtEnergy, fmtMoney, fmtDuration, fmtTime, socOf, num } from '../ui.js';

// Meter-value rows (REST) → chart points, one per time stamp.
function pointsFromRows(rows) {
  const by = new Map();
  for (const r of rows) {
    const t = Date.parse(r.timestamp);
    if (!Number.isFinite(t)) continue;
    const v = num(r.valueNum) ?? num(Number(r.value));
    if (v == null) continue;
    let p = by.get(t);
    if (!p) by.set(t, (p = { t, power: null, soc: null }));
    if (r.measurand === 'Power.Active.Import' && (!r.phase || r.phase === '')) {
      p.power = r.unit === 'kW' ? v * 1000 : v;
    } else if (r.measurand === 'SoC') {
      p.soc = v;
    }
  }
  return [...by.values()].filter((p) => p.power != null || p.soc != null).sort((a, b) => a.t - b.t);
}

export function pickConnector(snap, wanted) {
  const conns = snap.connectors.filter((c) => c.connectorId > 0);
  if (wanted) return conns.find((c) => c.connectorId === wanted) ? wanted : null;
  return (conns.find((c) => c.transaction) || conns[0])?.connectorId ?? 1;
}

export function connectorTabs(id, snap, current, page) {
  const conns = snap.connectors.filter((c) => c.connectorId > 0);
  if (conns.length < 2) return null;
  return h('nav.tabs', { 'aria-label': 'Connectors' }, conns.map((c) =>
    h('a', {
      href: `#/chargers/${encodeURIComponent(id)}${page}?c=${c.connectorId}`,
      'aria-current': c.connectorId === current ? 'page' : null,
    }, `Connector ${c.connectorId}`)));
}

const stat = (label, value, key) => h('div.stat', h('dt', label), h('dd', { dataset: { k: key } }, value));

export function render(main, { live, id, query }) {
  const ch0 = live.chargers.get(id);
  if (!ch0) {
    main.replaceChildren(h('section', h('h1', id), h('p', 'No such charger, or you may not see it. '), h('a', { href: '#/' }, 'All chargers')));
    const off = live.subscribe((m) => { if (m.kind === 'list' && live.chargers.has(id)) location.hash = location.hash; });
    return off;
  }
  const connector = pickConnector(ch0.snap, Number(query.get('c')) || 0) ?? 1;
  const g = gauge();
  const ch = chart();
  const head = h('div.page-head');
  const stats = h('dl.stats');
  const txs = h('tbody');
  const chartNote = h('p.muted.chart-note');
  main.replaceChildren(h('section.charger', { 'aria-labelledby': 'charger-title' },
    head,
    h('div.charger-grid',
      h('div.card.gauge-card', g.el, h('div.gauge-sub')),
      h('div.card', h('h2', 'Now'), stats),
      h('div.card.chart-card', h('h2', 'This session'), h('div.legend', h('span.lg-power', 'Power (kW)'), h('span.lg-soc', 'State of charge (%)')), ch.el, chartNote),
      h('div.card.tx-card', h('h2', 'Recent transactions'),
        h('div.table-wrap', h('table',
          h('thead', h('tr', ['Started', 'Connector', 'Energy', 'Cost', 'Duration', 'Reason'].map((t) => h('th', { scope: 'col' }, t)))),
          txs))))));

  let txId = null;
  let txsTimer = null;
  let lastTx = null; // the connector's latest transaction from the history (REST)

  // keep: add to the points shown (after a reconnect: what was missed)
  async function loadChart(tx, { keep = false } = {}) {
    txId = tx ? tx.transactionId : null;
    if (!keep) ch.set([]);
    chartNote.textContent = !tx ? 'No session yet: the chart starts with the next one.'
      : tx.stoppedAt ? `The last session, ended ${fmtTime(tx.stoppedAt)}.` : '';
    if (!tx || !tx.startedAt) return;
    try {
      const from = encodeURIComponent(tx.startedAt);
      const to = tx.stoppedAt ? `&to=${encodeURIComponent(new Date(Date.parse(tx.stoppedAt) + 1000).toISOString())}` : '';
      const rows = await api(`/api/chargers/${encodeURIComponent(id)}/meter-values?connector=${connector}&from=${from}${to}&limit=10000`);
      if (txId !== tx.transactionId) return;
      for (const p of pointsFromRows(rows)) ch.add(p);
    } catch { /* the live points still come */ }
  }

  async function loadTransactions() {
    try {
      const list = await api(`/api/transactions?charger=${encodeURIComponent(id)}&limit=10`);
      const t0 = list.find((t) => t.connectorId === connector && t.startedAt);
      lastTx = t0 ? { transactionId: t0.id, startedAt: t0.startedAt, stoppedAt: t0.stoppedAt } : null;
      draw();
      fill(txs, ...(list.length ? list.map((t) => h('tr',
        h('td', fmtTime(t.startedAt ?? t.stoppedAt)),
        h('td', `#${t.connectorId ?? '—'}`),
        h('td', fmtEnergy(t.energyWh)),
        h('td', fmtMoney(t.cost, t.currency)),
        h('td', t.startedAt && t.stoppedAt ? fmtDuration(Date.parse(t.stoppedAt) - Date.parse(t.startedAt)) : t.stoppedAt ? '—' : 'running'),
        h('td', t.stopReason ?? (t.stoppedAt ? '—' : '')))) : [h('tr', h('td', { colspan: 6, class: 'muted' }, 'No transaction yet.'))]));
    } catch { /* shown on the next try */ }
  }
  const reloadTransactions = () => { clearTimeout(txsTimer); txsTimer = setTimeout(loadTransactions, 300); };

  function draw() {
    const c = live.chargers.get(id);
    if (!c) return;
    const s = c.snap;
    const conn = s.connectors.find((x) => x.connectorId === connector) || { connectorId: connector };
    const tx = conn.transaction;
    const m = conn.meter || {};
    const pre = conn.precharge || {};
    const soc = socOf(conn);
    // built once (and when connectors appear): redrawing would lose the focus
    const nconn = s.connectors.length;
    if (head.dataset.n !== String(nconn)) {
      head.dataset.n = String(nconn);
      fill(head, 
        h('h1#charger-title', s.id, h('span.sub', ` · connector ${connector}`)),
        h('div.head-side', h('span.online'),
          h('a.button', { href: `#/chargers/${encodeURIComponent(id)}/configure?c=${connector}` }, 'Configure charge')),
        connectorTabs(id, s, connector, ''));
    }
    const on = head.querySelector('.online');
    on.className = `online ${s.online ? 'is-online' : 'is-offline'}`;
    on.textContent = s.online ? 'Online' : 'Offline';
    g.update(soc, tx?.targetSoc);
    fill(g.el.nextSibling, 
      badge(conn.status, s.online),
      h('span.model', { dataset: { k: 'model' } }, pre.model || 'Unknown vehicle'),
      h('span.range', { dataset: { k: 'range' } }, pre.rangeKm != null ? `${fmt(pre.rangeKm, 0)} km range` : ''));
    fill(stats, 
      stat('Status', conn.status || '—', 'status'),
      stat('SoC', soc == null ? '—' : `${fmt(soc, 1)}%`, 'soc'),
      stat('Vehicle', pre.model || '—', 'model'),
      stat('Range', pre.rangeKm != null ? fmt(pre.rangeKm, 0, 'km') : '—', 'range'),
      stat('Voltage', fmt(num(m.voltage), 1, 'V'), 'voltage'),
      stat('Current', fmt(num(m.current), 1, 'A'), 'current'),
      stat('Power', fmtPower(num(m.power)), 'power'),
      stat('Energy', fmtEnergy(tx ? tx.energyWh : conn.lastTransaction?.energyWh), 'energy'),
      stat('Cost', tx ? fmtMoney(tx.cost, tx.currency) : fmtMoney(conn.lastTransaction?.cost, conn.lastTransaction?.currency), 'cost'),
      stat('Elapsed', tx ? fmtDuration(Date.now() - Date.parse(tx.startedAt)) : '—', 'elapsed'),
      tx?.targetSoc != null ? stat('Target SoC', `${fmt(tx.targetSoc, 0)}%`, 'target') : null);
    const shown = tx0();
    if ((shown ? shown.transactionId : null) !== txId) loadChart(shown);
  }

  // the transaction the chart shows: the running one, else the last one
  function tx0() {
    const conn = live.chargers.get(id)?.snap.connectors.find((x) => x.connectorId === connector);
    return conn?.transaction || lastTx;
  }

  draw();
  loadTransactions();
  const off = live.subscribe((msg) => {
    if (msg.kind === 'charger' && msg.id === id) {
      const ev = msg.event;
      // A subscription under "*" (at the first connect, or a reconnect)
      // brings a snapshot, not the events before it: the chart's points are
      // read again once the snapshot is in, so none is missed.
      if (ev?.type === 'snapshot' && txId != null) loadChart(tx0(), { keep: true });
      const running = live.chargers.get(id)?.snap.connectors.find((x) => x.connectorId === connector)?.transaction;
      if (ev && ev.type === 'meter' && ev.connector === connector && running && running.transactionId === txId && !ev.data?.late) {
        ch.add({ t: Date.parse(ev.ts), power: num(ev.data.power), soc: num(ev.data.soc) });
      }
      draw();
      if (!ev || ev.type === 'transaction.started' || ev.type === 'transaction.stopped' || ev.type === 'snapshot') reloadTransactions();
    }
    if (msg.kind === 'poll') loadTransactions();
  });
  const tick = setInterval(draw, 1000);
  return () => { off(); clearInterval(tick); clearTimeout(txsTimer); };
}
