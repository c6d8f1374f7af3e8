/**
 * Shutdown under etcd_lease (src/runtime/leadership/leader-loop.ts stop): the term ends first,
 * then what is in flight drains, and the leader key is deleted last, so no successor leads while
 * a command this controller already checked is still running.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LeaderLoop } from '../../src/runtime/leadership/leader-loop.js';
import type { EventLog } from '../../src/log/event-log.js';
import type { EtcdLeadership } from '../../src/store/etcd/leadership.js';

test('stop: the term is dropped, the drain runs, then the key is deleted', async () => {
  const events: string[] = [];
  const leadership = {
    onLost: () => () => undefined,
    resign: async (beforeDelete: () => Promise<void> = async () => undefined) => {
      events.push('term dropped');
      await beforeDelete();
      events.push('key deleted');
    },
  } as unknown as EtcdLeadership;
  const hooks = { won: async () => undefined, lostNow: () => undefined, afterLoss: async () => undefined, follow: async () => undefined };
  const loop = new LeaderLoop(leadership, hooks, {} as EventLog, 60_000);
  await loop.stop(async () => {
    events.push('monitor stopped, action in flight finished');
  });
  assert.deepEqual(events, ['term dropped', 'monitor stopped, action in flight finished', 'key deleted']);
});
