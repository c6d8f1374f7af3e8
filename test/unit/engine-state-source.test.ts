import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseStateSource } from '../../src/engine/state-source.js';
import type { SavedState } from '../../src/store/saved-state.js';
import { makeClusterStatus } from '../../src/model/status.js';

function state(version: number, updated_ms: number): SavedState {
  return { format: 'handyrep-state', version, updated_ms, servers: {}, status: makeClusterStatus('unknown', '', 'x') };
}

test('newest of file and table wins; override forces the config', () => {
  assert.equal(chooseStateSource(true, state(5, 5), state(6, 6)).from, 'config');
  assert.equal(chooseStateSource(false, state(5, 5), state(6, 6)).from, 'table');
  assert.equal(chooseStateSource(false, state(7, 5), state(6, 9)).from, 'file');
  assert.equal(chooseStateSource(false, state(6, 5), state(6, 9)).from, 'table');
  assert.equal(chooseStateSource(false, state(6, 9), state(6, 9)).from, 'file');
  assert.equal(chooseStateSource(false, null, state(1, 1)).from, 'table');
  assert.equal(chooseStateSource(false, state(1, 1), null).from, 'file');
  assert.equal(chooseStateSource(false, null, null).from, 'config');
});
