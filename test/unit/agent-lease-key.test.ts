/**
 * The master's agent and its `master_lease` key, row by row: what a round does about the key
 * (lease-key-keeper.ts leaseKeyAction), and what the election takes as proof that the old
 * master's lease ended (election/lease-end.ts): a lease id's time to live, or etcd's history.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaseKeyKeeper, leaseKeyAction } from '../../src/agent/lease-key-keeper.js';
import type { EtcdContext } from '../../src/store/etcd/client.js';
import { etcdKeys } from '../../src/store/etcd/keys.js';
import { leaseEndFromCurrent, leaseEndFromHistory, leaseEndFromSeen, leaseEndFromSeenAndHistory } from '../../src/agent/election/lease-end.js';
import type { CurrentLeaseVerdict } from '../../src/engine/lease-current-proof.js';

const keyRows: [label: string, keyLease: string | null, action: ReturnType<typeof leaseKeyAction>][] = [
  ['key missing while this agent holds its lease → put it back', null, 'put_back'],
  ['key under this agent\'s lease → nothing', '7', 'none'],
  ['key under another lease (put over by hand, or an earlier agent process\'s) → put back over it', '9', 'overwritten'],
  ['key put over by hand without a lease → put back over it', '0', 'overwritten'],
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

const gone = { state: 'not_proven', reason: 'compacted past the delete', historyGone: true } as const;
const current = (state: CurrentLeaseVerdict['state'], code: CurrentLeaseVerdict['code']): CurrentLeaseVerdict => ({ state, code, reason: `current: ${code}` });

test('a seen lease that ended, history compacted away: the current leases decide (released → ended, held → alive, else unknown)', () => {
  const seen = leaseEndFromSeen('7', false);
  assert.deepEqual(leaseEndFromSeenAndHistory(seen, gone, current('released', 'released')), { ended: true, how: 'seen_lease', why: 'lease 7 has ended; compacted past the delete; current: released' });
  assert.equal(leaseEndFromSeenAndHistory(seen, gone, current('held', 'lease_carries_key')).ended, false);
  const keyless = leaseEndFromSeenAndHistory(seen, gone, current('not_proven', 'keyless_lease'));
  assert.equal(keyless.ended, null);
  assert.match(keyless.why, /nor do the current leases prove it \(keyless_lease\)/);
  assert.equal(leaseEndFromSeenAndHistory(seen, gone).ended, null, 'current leases not read → unknown');
});

test('no lease seen, history compacted away: released → ended by current_leases (the judge weighs it by deployment), else unknown as history', () => {
  assert.deepEqual(leaseEndFromCurrent(gone, current('released', 'released')), { ended: true, how: 'current_leases', why: 'compacted past the delete; current: released' });
  assert.equal(leaseEndFromCurrent(gone, current('held', 'lease_carries_key')).ended, false);
  for (const code of ['not_read', 'listing_behind', 'lease_unread', 'lease_behind', 'keyless_lease'] as const) {
    const end = leaseEndFromCurrent(gone, current('not_proven', code));
    assert.deepEqual([end.ended, end.how], [null, 'history'], code);
    assert.match(end.why, new RegExp(`\\(${code}\\)`));
  }
});

/** A fake etcd for one keep(): the key as read, and the transaction it sends. */
function keeperOver(found: { lease: string; mod_revision: string } | null): { keeper: LeaseKeyKeeper; sent: unknown[] } {
  const sent: unknown[] = [];
  const ctx = {
    keys: etcdKeys('/handyrep/t/'),
    client: {
      kv: {
        range: async () => ({ kvs: found === null ? [] : [found] }),
        txn: async (req: unknown) => {
          sent.push(req);
          return { succeeded: true, header: { revision: '31' }, responses: [] };
        },
      },
    },
  } as unknown as EtcdContext;
  return { keeper: new LeaseKeyKeeper(ctx, 'john', () => undefined), sent };
}

