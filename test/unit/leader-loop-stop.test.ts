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
import type { Term } from '../../src/store/etcd/leader-record.js';

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

/**
 * A campaign that wins while stop() runs (its take of the leader key already in flight, as on a
 * controller whose API could not listen and that closes again at start): stop() must end, the
 * term must be given up at once and never used. Before, stop() waited forever for a loss nobody
 * would signal while the term's lease was renewed: a leader without a monitor, no successor.
 */
test('stop while the campaign is winning: the new term is resigned unused and stop() ends', async () => {
  const events: string[] = [];
  let held: Term | null = null;
  let win: () => void = () => undefined;
  const leadership = {
    onLost: () => () => undefined,
    get current() {
      return held;
    },
    // The take is in flight: it ignores the abort and wins anyway.
    campaign: () =>
      new Promise<Term>((resolve) => {
        win = () => {
          held = { term: '7', leaseId: '1', value: '{}', record: {} as Term['record'] };
          resolve(held);
        };
      }),
    resign: async (beforeDelete: () => Promise<void> = async () => undefined) => {
      const term = held;
      if (term === null) {
        events.push('resign: no term');
        return;
      }
      held = null;
      await beforeDelete();
      events.push(`term ${term.term} key deleted`);
    },
  } as unknown as EtcdLeadership;
  const hooks = {
    won: async (term: Term) => {
      events.push(`won term ${term.term}`);
    },
    lostNow: () => undefined,
    afterLoss: async () => undefined,
    follow: async () => undefined,
  };
  const loop = new LeaderLoop(leadership, hooks, { error: () => undefined } as unknown as EventLog, 60_000);
  loop.start();
  const stopping = loop.stop();
  await new Promise((resolve) => setImmediate(resolve));
  win();
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([stopping.then(() => 'stopped'), new Promise<string>((resolve) => (timer = setTimeout(() => resolve('stop() still waiting after 2 s'), 2000)))]);
  clearTimeout(timer);
  assert.equal(outcome, 'stopped');
  assert.deepEqual(events, ['resign: no term', 'term 7 key deleted']);
  assert.equal(held, null, 'no term left held');
});
