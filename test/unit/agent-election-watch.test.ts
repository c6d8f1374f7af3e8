import assert from 'node:assert/strict';
import { test } from 'node:test';
import { skipElectionSnapshot, type QuietRefusal, type SkipInput } from '../../src/agent/election/election-watch.js';

const heard = (epoch: number, masterHeardAtMs = 10_500, live = true) => ({ live, epoch, master: 'john', masterHeardAtMs });
const last: QuietRefusal = { code: 'master_lease_held', sentence: 'master_lease of john is alive', master: { name: 'john', term: '12' }, mark: heard(4), atMs: 10_000 };
const row = (over: Partial<SkipInput>): SkipInput => ({ last, mark: heard(4), master: { name: 'john', term: '12' }, nowMs: 11_000, backstopMs: 2500, heardWithinMs: 3167, ...over });

test('skipElectionSnapshot: the last quiet refusal is repeated only while nothing it rests on can have changed', () => {
  assert.equal(skipElectionSnapshot(row({})), true, 'live watch, same epoch, same master, young snapshot');
  assert.equal(skipElectionSnapshot(row({ last: null })), false, 'no quiet refusal to repeat');
  assert.equal(skipElectionSnapshot(row({ mark: heard(5) })), false, 'an event (or a reconnection) since the snapshot');
  assert.equal(skipElectionSnapshot(row({ mark: heard(4, 10_500, false) })), false, 'the watch is not connected now');
  assert.equal(skipElectionSnapshot(row({ last: { ...last, mark: heard(4, 10_500, false) } })), false, 'the snapshot was read while the watch was not live');
  assert.equal(skipElectionSnapshot(row({ mark: heard(4, 11_000 - 3167) })), true, "the master's record heard just within ttl / 3 + a round + slack");
  assert.equal(skipElectionSnapshot(row({ mark: heard(4, 11_000 - 3168) })), false, "the master's record not heard for longer: the master is gone or the watch's member hears nothing (review s11b F1)");
  assert.equal(skipElectionSnapshot(row({ mark: heard(4, Number.NEGATIVE_INFINITY) })), false, 'nothing heard yet since the watch opened');
  assert.equal(skipElectionSnapshot(row({ mark: { ...heard(4), master: 'paul' } })), false, "the watch follows another node's record");
  assert.equal(skipElectionSnapshot(row({ master: { name: 'paul', term: '13' } })), false, 'another master recorded');
  assert.equal(skipElectionSnapshot(row({ master: { name: 'john', term: '13' } })), false, 'the same name under another term');
  assert.equal(skipElectionSnapshot(row({ master: null })), false, 'the master key absent or unreadable this round');
  assert.equal(skipElectionSnapshot(row({ nowMs: 12_499 })), true, 'just inside the backstop');
  assert.equal(skipElectionSnapshot(row({ nowMs: 12_500 })), false, 'the backstop: read again (a watch on a cut-off member hears nothing)');
  assert.equal(skipElectionSnapshot(row({ last: { ...last, code: 'controller_leads' } })), true, 'a controller held leader: only a change of leader lifts it');
});

import { Elector } from '../../src/agent/election/elector.js';
import type { ElectionWatch, WatchMark } from '../../src/agent/election/election-watch.js';
import type { ElectionHands } from '../../src/agent/election/elector.js';
import type { EtcdContext } from '../../src/store/etcd/client.js';
import { etcdKeys } from '../../src/store/etcd/keys.js';
import { encodeMasterRecord } from '../../src/store/etcd/master-record.js';

/** An etcd whose election snapshot says: john recorded (term 12), its lease key present or not; counts the reads. */
function fakeEtcd(): { ctx: EtcdContext; reads: () => number; setLease: (held: boolean) => void } {
  const keys = etcdKeys('/t/');
  let reads = 0;
  let leaseHeld = true;
  const master = encodeMasterRecord({ name: 'john', term: '12', timeline: 1, promoted_lsn: null, sync_set: [], since: '2026-12-05T10:00:00Z', written_by: 'ctl' });
  const range = (kvs: object[], count = kvs.length) => ({ response_range: { kvs, count: String(count) } });
  const txn = async () => {
    reads++;
    return {
      header: { revision: String(100 + reads) },
      responses: [
        range([{ key: Buffer.from(keys.master), value: Buffer.from(master), mod_revision: '50', lease: '0' }]),
        range(leaseHeld ? [{ key: Buffer.from(keys.masterLease('john')), value: Buffer.from(''), mod_revision: '60', lease: '77' }] : []),
        range([]),
        range([], 0),
        range([]),
        range([]),
      ],
    };
  };
  const ctx = { keys, deadlineMs: 1000, client: { kv: { txn } } } as unknown as EtcdContext;
  return { ctx, reads: () => reads, setLease: (held) => (leaseHeld = held) };
}

