// The fold: a charger's snapshot kept current by its events, by the same
// rules as the server's read model (src/bus/model.c, fc_model_apply()). No DOM, no
// imports: node runs it against the shared vectors (tests/vectors/fold/) that
// the server's fold is tested with too, so that the two cannot drift.

function connectorOf(snap, id) {
  let c = snap.connectors.find((x) => x.connectorId === id);
  if (!c) {
    c = { connectorId: id, status: null, errorCode: null, statusAt: null, meter: null, transaction: null };
    snap.connectors.push(c);
    snap.connectors.sort((a, b) => a.connectorId - b.connectorId);
  }
  return c;
}

// Folds one event into snap (changed in place). Late events (data.late)
// change no state.
export function applyEvent(snap, ev) {
  const d = ev.data || {};
  if (d.late) return;
  let c;
  switch (ev.type) {
    case 'charger.online':
    case 'charger.offline':
      snap.online = ev.type === 'charger.online';
      snap.lastSeen = ev.ts;
      break;
    case 'status':
      c = connectorOf(snap, ev.connector);
      c.status = d.status ?? null;
      c.errorCode = d.errorCode ?? null;
      c.statusAt = ev.ts;
      break;
    case 'meter':
      c = connectorOf(snap, ev.connector);
      // clockSkew is a flag of that reading, not of the next
      const { clockSkew: _skew, ...prev } = c.meter || {};
      c.meter = { ...prev, ...d, ts: ev.ts };
      break;
    case 'transaction.started':
      c = connectorOf(snap, ev.connector);
      c.transaction = structuredClone(d);
      break;
    case 'transaction.stopped': {
      c = connectorOf(snap, ev.connector);
      const last = structuredClone(d);
      const running = c.transaction != null && typeof c.transaction === 'object';
      if (!running || c.transaction.transactionId === d.transactionId) {
        // The connector's live figures (power, SoC, the vehicle) end with its
        // transaction; the last ones stay, as the last session's.
        last.meter = c.meter ?? null;
        if (c.precharge !== undefined) last.precharge = c.precharge;
        c.meter = null;
        delete c.precharge;
        c.transaction = null;
      }
      c.lastTransaction = last;
      break;
    }
    case 'energy':
    case 'cost':
      c = connectorOf(snap, ev.connector);
      if (c.transaction && c.transaction.transactionId === d.transactionId) {
        for (const [k, v] of Object.entries(d)) if (k !== 'transactionId') c.transaction[k] = v;
      }
      break;
    case 'precharge':
      c = connectorOf(snap, ev.connector);
      c.precharge = d;
      break;
    default:
      break;
  }
}
