// Configure-charge page: target SoC, maximum current, start and stop.
// Each button is enabled only when the connector's state allows it, all of
// them are disabled while a command is in flight, and the charger's answer
// is shown (aria-live) once it comes.
import { api } from '../api.js';
import { current, canOperate } from '../session.js';
import { h, fill, badge, fmt, fmtPower, socOf, num } from '../ui.js';
import { pickConnector, connectorTabs } from './charger.js';

const STOPPABLE = ['Charging', 'SuspendedEV', 'SuspendedEVSE'];

// What the connector allows now, and why not.
export function allowed(snap, conn, role) {
  const online = !!snap.online;
  const st = conn?.status;
  const running = !!conn?.transaction;
  const vehicle = st === 'Preparing' || (st === 'Available' && conn?.precharge?.soc != null);
  const why = [];
  if (!role) why.push('Your role (viewer) cannot send commands.');
  else if (!online) why.push('The charger is offline.');
  else if (running) why.push(`A session is running (status ${st || 'unknown'}).`);
  else if (!vehicle) why.push(st === 'Available' ? 'Plug in a vehicle to start.' : `Start needs Preparing or Available with a vehicle (now ${st || 'unknown'}).`);
  return {
    start: !!role && online && !running && vehicle,
    stop: !!role && online && running && STOPPABLE.includes(st),
    limit: !!role && online && running,
    target: !!role && online,
    why: why.join(' '),
  };
}

