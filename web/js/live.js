// The live connection: one WebSocket to /ws for the whole page.
//
// - Connects on start; on a drop, reconnects with exponential backoff and
//   jitter (0.5 s doubling to 30 s, each wait drawn between half and all of it).
// - Subscribes once the server's hello says what the token grants. A token
//   for every charger subscribes "*": the server sends a snapshot of every
//   charger, then every event of every charger, including chargers that
//   connect for the first time later (their first event brings them in). On a
//   reconnect the snapshots bring every charger up to date (the charger page
//   reloads its chart from REST). A token for some chargers subscribes each
//   granted id, resuming with `since` (the last seq the stream delivered), so
//   the server replays exactly what was missed; a granted charger that has
//   never connected comes in with its first event too.
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
const SUBSCRIBE_CHUNK = 500; // ids per subscribe message (the server takes 64 KiB)

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
        this.subscribeGranted(ev.data?.chargers);
        if (!this.loaded) this.loadAll().catch(() => {});
        return;
      case 'snapshot':
        // a granted charger that has never connected: it comes in with its
        // first event, as it would under "*"
        if (ev.data && ev.data.id && !(ev.seq > 0) && !this.chargers.has(ev.data.id)) return;
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
    const isNew = !ch;
    if (!ch) ch = this.adopt(ev);
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
    if (isNew) this.emit({ kind: 'list' });
  }

  // granted: the hello's "chargers", "*" or an array of ids.
  subscribeGranted(granted) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (granted === '*') {
      ws.send(JSON.stringify({ op: 'subscribe', chargers: ['*'] }));
      return;
    }
    const ids = Array.isArray(granted) ? granted.filter((id) => typeof id === 'string') : [...this.chargers.keys()];
    for (let i = 0; i < ids.length; i += SUBSCRIBE_CHUNK) {
      const chargers = ids.slice(i, i + SUBSCRIBE_CHUNK);
      const since = {};
      for (const id of chargers) {
        const ch = this.chargers.get(id);
        if (ch && ch.streamSeq > 0) since[id] = ch.streamSeq;
      }
      ws.send(JSON.stringify({ op: 'subscribe', chargers, since }));
    }
  }

  // The first event of a charger we did not know: a charger that connected
  // for the first time. Its state starts empty and is folded from here; if
  // events came before this one (seq above 1), its snapshot is fetched.
  adopt(ev) {
    const snap = { id: ev.charger, online: false, seq: 0, lastSeen: null, connectors: [] };
    const ch = { snap, seq: 0, streamSeq: 0 };
    this.chargers.set(ev.charger, ch);
    if (ev.seq > 1) {
      api(`/api/chargers/${encodeURIComponent(ev.charger)}`)
        .then((s) => { if (this.takeSnapshot(s) === false) this.emit({ kind: 'charger', id: s.id }); })
        .catch(() => { /* the next events still come */ });
    }
    return ch;
  }

  dropped() {
    if (this.stopped) return;
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
