// The published contracts (schemas/api/), checked against what the server
// really sends: every /ws frame a UiClient receives (lib/ui.mjs) and every
// response of srv.http() (lib/server.mjs) is validated, so a field renamed in
// C fails a test. A REST mismatch throws at once; a /ws mismatch fails the
// client's pending waits and, at the latest, the test it happened in (the
// afterEach hook below). Tests that deliberately receive odd things opt out
// per call ({ contract: false }), never globally.
import { after, afterEach } from 'node:test';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const here = path.dirname(fileURLToPath(import.meta.url));
export const DOCS_DIR = path.resolve(here, '../../../schemas/api');
export const docText = (name) => readFileSync(path.join(DOCS_DIR, name), 'utf8');
export const wsSchema = JSON.parse(docText('ws.schema.json'));
export const openapi = JSON.parse(docText('openapi.json'));

// A fresh validator over both documents (strict: a keyword the schemas
// misspell is an error, not ignored). validateSchema: also check both against
// the 2020-12 meta-schema (contracts.test.mjs does; it costs every test file
// that loads this module a second otherwise).
export function makeAjv({ validateSchema = false } = {}) {
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, validateSchema });
  addFormats(ajv);
  // The OpenAPI document's own members are not JSON Schema keywords: known,
  // never validated (only its schemas are compiled, by reference).
  for (const k of Object.keys(openapi)) if (!ajv.getKeyword(k)) ajv.addKeyword(k);
  ajv.addSchema(wsSchema, 'ws.schema.json');
  ajv.addSchema(openapi, 'openapi.json');
  return ajv;
}

const ajv = makeAjv();

// $defs/<name>Event by the event type it describes (its type's const).
export const eventDefs = new Map(Object.entries(wsSchema.$defs)
  .filter(([, d]) => d?.properties?.type?.const !== undefined)
  .map(([name, d]) => [d.properties.type.const, name]));
const eventValidators = new Map();
function eventValidator(type) {
  const name = eventDefs.get(type);
  if (!name) return null;
  if (!eventValidators.has(name)) eventValidators.set(name, ajv.getSchema(`ws.schema.json#/$defs/${name}`));
  return eventValidators.get(name);
}

export function formatErrors(errors) {
  return (errors ?? []).map((e) => {
    const extra = e.params?.additionalProperty ?? e.params?.allowedValue ?? e.params?.allowedValues;
    return `${e.instancePath || '/'} ${e.message}${extra !== undefined ? ` (${JSON.stringify(extra)})` : ''}`;
  }).join('; ');
}

const excerpt = (text) => (text.length > 400 ? `${text.slice(0, 400)}…` : text);

// ---- violations ----------------------------------------------------------

const violations = [];
export function record(msg) {
  violations.push(msg);
  return msg;
}
// Every violation recorded so far (and forgets them).
export function takeViolations() {
  return violations.splice(0);
}
function failOnViolations() {
  const v = takeViolations();
  if (v.length) throw new Error(`contract violated (schemas/api/):\n  ${v.join('\n  ')}`);
}
afterEach(failOnViolations);
after(failOnViolations);

// ---- /ws -----------------------------------------------------------------

// The problems of one /ws frame (text, or an already parsed value) against
// ws.schema.json, as a message; null when it conforms. The frame's schema is
// one event or a non-empty array of them, an event being the oneOf of the
// types' definitions, told apart by their type consts: so each event is
// checked against its own type's definition, which says what differs where
// the oneOf would only say that none matched (and compiles only the types
// a test receives).
export function wsFrameProblems(frame) {
  let v = frame;
  const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
  if (typeof frame === 'string') {
    try { v = JSON.parse(frame); } catch { return `not JSON: ${excerpt(text)}`; }
  }
  const events = Array.isArray(v) ? v : [v];
  const parts = [];
  if (Array.isArray(v) && v.length === 0) parts.push('an empty array');
  events.forEach((e, i) => {
    const where = Array.isArray(v) ? `event #${i}` : 'event';
    const check = eventValidator(e?.type);
    if (!check) {
      parts.push(`${where}: unknown type ${JSON.stringify(e?.type)}`);
    } else if (!check(e)) {
      parts.push(`${where} (${e.type}): ${formatErrors(check.errors)}`);
    }
  });
  return parts.length ? `${parts.join(' | ')} — frame: ${excerpt(text)}` : null;
}

