// The live connection: one WebSocket to /ws for the whole page.
//
// - Connects on start; on a drop, reconnects with exponential backoff and
//   jitter (0.5 s doubling to 30 s, each wait drawn between half and all of it).
// - Resumes with `since`: every charger is subscribed with the last seq the
//   stream delivered, so the server replays exactly what was missed.
// - While the WebSocket is down, the chargers are polled over REST every
//   30 s (the first poll at once); polling stops when the socket is back.
// - state: 'connecting' | 'live' | 'reconnecting' | 'offline' (the socket is
//   down and REST does not answer either).
//
// Each charger keeps the snapshot the server would give now, kept current
// by folding the events in (fold.js: the same rules as the server's read
// model), and two sequence numbers: `seq`, of the state shown (a polled
// snapshot may be ahead of the stream), and `streamSeq`, the last one the
// socket delivered
// (what `since` resumes from). Replayed events at or below `seq` are still
// passed on (charts want them) but change no state.
import { api } from './api.js';
import { current, signOut } from './session.js';
import { applyEvent } from './fold.js';

export { applyEvent };

const BACKOFF_BASE = 500;
const BACKOFF_MAX = 30000;

function pollInterval() {
  // a test hook: sessionStorage fc.pollMs shortens the 30 s
  const v = Number(sessionStorage.getItem('fc.pollMs'));
  return v > 0 ? v : 30000;
}

export class Live {
  constructor() {
    this.chargers = new Map(); // id → { snap, seq, streamSeq }
    this.state = 'connecting';
    this.listeners = new Set();
    this.ws = null;
    this.attempt = 0;
    this.retryTimer = null;
    this.pollTimer = null;
    this.stopped = false;
    this.loaded = false;
    this.restOk = true;
  }

  // fn({kind: 'state'}) | fn({kind: 'charger', id, event?}) | fn({kind: 'list'})
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(m) {
    for (const fn of [...this.listeners]) {
      try { fn(m); } catch (e) { queueMicrotask(() => { throw e; }); }
    }
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.emit({ kind: 'state' });
  }

  async start() {
    this.stopped = false;
    try {
      await this.loadAll(true);
    } catch {
      /* the socket or the polls will catch up */
    }
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.stopPolling();
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close(1000);
      this.ws = null;
    }
  }

  // Takes a snapshot (REST or the socket's) if it is newer than the state.
  takeSnapshot(snap, { fromStream = false } = {}) {
    let ch = this.chargers.get(snap.id);
    const isNew = !ch;
    if (!ch) {
      ch = { snap, seq: snap.seq ?? 0, streamSeq: 0 };
      this.chargers.set(snap.id, ch);
    } else if ((snap.seq ?? 0) >= ch.seq) {
      ch.snap = snap;
      ch.seq = snap.seq ?? 0;
    }
    if (fromStream) ch.streamSeq = Math.max(ch.streamSeq, snap.seq ?? 0);
    if (!snap.connectors) snap.connectors = [];
    return isNew;
  }

  // GET /api/chargers. initial: the stream will resume from these seqs.
  async loadAll(initial = false) {
    const list = await api('/api/chargers');
    let added = false;
    for (const snap of list) {
      const isNew = this.takeSnapshot(snap);
      added ||= isNew;
      const ch = this.chargers.get(snap.id);
      if (initial && !this.ws) ch.streamSeq = Math.max(ch.streamSeq, ch.seq);
      this.emit({ kind: 'charger', id: snap.id });
    }
    this.loaded = true;
    this.restOk = true;
    if (added || initial) this.emit({ kind: 'list' });
    return list;
  }

  wsUrl() {
    const s = current();
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    // a test hook: sessionStorage fc.wsUrl points the socket elsewhere
    const base = sessionStorage.getItem('fc.wsUrl') || `${proto}//${location.host}/ws`;
    return `${base}?token=${encodeURIComponent(s ? s.token : '')}`;
  }

  connect() {
    if (this.stopped) return;
    const s = current();
    if (!s) return;
    this.setState(this.attempt === 0 && !this.everLive ? 'connecting' : this.restOk ? 'reconnecting' : 'offline');
    let ws;
    try {
      ws = new WebSocket(this.wsUrl());
    } catch {
      this.dropped();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      const ids = [...this.chargers.keys()];
      const since = {};
      for (const id of ids) {
        const ch = this.chargers.get(id);
        if (ch.streamSeq > 0) since[id] = ch.streamSeq;
      }
      if (ids.length) ws.send(JSON.stringify({ op: 'subscribe', chargers: ids, since }));
    };
    ws.onmessage = (m) => {
      let data;
      try { data = JSON.parse(m.data); } catch { return; }
      for (const ev of Array.isArray(data) ? data : [data]) this.onEvent(ev);
    };
    ws.onerror = () => { /* onclose follows */ };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (e.code === 1008) {
        // refused: the token is no longer good
        signOut('Your session is no longer valid. Please sign in again.');
        return;
      }
      this.dropped();
    };
  }

  onEvent(ev) {
    switch (ev.type) {
      case 'hello':
        this.attempt = 0;
        this.everLive = true;
        this.restOk = true;
        this.stopPolling();
        this.setState('live');
        // chargers that appeared while we were away
        if (this.dropCount || this.chargers.size === 0) {
          this.loadAll().then((list) => this.subscribeNew(list)).catch(() => {});
        }
        return;
      case 'snapshot':
        if (ev.data && ev.data.id) {
          ev.data.seq = ev.seq;
          const isNew = this.takeSnapshot(ev.data, { fromStream: true });
          this.emit({ kind: 'charger', id: ev.data.id, event: ev });
          if (isNew) this.emit({ kind: 'list' });
        }
        return;
      case 'lagged':
      case 'error':
      case 'pong':
        return;
      default:
        break;
    }
    if (!ev.charger) return;
    let ch = this.chargers.get(ev.charger);
    if (!ch) return;
    if (ev.seq > 0) {
      if (ev.seq <= ch.streamSeq) return; // seen already
      ch.streamSeq = ev.seq;
    }
    if (ev.seq > ch.seq || ev.seq === 0) {
      applyEvent(ch.snap, ev);
      if (ev.seq > 0) {
        ch.seq = ev.seq;
        ch.snap.seq = ev.seq;
      }
    }
    this.emit({ kind: 'charger', id: ev.charger, event: ev });
  }

  subscribeNew(list) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    const fresh = list.filter((s) => this.chargers.get(s.id)?.streamSeq === 0).map((s) => s.id);
    if (fresh.length) this.ws.send(JSON.stringify({ op: 'subscribe', chargers: fresh, since: {} }));
  }

  dropped() {
    if (this.stopped) return;
    this.dropCount = (this.dropCount || 0) + 1;
    this.startPolling();
    const cap = Math.min(BACKOFF_MAX, BACKOFF_BASE * 2 ** this.attempt);
    const wait = cap / 2 + Math.random() * (cap / 2);
    this.attempt++;
    this.setState(this.restOk ? 'reconnecting' : 'offline');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), wait);
  }

  startPolling() {
    if (this.pollTimer) return;
    const tick = async () => {
      try {
        await this.loadAll();
        this.restOk = true;
        if (this.state !== 'live') this.setState('reconnecting');
      } catch (e) {
        this.restOk = false;
        if (this.state !== 'live') this.setState('offline');
      }
      this.emit({ kind: 'poll' });
    };
    this.pollTimer = setInterval(tick, pollInterval());
    tick();
  }

  stopPolling() {
    clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  get polling() {
    return this.pollTimer != null;
  }
}