test('put-back over a key put over by hand compares that version\'s mod revision (a newer put wins), a missing key its absence; both the master key\'s revision', async () => {
  const compares = (sent: unknown[]): unknown => (sent[0] as { compare: unknown[] }).compare;
  const over = keeperOver({ lease: '0', mod_revision: '25' });
  assert.match(await over.keeper.keep('7', '12', 1000), /master_lease\/john was under no lease \(put by hand\) while this agent holds lease 7: put back at revision 31/);
  assert.deepEqual(compares(over.sent), [
    { key: Buffer.from('/handyrep/t/master'), target: 'Mod', result: 'Equal', mod_revision: '12' },
    { key: Buffer.from('/handyrep/t/master_lease/john'), target: 'Mod', result: 'Equal', mod_revision: '25' },
  ]);
  const other = keeperOver({ lease: '9', mod_revision: '26' });
  assert.match(await other.keeper.keep('7', '12', 1000), /was under lease 9 while this agent holds lease 7: put back/);
  const missing = keeperOver(null);
  assert.match(await missing.keeper.keep('7', '12', 1000), /was missing while/);
  assert.deepEqual((compares(missing.sent) as unknown[])[1], { key: Buffer.from('/handyrep/t/master_lease/john'), target: 'Create', result: 'Equal', create_revision: 0 });
  const ours = keeperOver({ lease: '7', mod_revision: '27' });
  assert.equal(await ours.keeper.keep('7', '12', 1000), '');
  assert.equal(ours.sent.length, 0, 'under our lease: no transaction');
});

/** A keeper over a fake etcd whose reads return `reads` in turn. */
function keeperReading(reads: ({ lease: string; mod_revision: string } | null)[], currentLease?: () => string | null): { keeper: LeaseKeyKeeper; sent: unknown[] } {
  const sent: unknown[] = [];
  let i = 0;
  const ctx = {
    keys: etcdKeys('/handyrep/t/'),
    client: {
      kv: {
        range: async () => {
          const found = reads[Math.min(i++, reads.length - 1)] ?? null;
          return { kvs: found === null ? [] : [found] };
        },
        txn: async (req: unknown) => {
          sent.push(req);
          return { succeeded: true, header: { revision: '40' }, responses: [] };
        },
      },
    },
  } as unknown as EtcdContext;
  return { keeper: new LeaseKeyKeeper(ctx, 'john', () => undefined, currentLease), sent };
}

test('put over by the same live lease again after a put-back (a second agent for this node?): left, reported, no fight', async () => {
  const { keeper, sent } = keeperReading([{ lease: '9', mod_revision: '25' }, { lease: '9', mod_revision: '41' }, { lease: '0', mod_revision: '42' }]);
  assert.match(await keeper.keep('7', '12', 1000), /was under lease 9 while this agent holds lease 7: put back/);
  // The next check (the watch reports the other process's put) finds lease 9 again.
  keeper.requestCheck();
  const second = await keeper.keep('7', '12', 1000);
  assert.match(second, /is under lease 9 again after it was put back under this agent's 7: left \(a second agent for this node\?\)/);
  assert.equal(sent.length, 1, 'no second transaction');
  assert.equal(keeper.mustCheck, false, 'no read every round: the next put event asks again');
  keeper.requestCheck();
  assert.match(await keeper.keep('7', '12', 1000), /was under no lease \(put by hand\).*put back/, 'a put by hand without a lease is still put back');
  assert.equal(sent.length, 2);
});

test('a check started under a lease the agent no longer holds (fenced, new lease since) puts nothing back', async () => {
  const { keeper, sent } = keeperReading([null], () => '8');
  assert.match(await keeper.keep('7', '12', 1000), /not put back: this agent no longer holds lease 7/);
  assert.equal(sent.length, 0);
  assert.equal(keeper.mustCheck, true, 'checked again at the next round (under the new lease)');
});
