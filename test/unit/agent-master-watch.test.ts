/**
 * When a round may take the `master` key from the agent's watch instead of reading it, and when it
 * must read before acting (master-watch.ts).
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { AgentPlan, MasterKeyView } from '../../src/agent/decide.js';
import { MasterWatch, masterViewSource, mustReadBeforeActing } from '../../src/agent/master-watch.js';
import type { EtcdContext } from '../../src/store/etcd/client.js';
import { encodeMasterRecord, type MasterRecord } from '../../src/store/etcd/master-record.js';

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

const plan = (actions: AgentPlan['actions']): AgentPlan => ({ actions, reason: 'master_is_us', sentence: '' });

test('a round that changes nothing, or only renews a lease it holds, may use the watched view', () => {
  assert.equal(mustReadBeforeActing(plan([]), false), false);
  assert.equal(mustReadBeforeActing(plan([]), true), false);
  assert.equal(mustReadBeforeActing(plan(['hold_lease']), true), false);
});
test('taking the lease (not held yet) on a watched view naming this node: read first (a stalled watch must not hand a restarted old master its lease)', () => {
  assert.equal(mustReadBeforeActing(plan(['hold_lease']), false), true);
});
test('demoting on a watched view naming another node: read first (a stalled watch must not fence a newly promoted master)', () => {
  assert.equal(mustReadBeforeActing(plan(['demote', 'release_lease']), true), true);
  assert.equal(mustReadBeforeActing(plan(['demote']), false), true);
});
test('releasing the lease or restarting a crash: read first', () => {
  assert.equal(mustReadBeforeActing(plan(['release_lease']), true), true);
  assert.equal(mustReadBeforeActing(plan(['restart_crashed']), true), true);
});

/** A watch that connects and then hears nothing (on an etcd member cut off from the others), and a range read that sees the key. */
function stalledWatch(): { ctx: EtcdContext; watchers: EventEmitter[]; setKey: (name: string, modRevision: number) => void } {
  const watchers: EventEmitter[] = [];
  let value = Buffer.from(encodeMasterRecord(record('john')));
  let mod = 5;
  const ctx = {
    keys: { master: '/t/master' },
    client: {
      watch: () => ({ key: () => ({ watcher: () => {
        const w = Object.assign(new EventEmitter(), { cancel: async () => undefined });
        watchers.push(w);
        return w;
      } }) }),
      kv: { range: async () => ({ header: { revision: String(mod + 10) }, kvs: [{ value, mod_revision: String(mod) }] }) },
    },
  } as unknown as EtcdContext;
  return { ctx, watchers, setKey: (name, modRevision) => { value = Buffer.from(encodeMasterRecord(record(name))); mod = modRevision; } };
}
const record = (name: string): MasterRecord => ({ name, term: '1', timeline: null, promoted_lsn: null, sync_set: [], since: '2026-01-01T00:00:00.000Z', written_by: 'test' });
const named = (r: { view: MasterKeyView }): string | null => (r.view.state === 'present' ? r.view.record.name : null);

test('a stalled watch: quiet rounds use it, a fresh read sees the moved key and restarts the watch', async () => {
  let nowMs = 0;
  const lines: string[] = [];
  const { ctx, watchers, setKey } = stalledWatch();
  const watch = new MasterWatch(ctx, 3000, () => nowMs, (line) => lines.push(line));
  watch.start();
  watchers[0]?.emit('connected', {});
  const first = await watch.read(1000);
  assert.deepEqual([first.source, named(first), first.modRevision], ['read', 'john', '5']);
  setKey('paul', 9); // the watch on the cut-off member never says so
  nowMs = 1000;
  const quiet = await watch.read(1000);
  assert.deepEqual([quiet.source, named(quiet)], ['watch', 'john'], 'a round that changes nothing may use it');
  assert.equal(quiet.readRevision, '15', 'probe_revision from a stalled watch: the last read\'s revision, never newer');
  const fresh = await watch.read(1000, true);
  assert.deepEqual([fresh.source, named(fresh), fresh.modRevision, fresh.readRevision], ['read', 'paul', '9', '19'], 'the round that would act reads');
  assert.equal(watchers.length, 2, 'a new watch');
  assert.match(lines.join('\n'), /watch restarted: a read found the master key at mod revision 9, the watch had 5/);
  const next = await watch.read(1000);
  assert.equal(next.source, 'read', 'until the new watch connects, rounds read');
  watch.close();
});

test('a watch etcd cancelled (compaction) is replaced, and rounds read until the new one connects', async () => {
  const { ctx, watchers } = stalledWatch();
  const lines: string[] = [];
  const watch = new MasterWatch(ctx, 3000, () => 0, (line) => lines.push(line));
  watch.start();
  watchers[0]?.emit('connected', {});
  await watch.read(1000);
  watchers[0]?.emit('error', new Error('Watcher canceled: mvcc: required revision has been compacted'));
  assert.equal(watchers.length, 2);
  assert.equal((await watch.read(1000)).source, 'read');
  watchers[1]?.emit('connected', {});
  assert.equal((await watch.read(1000)).source, 'read', 'the first round after a (re)connection reads');
  assert.equal((await watch.read(1000)).source, 'watch');
  assert.match(lines.join('\n'), /watch restarted: the watch failed/);
  watch.close();
});
