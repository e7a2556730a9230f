// Fleet page: every charger the user may see, with its online state, each
// connector's status, power and running session, updated live.
//
// Built for thousands of chargers sending every second: each charger has one
// card, built once and then updated in place, writing only the text (or
// class) that changed. Events only mark their charger dirty; the dirty cards
// are redrawn once per animation frame (none while the tab is hidden). Only
// the cards on or near the screen are redrawn: a change to a card out of
// sight waits until the card comes near the view, when it is redrawn from
// the charger's state of that moment, in the frame after; the count of
// online chargers is kept for every card. The texts that change every
// second (power, SoC, a session's energy and time) sit in boxes of a fixed
// height with contain: strict (app.css), so that writing them lays out that
// box alone, not the grid of every card. A new
// charger's card is inserted in its place in the order by id; the others are
// never moved, so the focus and the scroll position stay where they were.
import { h, statusClass, fmtPower, fmtEnergy, fmt, fmtDuration, socOf, num } from '../ui.js';

// Sets a node's text (or an attribute through set) only when it changed.
function put(node, key, value, set) {
  if (node[key] === value) return;
  node[key] = value;
  if (set) return set(value);
  const t = node.el.firstChild;
  if (t && t.nodeType === Node.TEXT_NODE && !t.nextSibling && value) t.data = value;
  else node.el.textContent = value;
}

function connectorRow() {
  const r = {
    el: h('li.conn-row'),
    id: h('span.conn-id'),
    badge: h('span.badge'),
    power: h('span.conn-power', { title: 'Power' }),
    soc: h('span.conn-soc', { title: 'State of charge' }),
    tx: h('span.conn-tx'),
  };
  r.el.append(r.id, r.badge, r.power, r.soc, r.tx);
  r.cells = { id: { el: r.id }, badge: { el: r.badge } };
  for (const k of ['power', 'soc', 'tx']) {
    const v = h('span.v');
    r[k].append(v);
    r.cells[k] = { el: v };
  }
  return r;
}

function updateRow(r, c, online, now) {
  const cl = r.cells;
  put(cl.id, 'text', `#${c.connectorId}`);
  if (r.el.dataset.connector !== String(c.connectorId)) r.el.dataset.connector = c.connectorId;
  put(cl.badge, 'cls', `badge ${statusClass(c.status, online)}`, (v) => { r.badge.className = v; });
  put(cl.badge, 'text', online ? c.status || 'Unknown' : 'Offline');
  put(cl.power, 'text', fmtPower(num(c.meter?.power)));
  const soc = socOf(c);
  put(cl.soc, 'text', soc == null ? '' : `${fmt(soc, 0)}%`);
  const tx = c.transaction;
  put(cl.tx, 'cls', tx ? 'conn-tx' : 'conn-tx muted', (v) => { r.tx.className = v; });
  put(cl.tx, 'text', tx ? `${fmtEnergy(tx.energyWh)} · ${fmtDuration(now - Date.parse(tx.startedAt))}` : 'no session');
  return !!tx;
}

class Card {
  constructor(id) {
    const href = `#/chargers/${encodeURIComponent(id)}`;
    this.id = id;
    this.online = null; // as drawn
    this.counted = false; // as counted in the summary
    this.running = false;
    this.rows = new Map(); // connectorId → row
    this.onlineEl = h('span.online');
    this.model = h('p.muted', { hidden: true });
    this.list = h('ul.conn-list', { hidden: true });
    this.none = h('p.muted', 'No connector has reported yet.');
    this.el = h('li.card.charger-card', { dataset: { charger: id } },
      h('div.card-head', h('h2', h('a', { href }, id)), this.onlineEl),
      this.model, this.list, this.none,
      h('div.card-actions',
        h('a.button', { href }, 'Details'),
        h('a.button', { href: `${href}/configure` }, 'Configure')));
    this.cells = { online: { el: this.onlineEl }, model: { el: this.model } };
  }