// Records (and returns) a violation when the frame does not conform.
export function checkWsFrame(frame, where = 'a /ws client') {
  const p = wsFrameProblems(frame);
  return p ? record(`/ws frame received by ${where}: ${p}`) : null;
}

// ---- REST ----------------------------------------------------------------

const templates = Object.keys(openapi.paths).map((t) => ({
  t,
  params: (t.match(/\{[^}]+\}/g) ?? []).length,
  re: new RegExp(`^${t.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
})).sort((a, b) => a.params - b.params);

// The OpenAPI path template of a request path (no query), or undefined.
export function pathTemplate(p) {
  return templates.find((x) => x.re.test(p))?.t;
}

// Resolves a local "#/…" reference of the OpenAPI document.
function deref(o) {
  while (o && typeof o.$ref === 'string' && o.$ref.startsWith('#/')) {
    o = o.$ref.slice(2).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce((acc, k) => acc?.[k], openapi);
  }
  return o;
}

// A schema of the OpenAPI document, compiled with its local references made
// to point into the document (they are relative to it); the same schema text
// is compiled once (the error responses share one).
const compiled = new Map();
function compile(schema) {
  const key = JSON.stringify(schema);
  if (!compiled.has(key)) {
    const rebased = JSON.parse(key, (k, v) =>
      (k === '$ref' && typeof v === 'string' && v.startsWith('#') ? `openapi.json${v}` : v));
    compiled.set(key, ajv.compile(rebased));
  }
  return compiled.get(key);
}

// Whether a response to this path is one the document describes (the API,
// /healthz, /metrics), as opposed to the web UI's static files.
export const isContractPath = (p) => p === '/api' || p.startsWith('/api/') || p in openapi.paths;

// The problems of one HTTP response against openapi.json, as a message;
// null when it conforms (or is not the API's).
export function apiResponseProblems({ method = 'GET', path: p, status, contentType = '', text }) {
  const pathOnly = p.split('?')[0];
  if (!isContractPath(pathOnly)) return null;
  const t = pathTemplate(pathOnly);
  const op = t ? openapi.paths[t][method.toLowerCase()] : undefined;
  let resp;
  if (op) {
    resp = deref(op.responses[String(status)] ?? op.responses.default);
    if (!resp) return `status ${status} is not documented for ${method} ${t}`;
  } else if (status >= 400) {
    resp = deref(openapi.components.responses.Error); // an undocumented route's error
  } else {
    return `${method} ${pathOnly} is not documented, yet answered ${status}`;
  }
  const content = resp.content;
  if (!content) return null;
  const [mediaType, media] = Object.entries(content)[0];
  if (!contentType.toLowerCase().startsWith(mediaType)) {
    return `Content-Type ${JSON.stringify(contentType)} where ${mediaType} is documented`;
  }
  if (mediaType !== 'application/json' || !media.schema) return null;
  let body;
  try { body = JSON.parse(text); } catch { return `the body is not JSON: ${excerpt(text)}`; }
  const check = compile(media.schema);
  if (check(body)) return null;
  return `${formatErrors(check.errors)} — body: ${excerpt(text)}`;
}

// Records the violation and throws it when the response does not conform.
export function checkApiResponse(res) {
  const p = apiResponseProblems(res);
  if (!p) return;
  const msg = record(`${res.method ?? 'GET'} ${res.path} → ${res.status}: ${p}`);
  throw new Error(`contract violated (schemas/api/openapi.json): ${msg}`);
}
