// REST with the session's bearer token. A 401 signs out (the token expired
// or the server restarted with a new secret).
import { current, signOut } from './session.js';

export class ApiError extends Error {
  constructor(status, json, text) {
    super(json?.detail || json?.error || text || `HTTP ${status}`);
    this.status = status;
    this.json = json;
  }
}

export async function api(path, { method = 'GET', body, timeout = 35000 } = {}) {
  const s = current();
  if (!s) throw new ApiError(401, { error: 'unauthorized', detail: 'not signed in' });
  const headers = { authorization: `Bearer ${s.token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeout),
    cache: 'no-store',
  });
  const text = await res.text();
  let json;
  try { json = text ? JSON.parse(text) : null; } catch { json = undefined; }
  if (res.status === 401) {
    signOut('Your session is no longer valid. Please sign in again.');
  }
  if (!res.ok) throw new ApiError(res.status, json, text);
  return json;
}
