/**
 * Synchronous replication's pure part (issue 15), row by row: who qualifies, the
 * synchronous_standby_names value (names as quoted identifiers), and the order of writes that
 * keeps the recorded set true (record wider first, name, narrow only after a later check).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ASYNC, desiredSyncSet, planSyncChange, standbyNamesValue, syncForNewMaster, syncIneligibility, widenSet, type SyncPolicy, type SyncReplicaFacts, type SyncSet } from '../../src/engine/sync-set.js';

const replica = (name: string, over: Partial<SyncReplicaFacts> = {}): SyncReplicaFacts => ({
  name,
  role: 'replica',
  enabled: true,
  failoverPriority: 999,
  nofailover: false,
  streaming: true,
  flushLagMb: 0,
  lagLimitMb: 100,
  ...over,
});
const on: SyncPolicy = { mode: 'on', count: 1, method: 'any' };
const strict: SyncPolicy = { mode: 'strict', count: 1, method: 'any' };
const set = (quorum: number, ...members: string[]): SyncSet => ({ members, quorum });

type EligibleRow = [label: string, over: Partial<SyncReplicaFacts>, expected: string | null];
const ELIGIBLE: EligibleRow[] = [
  ['a streaming enabled replica within its lag limit', {}, null],
  ['disabled', { enabled: false }, 'disabled'],
  ['nofailover is never synchronous', { nofailover: true }, 'nofailover'],
  ['failover_priority 0 is never synchronous', { failoverPriority: 0 }, 'failover_priority 0'],
  ['not streaming', { streaming: false }, 'not streaming'],
  ['lag unknown', { flushLagMb: null }, 'lag unknown'],
  ['beyond its lag limit', { flushLagMb: 150 }, 'lag 150.0 MB > lag_limit 100 MB'],
  ['at its lag limit', { flushLagMb: 100 }, null],
  ['not a replica', { role: 'master' }, 'role master'],
];
for (const [label, over, expected] of ELIGIBLE) test(`sync eligibility: ${label}`, () => assert.equal(syncIneligibility(replica('r', over)), expected));

type DesiredRow = [label: string, policy: SyncPolicy, replicas: SyncReplicaFacts[], current: SyncSet, members: string[], quorum: number];
const DESIRED: DesiredRow[] = [
  ['any: every qualifying replica, ANY 1', on, [replica('paul'), replica('george'), replica('ringo', { nofailover: true })], ASYNC, ['george', 'paul'], 1],
  ['any with k 2', { ...on, count: 2 }, [replica('paul'), replica('george'), replica('ringo')], ASYNC, ['george', 'paul', 'ringo'], 2],
  ['k above the qualifying count is capped (on)', { ...on, count: 3 }, [replica('paul'), replica('george')], ASYNC, ['george', 'paul'], 2],
  ['first: the k best by failover_priority', { ...on, method: 'first', count: 1 }, [replica('paul', { failoverPriority: 5 }), replica('george', { failoverPriority: 2 })], ASYNC, ['george'], 1],
  ['first: ties by name', { ...on, method: 'first', count: 1 }, [replica('paul'), replica('george')], ASYNC, ['george'], 1],
  ['on: nobody qualifies → asynchronous', on, [replica('paul', { streaming: false })], set(1, 'paul'), [], 0],
  ['on: a member that stopped streaming leaves', on, [replica('paul', { streaming: false }), replica('george')], set(1, 'george', 'paul'), ['george'], 1],
  ['strict: nobody qualifies → the members stay', strict, [replica('paul', { streaming: false })], set(1, 'paul'), ['paul'], 1],
  ['strict: too few qualifying → kept members fill up to k', { ...strict, count: 2 }, [replica('paul', { streaming: false }), replica('george'), replica('ringo', { streaming: false })], set(2, 'paul', 'ringo'), ['george', 'paul'], 2],
  ['strict with nothing recorded and nobody qualifying: nothing to name', strict, [replica('paul', { streaming: false })], ASYNC, [], 0],
  ['priority 0 never named even when it is the only one streaming', on, [replica('paul', { failoverPriority: 0 })], ASYNC, [], 0],
];
for (const [label, policy, replicas, current, members, quorum] of DESIRED) {
  test(`desired sync set: ${label}`, () => {
    const got = desiredSyncSet(policy, replicas, current);
    assert.deepEqual([got.members, got.quorum], [members, quorum]);
  });
}

type ValueRow = [label: string, s: SyncSet, method: 'any' | 'first', expected: string];
const VALUES: ValueRow[] = [
  ['asynchronous is empty', ASYNC, 'any', ''],
  ['quorum', set(1, 'george', 'paul'), 'any', 'ANY 1 ("george", "paul")'],
  ['priority', set(2, 'george', 'paul'), 'first', 'FIRST 2 ("george", "paul")'],
  ['a double quote in a name is doubled', set(1, 'we"ird'), 'any', 'ANY 1 ("we""ird")'],
  ['commas, spaces and a single quote stay inside the identifier', set(1, "o'brien, x"), 'any', 'ANY 1 ("o\'brien, x")'],
  ['upper case is kept (standby names compare case-insensitively anyway)', set(1, 'Paul'), 'any', 'ANY 1 ("Paul")'],
];
for (const [label, s, method, expected] of VALUES) test(`synchronous_standby_names: ${label}`, () => assert.equal(standbyNamesValue(s, method), expected));

test('synchronous_standby_names: a control character in a name is refused, naming the server', () => {
  assert.throws(() => standbyNamesValue(set(1, 'bad\nname'), 'any'), /the server name bad\nname contains a control character/);
});

test('widen: every member of either, the lower quorum', () => assert.deepEqual(widenSet(set(2, 'a', 'b'), set(1, 'c')), set(1, 'a', 'b', 'c')));

type PlanRow = [label: string, recorded: SyncSet, named: string, desired: SyncSet, expected: string[]];
const PLANS: PlanRow[] = [
  ['in place: nothing to do', set(1, 'paul'), 'ANY 1 ("paul")', set(1, 'paul'), []],
  ['from asynchronous: recorded wider (quorum 0) before naming, quorum recorded later', ASYNC, '', set(1, 'paul'), ['record [paul] q0', 'apply ANY 1 ("paul")']],
  ['named already, recorded quorum 0: narrow after catch-up', set(0, 'paul'), 'ANY 1 ("paul")', set(1, 'paul'), ['narrow [paul] q1 catch-up']],
  ['adding george: recorded first, then named', set(1, 'paul'), 'ANY 1 ("paul")', set(1, 'george', 'paul'), ['record [george,paul] q1', 'apply ANY 1 ("george", "paul")']],
  ['removing george: named first; the record waits for a later cycle', set(1, 'george', 'paul'), 'ANY 1 ("george", "paul")', set(1, 'paul'), ['apply ANY 1 ("paul")']],
  ['removal named already: narrow after catch-up', set(1, 'george', 'paul'), 'ANY 1 ("paul")', set(1, 'paul'), ['narrow [paul] q1 catch-up']],
  ['replacing paul by george: record both, name george', set(1, 'paul'), 'ANY 1 ("paul")', set(1, 'george'), ['record [george,paul] q1', 'apply ANY 1 ("george")']],
  ['on, nobody qualifies: recorded asynchronous first, then dropped', set(1, 'paul'), 'ANY 1 ("paul")', ASYNC, ['record [paul] q0', 'apply ', 'narrow [] q0']],
  ['raising k: the old k stays recorded until the new one is in force', set(1, 'a', 'b'), 'ANY 1 ("a", "b")', set(2, 'a', 'b'), ['apply ANY 2 ("a", "b")']],
  ['lowering k: the lower k recorded before naming', set(2, 'a', 'b'), 'ANY 2 ("a", "b")', set(1, 'a', 'b'), ['record [a,b] q1', 'apply ANY 1 ("a", "b")']],
  ['an operator changed the value: named again', set(1, 'paul'), '*', set(1, 'paul'), ['apply ANY 1 ("paul")']],
];
for (const [label, recorded, named, desired, expected] of PLANS) {
  test(`sync change order: ${label}`, () => {
    const got = planSyncChange(recorded, named, desired, 'any').map((a) =>
      a.kind === 'apply' ? `apply ${a.value}` : `${a.kind} [${a.set.members.join(',')}] q${a.set.quorum}${a.kind === 'narrow' && a.catchUp ? ' catch-up' : ''}`,
    );
    assert.deepEqual(got, expected);
  });
}

test('sync change order: at every point the record covers what is named (members ⊇, quorum ≤)', () => {
  const sets = [ASYNC, set(1, 'a'), set(1, 'b'), set(1, 'a', 'b'), set(2, 'a', 'b'), set(2, 'a', 'b', 'c'), set(1, 'c')];
  for (const from of sets) {
    for (const to of sets) {
      let recorded: SyncSet = from;
      let named: SyncSet = from;
      for (const a of planSyncChange(from, standbyNamesValue(from, 'any'), to, 'any')) {
        if (a.kind === 'apply') named = to;
        else recorded = a.set;
        const covers = named.quorum === 0 || (named.members.every((m) => recorded.members.includes(m)) && recorded.quorum <= named.quorum);
        assert.ok(covers, `${JSON.stringify(from)} → ${JSON.stringify(to)}: recorded ${JSON.stringify(recorded)} does not cover named ${JSON.stringify(named)}`);
      }
    }
  }
});

type NewMasterRow = [label: string, policy: SyncPolicy, candidate: string, others: SyncReplicaFacts[], previous: SyncSet, named: SyncSet];
const NEW_MASTER: NewMasterRow[] = [
  ['the other eligible replicas, streaming or not (they are pointed at it next)', on, 'john', [replica('paul'), replica('george', { streaming: false }), replica('ringo', { failoverPriority: 0 })], set(1, 'john', 'paul'), set(1, 'george', 'paul')],
  ['on with nobody else eligible: asynchronous', on, 'john', [replica('ringo', { nofailover: true })], set(1, 'paul'), ASYNC],
  ['strict with nobody else eligible: the old members left', strict, 'paul', [], set(1, 'george', 'paul'), set(1, 'george')],
  ['the candidate itself is never named', on, 'paul', [replica('paul'), replica('george')], ASYNC, set(1, 'george')],
  ['first: the k best', { ...on, method: 'first' }, 'john', [replica('paul', { failoverPriority: 3 }), replica('george', { failoverPriority: 1 })], ASYNC, set(1, 'george')],
];
for (const [label, policy, candidate, others, previous, named] of NEW_MASTER) {
  test(`new master's set: ${label}`, () => {
    const got = syncForNewMaster(policy, candidate, others, previous);
    assert.deepEqual(got.named, named);
    assert.deepEqual(got.recorded, { members: named.members, quorum: 0 }, 'recorded with quorum 0 until its replicas caught up');
  });
}
