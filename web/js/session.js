// The signed-in session: the token from POST /api/login, kept in session
// storage (it dies with the tab), and a timer that signs out when it expires.

const KEY = 'fc.session';
let expiryTimer = null;
const listeners = new Set();

export function current() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    if (!s || !s.token || !s.expiresAt) return null;
    if (Date.parse(s.expiresAt) <= Date.now()) {
      sessionStorage.removeItem(KEY);
      return null;
    }
    return s;
  } catch {
    return null;
  }
}

export function onChange(fn) {
  listeners.add(fn);
}

function changed() {
  clearTimeout(expiryTimer);
  const s = current();
  if (s) {
    // setTimeout holds at most ~24.8 days; tokens live hours
    const ms = Math.min(Date.parse(s.expiresAt) - Date.now(), 2 ** 31 - 1);
    expiryTimer = setTimeout(() => signOut('Your session has expired. Please sign in again.'), ms);
  }
  for (const fn of listeners) fn(s);
}

export function save({ token, expiresAt, role, sub }) {
  sessionStorage.setItem(KEY, JSON.stringify({ token, expiresAt, role, sub }));
  changed();
}

export let lastSignOutReason = '';

export function signOut(reason = '') {
  lastSignOutReason = reason;
  sessionStorage.removeItem(KEY);
  changed();
}

export function init() {
  changed();
}

export async function login(body) {
  const res = await fetch('/api/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  let json = null;
  try { json = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const e = new Error(json?.detail || `sign-in failed (HTTP ${res.status})`);
    e.status = res.status;
    e.retryAfter = Number(res.headers.get('retry-after')) || 0;
    throw e;
  }
  save(json);
  return json;
}

export const canOperate = (s = current()) => s && (s.role === 'operator' || s.role === 'admin');
