/**
 * The master's agent and its `master_lease` key, row by row: what a round does about the key
 * (lease-key-keeper.ts leaseKeyAction), and what the election takes as proof that the old
 * master's lease ended (election/lease-end.ts): a lease id's time to live, or etcd's history.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { leaseKeyAction } from '../../src/agent/lease-key-keeper.js';
import { leaseEndFromHistory, leaseEndFromSeen, leaseEndFromSeenAndHistory } from '../../src/agent/election/lease-end.js';

const keyRows: [label: string, keyLease: string | null, action: ReturnType<typeof leaseKeyAction>][] = [
  ['key missing while this agent holds its lease → put it back', null, 'put_back'],
  ['key under this agent\'s lease → nothing', '7', 'none'],
  ['key under another lease (an earlier agent process) → left, reported', '9', 'foreign'],
  ['key put by hand without a lease → left, reported', '0', 'foreign'],
];
for (const [label, keyLease, action] of keyRows) {
  test(`master lease key: ${label}`, () => assert.equal(leaseKeyAction(keyLease, '7'), action));
}

test('lease end from the id seen held: gone = ended, alive = not ended, unread = unknown', () => {
  assert.deepEqual(leaseEndFromSeen('7', false), { ended: true, how: 'seen_lease', why: 'lease 7 has ended' });
  assert.deepEqual(leaseEndFromSeen('7', true), { ended: false, how: 'seen_lease', why: 'lease 7 still lives' });
  assert.equal(leaseEndFromSeen('7', null).ended, null);
});

test('lease end from etcd\'s history: released = ended, held = alive, not proven = unknown (reason kept)', () => {
  assert.deepEqual(leaseEndFromHistory({ state: 'released', reason: 'r' }), { ended: true, how: 'history', why: 'r' });
  assert.deepEqual(leaseEndFromHistory({ state: 'held', reason: 'h' }), { ended: false, how: 'history', why: 'h' });
  assert.deepEqual(leaseEndFromHistory({ state: 'not_proven', reason: 'compacted' }), { ended: null, how: 'history', why: 'compacted' });
});

test('a seen lease that ended counts only with the history: a newer live lease (stale seen id) → alive; history unproven → unknown', () => {
  const seen = leaseEndFromSeen('7', false);
  assert.equal(leaseEndFromSeenAndHistory(seen, { state: 'released', reason: 'every lease ended' }).ended, true);
  const stale = leaseEndFromSeenAndHistory(seen, { state: 'held', reason: 'master_lease/john is gone but its lease 9 still lives' });
  assert.equal(stale.ended, false);
  assert.match(stale.why, /lease 7 has ended, but .*lease 9 still lives/);
  assert.equal(leaseEndFromSeenAndHistory(seen, { state: 'not_proven', reason: 'compacted' }).ended, null);
});
