// Small DOM helpers, formatters, the SoC gauge (SVG) and the session chart
// (canvas): no library needed for two lines and an arc.

// h('div.card#x', {attrs}, ...children)
export function h(tag, attrs, ...children) {
  const m = /^([a-z0-9]+)((?:[.#][\w-]+)*)$/i.exec(tag);
  const el = document.createElement(m ? m[1] : tag);
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// replaceChildren without the null/false entries (which it would print)
export function fill(el, ...kids) {
  el.replaceChildren(...kids.flat().filter((k) => k != null && k !== false));
}

export const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

// One formatter per number of digits: toLocaleString would build one per call,
// which is most of the cost of a redraw.
const formats = new Map();
function numberFormat(digits) {
  let f = formats.get(digits);
  if (!f) {
    f = new Intl.NumberFormat('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
    formats.set(digits, f);
  }
  return f;
}

export function fmt(v, digits = 0, unit = '') {
  const n = num(v);
  if (n == null) return '—';
  return numberFormat(digits).format(n) + (unit ? `\u202f${unit}` : '');
}

export function fmtPower(w) {
  const n = num(w);
  if (n == null) return '—';
  return Math.abs(n) >= 1000 ? fmt(n / 1000, 2, 'kW') : fmt(n, 0, 'W');
}

export function fmtEnergy(wh) {
  const n = num(wh);
  if (n == null) return '—';
  return Math.abs(n) >= 1000 ? fmt(n / 1000, 2, 'kWh') : fmt(n, 0, 'Wh');
}

export function fmtMoney(v, currency) {
  const n = num(v);
  if (n == null) return '—';
  try {
    return n.toLocaleString('en', { style: 'currency', currency: currency || 'EUR' });
  } catch {
    return `${fmt(n, 2)} ${currency || ''}`.trim();
  }
}

export function fmtDuration(ms) {
  if (!(ms >= 0)) return '—';
  const s = Math.floor(ms / 1000);
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  return `${hh}:${String(mm).padStart(2, '0')}:${String(ss).padStart(2, '0')}`;
}

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  return d.toLocaleString('en-GB', { dateStyle: 'short', timeStyle: 'medium' });
}

// The CSS class of a connector status (colour of its badge).
export function statusClass(status, online = true) {
  if (!online) return 'st-offline';
  switch (status) {
    case 'Available': return 'st-available';
    case 'Preparing': return 'st-preparing';
    case 'Charging': return 'st-charging';
    case 'SuspendedEV':
    case 'SuspendedEVSE': return 'st-suspended';
    case 'Finishing': return 'st-finishing';
    case 'Faulted':
    case 'Unavailable': return 'st-faulted';
    default: return 'st-unknown';
  }
}

export function badge(status, online = true) {
  return h(`span.badge.${statusClass(status, online)}`, online ? status || 'Unknown' : 'Offline');
}

// The SoC of a connector: the meter's when it has one, else PreChargeData's.
export function socOf(conn) {
  return num(conn?.meter?.soc) ?? num(conn?.precharge?.soc);
}

// ---- SoC gauge ---------------------------------------------------------------

const SVGNS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

// A 270° arc gauge. update(soc, target) redraws.
export function gauge() {
  const R = 80, C = 100, SWEEP = 270;
  const len = (Math.PI * 2 * R * SWEEP) / 360;
  const root = svg('svg', { viewBox: '0 0 200 200', class: 'gauge', role: 'img' });
  const arc = `M ${C + R * Math.cos((135 * Math.PI) / 180)} ${C + R * Math.sin((135 * Math.PI) / 180)}` +
    ` A ${R} ${R} 0 1 1 ${C + R * Math.cos((45 * Math.PI) / 180)} ${C + R * Math.sin((45 * Math.PI) / 180)}`;
  root.append(svg('path', { d: arc, class: 'gauge-track' }));
  const fill = svg('path', { d: arc, class: 'gauge-fill', 'stroke-dasharray': `0 ${len}` });
  root.append(fill);
  const target = svg('line', { class: 'gauge-target', x1: C, y1: C - R - 12, x2: C, y2: C - R + 12, visibility: 'hidden' });
  root.append(target);
  const text = svg('text', { x: C, y: C + 8, class: 'gauge-value', 'text-anchor': 'middle' });
  const label = svg('text', { x: C, y: C + 36, class: 'gauge-label', 'text-anchor': 'middle' });
  label.textContent = 'state of charge';
  root.append(text, label);
  function update(soc, targetSoc) {
    const n = num(soc);
    const f = n == null ? 0 : Math.max(0, Math.min(100, n)) / 100;
    fill.setAttribute('stroke-dasharray', `${f * len} ${len}`);
    text.textContent = n == null ? '—' : `${fmt(n, Number.isInteger(n) ? 0 : 1)}%`;
    root.setAttribute('aria-label', n == null ? 'State of charge unknown' : `State of charge ${fmt(n, 1)} percent`);
    const t = num(targetSoc);
    if (t == null) {
      target.setAttribute('visibility', 'hidden');
    } else {
      const angle = 135 + (SWEEP * Math.max(0, Math.min(100, t))) / 100 + 90;
      target.setAttribute('visibility', 'visible');
      target.setAttribute('transform', `rotate(${angle} ${C} ${C})`);
    }
  }
  update(null);
  return { el: root, update };
}

// ---- session chart -----------------------------------------------------------

// Power (kW, left axis) and SoC (%, right axis) over time, on a canvas that
// follows its box's size. points: [{t: ms, power: W|null, soc: %|null}].
export function chart() {
  const wrap = h('div.chart');
  const canvas = h('canvas', { role: 'img', 'aria-label': 'Power and state of charge over the session' });
  wrap.append(canvas);
  let points = [];
  let frame = 0;
  const css = (name, fallback) => getComputedStyle(wrap).getPropertyValue(name).trim() || fallback;

  function draw() {
    frame = 0;
    const w = wrap.clientWidth, hgt = wrap.clientHeight;
    if (!w || !hgt) return;
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(hgt * dpr);
    }
    canvas.style.width = `${w}px`;
    canvas.style.height = `${hgt}px`;
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    const pad = { l: 44, r: 40, t: 22, b: 24 };
    const pw = w - pad.l - pad.r, ph = hgt - pad.t - pad.b;
    const fg = css('--muted', '#777'), grid = css('--grid', '#ddd');
    const cPower = css('--power', '#2563eb'), cSoc = css('--soc', '#16a34a');
    g.font = '11px system-ui, sans-serif';
    g.lineWidth = 1;

    const pts = points.filter((p) => Number.isFinite(p.t));
    const t0 = pts.length ? pts[0].t : Date.now() - 60000;
    let t1 = pts.length ? pts[pts.length - 1].t : Date.now();
    if (t1 - t0 < 60000) t1 = t0 + 60000;
    const maxKw = Math.max(1, ...pts.map((p) => (num(p.power) ?? 0) / 1000)) * 1.1;
    const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * pw;
    const yKw = (kw) => pad.t + ph - (kw / maxKw) * ph;
    const ySoc = (s) => pad.t + ph - (s / 100) * ph;

    g.strokeStyle = grid;
    g.fillStyle = fg;
    for (let i = 0; i <= 4; i++) {
      const y = pad.t + (ph * i) / 4;
      g.beginPath(); g.moveTo(pad.l, y); g.lineTo(pad.l + pw, y); g.stroke();
      g.textAlign = 'right';
      g.fillText(fmt(maxKw * (1 - i / 4), 1), pad.l - 6, y + 4);
      g.textAlign = 'left';
      g.fillText(`${100 - i * 25}%`, pad.l + pw + 6, y + 4);
    }
    g.textAlign = 'center';
    const minutes = (t1 - t0) / 60000;
    for (let i = 0; i <= 4; i++) {
      const t = t0 + ((t1 - t0) * i) / 4;
      const label = minutes < 120
        ? new Date(t).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: minutes < 5 ? '2-digit' : undefined })
        : new Date(t).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
      g.fillText(label, x(t), hgt - 6);
    }
    g.textAlign = 'left';
    g.fillText('kW', 4, 11);
    g.textAlign = 'right';
    g.fillText('SoC', w - 4, 11);

    const line = (key, y, color) => {
      g.strokeStyle = color;
      g.lineWidth = 2;
      g.beginPath();
      let started = false;
      for (const p of pts) {
        const v = num(p[key]);
        if (v == null) continue;
        const yy = y(key === 'power' ? v / 1000 : v);
        if (!started) { g.moveTo(x(p.t), yy); started = true; } else g.lineTo(x(p.t), yy);
      }
      g.stroke();
      const last = [...pts].reverse().find((p) => num(p[key]) != null);
      if (last) {
        g.fillStyle = color;
        g.beginPath();
        g.arc(x(last.t), y(key === 'power' ? last[key] / 1000 : last[key]), 3, 0, Math.PI * 2);
        g.fill();
      }
    };
    line('power', yKw, cPower);
    line('soc', ySoc, cSoc);
  }

  const schedule = () => { if (!frame) frame = requestAnimationFrame(draw); };
  new ResizeObserver(schedule).observe(wrap);
  const api = {
    el: wrap,
    set(pts) { points = pts; schedule(); },
    add(p) {
      // one point per time stamp: merge measurands sampled together
      const same = points.find((q) => q.t === p.t);
      if (same) {
        for (const [k, v] of Object.entries(p)) if (v != null) same[k] = v;
      } else {
        points.push(p);
        points.sort((a, b) => a.t - b.t);
      }
      if (points.length > 5000) points.splice(0, points.length - 5000);
      schedule();
    },
    get points() { return points; },
  };
  wrap.fcChart = api; // for the end-to-end tests and the curious
  return api;
}
