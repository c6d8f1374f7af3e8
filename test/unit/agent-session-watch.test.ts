/**
 * When the agent runs a round because PostgreSQL ended its SQL session (session-watch.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { wakePlan } from '../../src/agent/session-watch.js';

const base = { stopped: false, postmaster: 'died' as const, rechecksLeft: 4, commandRunning: false, roundRunning: false, sinceLastWakeMs: Number.POSITIVE_INFINITY, minGapMs: 250 };

test('the first close with the postmaster gone starts a round at once', () => {
  assert.deepEqual(wakePlan(base), { kind: 'in', ms: 0 });
});
test('a close during a round asks for another one when it ends (it may have observed before the close)', () => {
  assert.deepEqual(wakePlan({ ...base, roundRunning: true }), { kind: 'after_round' });
});
test('a stopping agent runs no round', () => {
  assert.deepEqual(wakePlan({ ...base, stopped: true }), { kind: 'none' });
  assert.deepEqual(wakePlan({ ...base, stopped: true, roundRunning: true }), { kind: 'none' });
});
test('closes closer together than the gap wait out the rest of it (a server ending every session cannot make the agent spin)', () => {
  assert.deepEqual(wakePlan({ ...base, sinceLastWakeMs: 100 }), { kind: 'in', ms: 150 });
  assert.deepEqual(wakePlan({ ...base, sinceLastWakeMs: 249.2 }), { kind: 'in', ms: 1 });
});
test('a close after the gap runs at once', () => {
  assert.deepEqual(wakePlan({ ...base, sinceLastWakeMs: 250 }), { kind: 'in', ms: 0 });
  assert.deepEqual(wakePlan({ ...base, sinceLastWakeMs: 5000 }), { kind: 'in', ms: 0 });
});
test('a close while a woken round is still due adds nothing (no pile of delays)', () => {
  assert.deepEqual(wakePlan({ ...base, sinceLastWakeMs: -150 }), { kind: 'none' });
});
test('a close while postmaster.pid is gone (a stop, a restart between stop and start), or with the postmaster still alive after the last look (idle_session_timeout, pg_terminate_backend), wakes nothing: the next round reconnects', () => {
  assert.deepEqual(wakePlan({ ...base, postmaster: 'no_file' }), { kind: 'none' });
  assert.deepEqual(wakePlan({ ...base, postmaster: 'alive', rechecksLeft: 0 }), { kind: 'none' });
  assert.deepEqual(wakePlan({ ...base, postmaster: 'alive', rechecksLeft: 0, roundRunning: true }), { kind: 'none' });
});
test('a postmaster still seen alive is looked at again shortly (its children learn of its death before /proc shows it), a bounded number of times', () => {
  assert.deepEqual(wakePlan({ ...base, postmaster: 'alive', rechecksLeft: 4 }), { kind: 'recheck', ms: 50 });
  assert.deepEqual(wakePlan({ ...base, postmaster: 'alive', rechecksLeft: 1 }), { kind: 'recheck', ms: 50 });
});
test('a close during a controller command that stops or restarts PostgreSQL wakes nothing (the command runs its own round)', () => {
  assert.deepEqual(wakePlan({ ...base, commandRunning: true }), { kind: 'none' });
});
