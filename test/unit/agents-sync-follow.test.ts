/**
 * A controller in deployment agents reports the set the master's agent recorded
 * (runtime/sync/agents-sync-follow.ts): each read is taken into the book without a state write,
 * said once when the set changes; a failed read changes nothing and is said once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AgentsSyncFollower, syncDiffers, type StoredSync, type SyncBook } from '../../src/runtime/sync/agents-sync-follow.js';
import type { SyncRecord } from '../../src/model/sync-record.js';

const rec = (members: string[], quorum: number, at = '2026-12-05T01:00:00.000Z'): SyncRecord => ({ members, quorum, master: 'john', at, reason: 'test' });

/** The book's part: what restoreSync took in, and how often. */
function book(record: SyncRecord | null = null, history: SyncRecord[] = []): SyncBook & { restored: number } {
  let held = { record, history };
  return {
    restored: 0,
    syncRecord: () => held.record,
    recentSyncChanges: (count: number) => held.history.slice(-count).reverse(),
    restoreSync(r: SyncRecord | null, h: readonly SyncRecord[]) {
      this.restored += 1;
      held = { record: r, history: [...h] };
    },
  };
}

function logs(): { lines: string[]; info(c: string, m: string): void; warn(c: string, m: string): void } {
  const lines: string[] = [];
  return { lines, info: (c, m) => lines.push(`info ${c} ${m}`), warn: (c, m) => lines.push(`warn ${c} ${m}`) };
}

describe('syncDiffers', () => {
  const a = rec(['paul'], 1);
  const rows: [string, StoredSync, StoredSync, boolean][] = [
    ['same record and history', { record: a, history: [a] }, { record: a, history: [a] }, false],
    ['another quorum', { record: rec(['paul'], 0), history: [a] }, { record: a, history: [a] }, true],
    ['a change appended to the history', { record: a, history: [a, a] }, { record: a, history: [a] }, true],
    ['none recorded on both sides', { record: null, history: [] }, { record: null, history: [] }, false],
  ];
  for (const [what, stored, held, expected] of rows) it(what, () => assert.equal(syncDiffers(Object.freeze(stored), Object.freeze(held)), expected));
});

describe("AgentsSyncFollower: the agents' set into the book", () => {
  it('a new set is taken in and said once; the same set again changes nothing', async () => {
    const b = book(rec(['paul'], 0), [rec(['paul'], 0)]);
    const log = logs();
    const stored: StoredSync = { record: rec(['paul'], 1), history: [rec(['paul'], 0), rec(['paul'], 1)] };
    const follower = new AgentsSyncFollower(async () => stored, b, log);
    await follower.follow();
    await follower.follow();
    assert.equal(b.restored, 1);
    assert.deepEqual(b.syncRecord(), rec(['paul'], 1));
    assert.equal(log.lines.length, 1);
    assert.match(log.lines[0] ?? '', /^info SYNC synchronous set as the master's agent recorded it \(deployment agents\): \[paul\] quorum 1 for john/);
  });

  it('a failed read changes nothing and is said once until a read succeeds', async () => {
    const b = book(rec(['paul'], 1), [rec(['paul'], 1)]);
    const log = logs();
    let fail = true;
    const follower = new AgentsSyncFollower(async () => (fail ? Promise.reject(new Error('etcd down')) : { record: rec(['paul'], 1), history: [rec(['paul'], 1)] }), b, log);
    await follower.follow();
    await follower.follow();
    assert.equal(b.restored, 0);
    assert.deepEqual(b.syncRecord(), rec(['paul'], 1));
    assert.equal(log.lines.length, 1);
    assert.match(log.lines[0] ?? '', /^warn SYNC the synchronous set the agents recorded could not be read .*etcd down/);
    fail = false;
    await follower.follow();
    assert.equal(log.lines.length, 1, 'the same set: nothing to say');
  });
});
