/**
 * When a round may take the `master` key from the agent's watch instead of reading it (master-watch.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { masterViewSource } from '../../src/agent/master-watch.js';

const live = { live: true, cached: true, sinceReadMs: 1000, backstopMs: 3000 };

test('a live watch with a view and a recent read: the watched view', () => {
  assert.equal(masterViewSource(live), 'watch');
});
test('a watch that is down (not connected yet, disconnected, errored): read', () => {
  assert.equal(masterViewSource({ ...live, live: false }), 'read');
});
test('nothing cached yet: read', () => {
  assert.equal(masterViewSource({ ...live, cached: false }), 'read');
});
test('no read since the watch (re)connected: read, whatever was cached before', () => {
  assert.equal(masterViewSource({ ...live, sinceReadMs: Number.POSITIVE_INFINITY }), 'read');
});
test('the last read is backstopMs old (a connected watch may hear nothing from a cut-off member): read', () => {
  assert.equal(masterViewSource({ ...live, sinceReadMs: 3000 }), 'read');
  assert.equal(masterViewSource({ ...live, sinceReadMs: 2999 }), 'watch');
});