test('Elector: an idle replica repeats "master_lease_held" without a snapshot while the watch is quiet, reads again on any change', async () => {
  const etcd = fakeEtcd();
  let nowMs = 0;
  let epoch = 1;
  // The master's record heard a moment ago at every attempt (its agent alive, the watch hearing).
  const mark = (): WatchMark => ({ live: true, epoch, master: 'john', masterHeardAtMs: nowMs - 100 });
  const watch = { start: () => undefined, mark } as unknown as ElectionWatch;
  const settings = { node: 'paul', deployment: 'agents' as const, ttlMs: 5000, loopWaitMs: 1000, servers: { paul: { failoverPriority: 1, nofailover: false, lagLimitMb: null } }, maxReplayLagMb: 16, synchronousMode: 'off' as const, callMs: 1000 };
  const elector = new Elector(etcd.ctx, settings as never, {} as ElectionHands, () => nowMs, () => undefined, watch, 2500);
  const john = { name: 'john', term: '12' };
  assert.equal((await elector.attempt(john)).kind, 'refused');
  assert.equal(etcd.reads(), 1, 'the first attempt reads');
  nowMs = 1000;
  const again = await elector.attempt(john);
  assert.equal(again.kind === 'refused' && again.code, 'master_lease_held');
  assert.equal(etcd.reads(), 1, 'quiet watch: no read');
  nowMs = 2000;
  epoch = 2;
  etcd.setLease(false);
  const after = await elector.attempt(john);
  assert.equal(etcd.reads(), 2, 'an event: read');
  assert.notEqual(after.kind === 'refused' && after.code, 'master_lease_held', 'the lease key gone: judged on the new snapshot');
  nowMs = 3000;
  await elector.attempt(john);
  assert.equal(etcd.reads(), 3, 'not a quiet refusal any more: every attempt reads');
  etcd.setLease(true);
  nowMs = 4000;
  await elector.attempt(john);
  nowMs = 6400;
  await elector.attempt(john);
  assert.equal(etcd.reads(), 4, 'quiet again');
  nowMs = 6500;
  await elector.attempt(john);
  assert.equal(etcd.reads(), 5, 'the backstop (2.5 s after the snapshot)');
  await elector.attempt({ name: 'john', term: '13' });
  assert.equal(etcd.reads(), 6, 'another term recorded: read');
});

test("Elector: while the master's record is not heard (master lost, or the watch's etcd member deaf), every attempt reads", async () => {
  const etcd = fakeEtcd();
  let nowMs = 0;
  let heardAt = 0;
  const watch = { start: () => undefined, mark: (): WatchMark => ({ live: true, epoch: 1, master: 'john', masterHeardAtMs: heardAt }) } as unknown as ElectionWatch;
  const settings = { node: 'paul', deployment: 'agents' as const, ttlMs: 5000, loopWaitMs: 1000, servers: { paul: { failoverPriority: 1, nofailover: false, lagLimitMb: null } }, maxReplayLagMb: 16, synchronousMode: 'off' as const, callMs: 1000 };
  const elector = new Elector(etcd.ctx, settings as never, {} as ElectionHands, () => nowMs, () => undefined, watch, 2500);
  const john = { name: 'john', term: '12' };
  await elector.attempt(john);
  nowMs = 1000;
  await elector.attempt(john);
  assert.equal(etcd.reads(), 1, 'heard 1 s ago: skipped');
  nowMs = 2000;
  heardAt = -1200;
  await elector.attempt(john);
  assert.equal(etcd.reads(), 2, 'not heard for 3.2 s (> ttl / 3 + a round + 0.5 s): read');
});
