/**
 * The agent's timing rule: its PostgreSQL must stop before its master lease can lapse.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentTimingProblem } from '../../src/agent/agent-timing.js';

test('a safety margin below the ttl is accepted', () => {
  assert.equal(agentTimingProblem({ ttl: 10, safetyMargin: 3 }), null);
});
test('a safety margin equal to the ttl is refused, naming both', () => {
  assert.match(agentTimingProblem({ ttl: 4, safetyMargin: 4 }) ?? '', /agent.safety_margin \(4 s\) must be less than etcd.ttl \(4 s\)/);
});
test('the default margin with a shorter ttl is refused', () => {
  assert.match(agentTimingProblem({ ttl: 2, safetyMargin: 3 }) ?? '', /less than etcd.ttl \(2 s\)/);
});
