// Fleet page: every charger the user may see, with its online state, each
// connector's status, power and running session, updated live.
import { h, fill, badge, fmtPower, fmtEnergy, fmt, fmtDuration, socOf, num } from '../ui.js';

function connectorRow(id, c, online) {
  const tx = c.transaction;
  const soc = socOf(c);
  return h('li.conn-row', { dataset: { connector: c.connectorId } },
    h('span.conn-id', `#${c.connectorId}`),
    badge(c.status, online),
    h('span.conn-power', { title: 'Power' }, fmtPower(num(c.meter?.power))),
    h('span.conn-soc', { title: 'State of charge' }, soc == null ? '' : `${fmt(soc, 0)}%`),
    tx ? h('span.conn-tx', `${fmtEnergy(tx.energyWh)} · ${fmtDuration(Date.now() - Date.parse(tx.startedAt))}`) : h('span.conn-tx.muted', 'no session'));
}

function card(ch) {
  const s = ch.snap;
  const conns = s.connectors.filter((c) => c.connectorId > 0);
  const model = conns.map((c) => c.precharge?.model).find(Boolean);
  return h('li.card.charger-card', { dataset: { charger: s.id } },
    h('div.card-head',
      h('h2', h('a', { href: `#/chargers/${encodeURIComponent(s.id)}` }, s.id)),
      h(`span.online.${s.online ? 'is-online' : 'is-offline'}`, s.online ? 'Online' : 'Offline')),
    model ? h('p.muted', model) : null,
    conns.length
      ? h('ul.conn-list', conns.map((c) => connectorRow(s.id, c, s.online)))
      : h('p.muted', 'No connector has reported yet.'),
    h('div.card-actions',
      h('a.button', { href: `#/chargers/${encodeURIComponent(s.id)}` }, 'Details'),
      h('a.button', { href: `#/chargers/${encodeURIComponent(s.id)}/configure` }, 'Configure')));
}

export function render(main, { live }) {
  const list = h('ul.fleet', { 'aria-live': 'off' });
  const empty = h('p.muted', 'No charger yet. Chargers appear here when they connect.');
  const summary = h('p.summary');
  main.replaceChildren(h('section', { 'aria-labelledby': 'fleet-title' },
    h('div.page-head', h('h1#fleet-title', 'Chargers'), summary), list, empty));

  const cards = new Map();
  function draw(id) {
    const ch = live.chargers.get(id);
    if (!ch) return;
    const el = card(ch);
    const old = cards.get(id);
    // keep the focus where it was when a card is redrawn
    const focused = old && old.contains(document.activeElement) ? document.activeElement.getAttribute('href') : null;
    if (old) old.replaceWith(el); else list.append(el);
    cards.set(id, el);
    if (focused) el.querySelector(`[href="${CSS.escape(focused)}"]`)?.focus();
  }
  function drawAll() {
    const ids = [...live.chargers.keys()].sort();
    for (const id of ids) if (!cards.has(id)) draw(id);
    // keep the order by id
    for (const id of ids) list.append(cards.get(id));
    empty.hidden = ids.length > 0;
    const online = [...live.chargers.values()].filter((c) => c.snap.online).length;
    summary.textContent = `${online} of ${ids.length} online`;
  }
  drawAll();
  const off = live.subscribe((m) => {
    if (m.kind === 'list') drawAll();
    if (m.kind === 'charger') { draw(m.id); drawAll(); }
  });
  // the elapsed time of running sessions
  const tick = setInterval(() => {
    for (const id of cards.keys()) {
      if (live.chargers.get(id)?.snap.connectors.some((c) => c.transaction)) draw(id);
    }
  }, 1000);
  return () => { off(); clearInterval(tick); };
}