  // Brings the card to the snapshot s.
  update(s, now) {
    const online = !!s.online;
    if (this.online !== online) {
      this.online = online;
      this.onlineEl.className = `online ${online ? 'is-online' : 'is-offline'}`;
      this.onlineEl.textContent = online ? 'Online' : 'Offline';
    }
    const conns = s.connectors.filter((c) => c.connectorId > 0);
    const model = conns.map((c) => c.precharge?.model).find(Boolean) || '';
    put(this.cells.model, 'text', model);
    if (this.model.hidden !== !model) this.model.hidden = !model;
    if (this.list.hidden !== !conns.length) {
      this.list.hidden = !conns.length;
      this.none.hidden = !!conns.length;
    }
    let running = false;
    let next = this.list.firstChild;
    for (const c of conns) {
      // connectors are sorted by id (the fold keeps them so); a new one goes
      // in its place
      let r = this.rows.get(c.connectorId);
      if (!r) {
        r = connectorRow();
        this.rows.set(c.connectorId, r);
        this.list.insertBefore(r.el, next);
      } else if (r.el !== next) {
        this.list.insertBefore(r.el, next);
      }
      next = r.el.nextSibling;
      running = updateRow(r, c, online, now) || running;
    }
    if (this.rows.size > conns.length) {
      const keep = new Set(conns.map((c) => c.connectorId));
      for (const [cid, r] of this.rows) if (!keep.has(cid)) { r.el.remove(); this.rows.delete(cid); }
    }
    this.running = running;
  }
}

export function render(main, { live }) {
  const list = h('ul.fleet', { 'aria-live': 'off' });
  const empty = h('p.muted', 'No charger yet. Chargers appear here when they connect.');
  const summary = h('p.summary');
  main.replaceChildren(h('section', { 'aria-labelledby': 'fleet-title' },
    h('div.page-head', h('h1#fleet-title', 'Chargers'), summary), list, empty));

  const cards = new Map(); // id → Card
  let order = []; // the ids of the cards, sorted
  let online = 0;
  let shown = null; // the summary's text
  const dirty = new Set();
  let frame = 0;

  // Inserts the new cards (ids not yet in order) where they belong; the
  // cards already on the page stay where they are.
  function place(fresh) {
    fresh.sort();
    const merged = [];
    let i = 0;
    for (const id of fresh) {
      while (i < order.length && order[i] < id) merged.push(order[i++]);
      merged.push(id);
    }
    while (i < order.length) merged.push(order[i++]);
    order = merged;
    const isNew = new Set(fresh);
    let next = null;
    for (let k = order.length - 1; k >= 0; k--) {
      const el = cards.get(order[k]).el;
      if (isNew.has(order[k])) list.insertBefore(el, next);
      next = el;
    }
  }

  // The cards on or near the screen: those that content-visibility: auto
  // does not skip (app.css), which the browser says with an event per card
  // (it bubbles); a new card counts as one until it is told otherwise.
  const near = new Set();
  list.addEventListener('contentvisibilityautostatechange', (e) => {
    const id = e.target.dataset?.charger;
    if (!id || !cards.has(id)) return;
    if (e.skipped) {
      near.delete(id);
    } else if (!near.has(id)) {
      near.add(id);
      mark(id); // its changes, and a running session's elapsed time
    }
  });

  function flush() {
    frame = 0;
    const now = Date.now();
    const fresh = [];
    for (const id of dirty) {
      const ch = live.chargers.get(id);
      if (!ch) continue;
      let card = cards.get(id);
      if (!card) {
        card = new Card(id);
        cards.set(id, card);
        fresh.push(id);
        card.update(ch.snap, now);
        near.add(id);
      } else if (near.has(id)) {
        card.update(ch.snap, now);
      }
      const on = !!ch.snap.online;
      if (card.counted !== on) {
        card.counted = on;
        online += on ? 1 : -1;
      }
    }
    dirty.clear();
    if (fresh.length) place(fresh);
    if (empty.hidden !== cards.size > 0) empty.hidden = cards.size > 0;
    const text = `${online} of ${cards.size} online`;
    if (text !== shown) summary.textContent = shown = text;
  }

  function mark(id) {
    dirty.add(id);
    if (!frame) frame = requestAnimationFrame(flush);
  }

  for (const id of live.chargers.keys()) dirty.add(id);
  flush(); // the first drawing at once: the page is never shown empty
  const off = live.subscribe((m) => {
    if (m.kind === 'charger') mark(m.id);
    else if (m.kind === 'list') for (const id of live.chargers.keys()) if (!cards.has(id)) mark(id);
  });
  // the elapsed time of running sessions (the cards in sight; the others
  // are redrawn when they come into view)
  const tick = setInterval(() => {
    for (const id of near) if (cards.get(id)?.running) mark(id);
  }, 1000);
  return () => {
    off();
    clearInterval(tick);
    if (frame) cancelAnimationFrame(frame);
  };
}