export function render(main, { live, id, query }) {
  const ch0 = live.chargers.get(id);
  if (!ch0) {
    main.replaceChildren(h('section', h('h1', id), h('p', 'No such charger, or you may not see it.'), h('a', { href: '#/' }, 'All chargers')));
    return live.subscribe((m) => { if (m.kind === 'list' && live.chargers.has(id)) location.hash = location.hash; });
  }
  const connector = pickConnector(ch0.snap, Number(query.get('c')) || 0) ?? 1;
  const role = canOperate();
  const idTagKey = 'fc.idTag';
  const s0 = current();

  const head = h('div.page-head');
  const state = h('div.state-line');
  const answer = h('div.answer', { role: 'status', 'aria-live': 'polite', id: 'answer' });
  const why = h('p.why.muted', { id: 'why' });

  const target = h('input#target-soc', { type: 'number', min: 1, max: 100, step: 1, inputmode: 'numeric', value: 80 });
  const maxA = h('input#max-current', { type: 'number', min: 6, max: 500, step: 1, inputmode: 'numeric', placeholder: 'no limit' });
  const idTag = h('input#id-tag', { maxlength: 20, autocomplete: 'off', spellcheck: 'false',
    value: localStorage.getItem(idTagKey) || (s0?.sub || 'flashcharge').slice(0, 20) });
  const bTarget = h('button#set-target', { type: 'button' }, 'Set target');
  const bLimit = h('button#set-limit', { type: 'button' }, 'Apply limit');
  const bStart = h('button#start.primary', { type: 'button', 'aria-describedby': 'why' }, 'Start charging');
  const bStop = h('button#stop.danger', { type: 'button' }, 'Stop charging');
  let inflight = null;

  main.replaceChildren(h('section.configure', { 'aria-labelledby': 'cfg-title' },
    head,
    h('div.cfg-grid',
      h('div.card', h('h2', 'Charger'), state),
      h('form.card.cfg-form', { onsubmit: (e) => e.preventDefault(), 'aria-labelledby': 'cfg-settings' },
        h('h2#cfg-settings', 'Charge settings'),
        h('div.field', h('label', { for: 'target-soc' }, 'Target state of charge (%)'),
          h('div.inline', target, bTarget),
          h('p.hint', 'Charging stops when the vehicle reaches it.')),
        h('div.field', h('label', { for: 'max-current' }, 'Maximum current (A)'),
          h('div.inline', maxA, bLimit),
          h('p.hint', 'Applied to the running session, or sent with the next start.')),
        h('div.field', h('label', { for: 'id-tag' }, 'Authorize as (idTag)'), idTag),
        h('div.actions', bStart, bStop),
        why,
        answer))));

  async function send(verb, label, body, button) {
    if (inflight) return;
    inflight = verb;
    const text = button.textContent;
    button.textContent = `${label}…`;
    button.setAttribute('aria-busy', 'true');
    answer.className = 'answer pending';
    answer.textContent = `${label}: waiting for the charger's answer…`;
    draw();
    try {
      const r = await api(`/api/chargers/${encodeURIComponent(id)}/${verb}`, { method: 'POST', body });
      const ok = r?.status === 'Accepted';
      answer.className = `answer ${ok ? 'ok' : 'warn'}`;
      answer.textContent = `${label}: the charger answered ${r?.status ?? 'nothing'}.`;
    } catch (e) {
      answer.className = 'answer err';
      const what = e.status === 409 ? 'not sent' : e.status === 504 ? 'no answer in time' : e.status === 502 ? 'the charger refused the request' : 'failed';
      answer.textContent = `${label}: ${what} — ${e.message}${e.status ? ` (HTTP ${e.status})` : ''}.`;
    } finally {
      inflight = null;
      button.textContent = text;
      button.removeAttribute('aria-busy');
      draw();
    }
  }

  bStart.addEventListener('click', () => {
    const tag = idTag.value.trim();
    if (!tag) { answer.className = 'answer err'; answer.textContent = 'Enter an idTag to start.'; idTag.focus(); return; }
    localStorage.setItem(idTagKey, tag);
    const body = { connectorId: connector, idTag: tag };
    if (num(Number(maxA.value)) && Number(maxA.value) > 0) body.maxCurrentA = Number(maxA.value);
    if (num(Number(target.value)) && Number(target.value) > 0) body.targetSoc = Number(target.value);
    send('start', 'Start', body, bStart);
  });
  bStop.addEventListener('click', () => {
    const conn = live.chargers.get(id)?.snap.connectors.find((c) => c.connectorId === connector);
    send('stop', 'Stop', { connectorId: connector, transactionId: conn?.transaction?.transactionId }, bStop);
  });
  bLimit.addEventListener('click', () => {
    const a = Number(maxA.value);
    if (!(a > 0)) { answer.className = 'answer err'; answer.textContent = 'Enter a current in amperes.'; maxA.focus(); return; }
    send('limit', 'Current limit', { connectorId: connector, maxCurrentA: a }, bLimit);
  });
  bTarget.addEventListener('click', () => {
    const t = Number(target.value);
    if (!(t > 0 && t <= 100)) { answer.className = 'answer err'; answer.textContent = 'The target is 1 to 100 %.'; target.focus(); return; }
    send('target-soc', 'Target SoC', { connectorId: connector, targetSoc: t }, bTarget);
  });

  function draw() {
    const c = live.chargers.get(id);
    if (!c) return;
    const s = c.snap;
    const conn = s.connectors.find((x) => x.connectorId === connector) || { connectorId: connector };
    const nconn = s.connectors.length;
    if (head.dataset.n !== String(nconn)) {
      head.dataset.n = String(nconn);
      fill(head, 
        h('h1#cfg-title', `Configure charge · ${s.id}`, h('span.sub', ` · connector ${connector}`)),
        h('div.head-side', h('span.online'), h('a.button', { href: `#/chargers/${encodeURIComponent(id)}?c=${connector}` }, 'Live view')),
        connectorTabs(id, s, connector, '/configure'));
    }
    const on = head.querySelector('.online');
    on.className = `online ${s.online ? 'is-online' : 'is-offline'}`;
    on.textContent = s.online ? 'Online' : 'Offline';
    const soc = socOf(conn);
    const tx = conn.transaction;
    fill(state, 
      h('p', 'Status: ', h('span#cfg-status', badge(conn.status, s.online))),
      h('p', 'State of charge: ', h('strong#cfg-soc', soc == null ? '—' : `${fmt(soc, 1)}%`)),
      h('p', 'Power: ', h('strong', fmtPower(num(conn.meter?.power)))),
      h('p', 'Session: ', h('strong#cfg-tx', tx ? `#${tx.transactionId}` : 'none')),
      tx?.targetSoc != null ? h('p', 'Target: ', h('strong', `${fmt(tx.targetSoc, 0)}%`)) : null);
    const a = allowed(s, conn, role);
    bStart.disabled = !!inflight || !a.start;
    bStop.disabled = !!inflight || !a.stop;
    bLimit.disabled = !!inflight || !a.limit;
    bTarget.disabled = !!inflight || !a.target;
    why.textContent = inflight ? '' : a.why;
  }

  draw();
  const off = live.subscribe((m) => { if (m.kind === 'charger' && m.id === id) draw(); });
  return off;
}
