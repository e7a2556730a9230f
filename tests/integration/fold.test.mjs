// The browser's fold (web/js/fold.js) against the shared vectors
// (tests/vectors/fold/), which the server's fold passes too
// (tests/unit/bus/test_fold.c): the two cannot drift.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyEvent } from '../../web/js/fold.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'vectors', 'fold');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

test('there are fold vectors', () => {
  assert.ok(files.length >= 8, files.join(' '));
});

for (const f of files) {
  const v = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
  test(`fold vector ${f}: ${v.description}`, () => {
    const snap = { id: v.charger, online: false, seq: 0, lastSeen: null, connectors: [] };
    for (const ev of v.events) {
      assert.equal(ev.charger, v.charger);
      if (ev.seq > snap.seq) snap.seq = ev.seq;
      applyEvent(snap, structuredClone(ev));
    }
    assert.deepEqual(snap, v.expected);
  });
}
