/** What the failover listeners (handyrep_failovers_total) hear of a topology call's answer. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { failoverEventOf } from '../../src/api/failover-event.js';
import { failure, success } from '../../src/model/rd.js';
import { answeredWithoutAttempt } from '../../src/runtime/topology/no-attempt.js';

test('failoverEventOf: one event per attempt, by outcome; none for an answer made without an attempt', () => {
  assert.deepEqual(failoverEventOf(success('promoted paul', { newmaster: 'paul', history_id: 'h1' }), 'failover', 1000, 1750, 'john'), { kind: 'failover', outcome: 'success', durationMs: 750, from: 'john', to: 'paul' });
  assert.deepEqual(failoverEventOf(failure('no viable replica', { reason_code: 'no_candidate' }), 'failover', 1000, 1200, 'john'), { kind: 'failover', outcome: 'fail', durationMs: 200, from: 'john', to: null });
  assert.deepEqual(failoverEventOf(failure('refused', { reason_code: 'no_candidate' }), 'switchover', 0, 5, null)?.kind, 'switchover');
  const quiet = answeredWithoutAttempt(failure('failover refused again: … no failover attempted, nothing journaled', { reason_code: 'no_candidate' }));
  assert.equal(failoverEventOf(quiet, 'failover', 0, 1, 'john'), null, 'a refusal repeated without an attempt is no failover');
  // The recovery's answer is a copy of the failover it resumed: the recovery itself was an attempt.
  assert.equal(failoverEventOf({ ...quiet }, 'failover', 0, 1, 'john')?.outcome, 'fail');
});
