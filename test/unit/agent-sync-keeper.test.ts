import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideKeeper, OFF_REASON, type KeeperInput, type KeeperReplica, type KeeperStep, type PendingNarrow } from '../../src/agent/sync/keeper-decide.js';
import { headWithSync } from '../../src/agent/sync/keeper-store.js';
import { memberRecord, type MemberRecord } from '../../src/agent/member-record.js';
import type { SyncPolicy } from '../../src/engine/sync-set.js';
import { parseLsn, type Lsn } from '../../src/model/lsn.js';
import { isSyncRecord, SYNC_HISTORY_LIMIT, type SyncRecord } from '../../src/model/sync-record.js';
import type { MasterReplication } from '../../src/runtime/sync/master-replication.js';
import { replicaFacts } from '../fixtures/member-facts.js';
import { candidateSettings, masterRecord } from './election-snapshot.js';

const lsn = (text: string): Lsn => parseLsn(text) as Lsn;
const john = { state: 'present' as const, record: masterRecord('john', { written_by: 'agent:john' }) };
const running = (name: string, extra: Partial<MemberRecord> = {}): MemberRecord => ({ ...memberRecord(name, { state: 'running', writable: false }, replicaFacts('0/3000000'), john, null, '2026-01-01T00:00:00Z'), ...extra });
const replica = (name: string, over: Partial<KeeperReplica> = {}): KeeperReplica => ({ name, settings: candidateSettings, member: running(name), ...over });

/** john is the master at 0/3000000; `flushes` are the streaming standbys' flushed positions. */
const seen = (named: string, flushes: Record<string, string>): MasterReplication => ({
  named,
  current: lsn('0/3000000'),
  standbys: Object.entries(flushes).map(([name, flush]) => ({ name, state: 'streaming', flush: lsn(flush) })),
});
const record = (members: string[], quorum: number, master = 'john'): SyncRecord => ({ members, quorum, master, at: '2026-01-01T00:00:00Z', reason: 'test' });
const ON: SyncPolicy = { mode: 'on', count: 1, method: 'any' };
const STRICT: SyncPolicy = { mode: 'strict', count: 1, method: 'any' };
const both = { paul: '0/3000000', ringo: '0/3000000' };

function input(over: Partial<KeeperInput>): KeeperInput {
  return { node: 'john', policy: ON, record: null, seen: seen('', both), replicas: [replica('paul'), replica('ringo')], pending: null, newMaster: false, ...over };
}

const show = (steps: readonly KeeperStep[]): string[] => steps.map((s) => (s.kind === 'apply' ? `apply '${s.value}'` : `record [${s.set.members.join(', ')}] ${s.set.quorum}`));

describe('decideKeeper: the master\'s agent keeps the synchronous set (deployment agents)', () => {
  const rows: [string, KeeperInput, string[]][] = [
    ['nothing recorded, both replicas streaming → recorded (quorum 0) BEFORE they are named', input({}), ['record [paul, ringo] 0', 'apply \'ANY 1 ("paul", "ringo")\'']],
    ['a new member streaming → the record widened BEFORE the master names it', input({ record: record(['paul'], 1), seen: seen('ANY 1 ("paul")', both) }), ['record [paul, ringo] 1', 'apply \'ANY 1 ("paul", "ringo")\'']],
    [
      'a member stops (PostgreSQL stopped, not streaming) → un-named first, the record still names it',
      input({ record: record(['paul', 'ringo'], 1), seen: seen('ANY 1 ("paul", "ringo")', { paul: '0/3000000' }), replicas: [replica('paul'), replica('ringo', { member: running('ringo', { postgres: 'stopped', in_recovery: null }) })] }),
      ['apply \'ANY 1 ("paul")\''],
    ],
    ['its agent down (no member record) though streaming → not named', input({ replicas: [replica('paul'), replica('ringo', { member: null })] }), ['record [paul] 0', 'apply \'ANY 1 ("paul")\'']],
    ['disabled or fenced (no settings) → not named', input({ replicas: [replica('paul'), replica('ringo', { settings: null })] }), ['record [paul] 0', 'apply \'ANY 1 ("paul")\'']],
    ['nofailover → not named', input({ replicas: [replica('paul'), replica('ringo', { settings: { ...candidateSettings, nofailover: true } })] }), ['record [paul] 0', 'apply \'ANY 1 ("paul")\'']],
    ['beyond its lag_limit → not named', input({ seen: seen('', { paul: '0/3000000', ringo: '0/1000000' }), replicas: [replica('paul'), replica('ringo', { settings: { ...candidateSettings, lagLimitMb: 1 } })] }), ['record [paul] 0', 'apply \'ANY 1 ("paul")\'']],
    ['FIRST 1: the lower failover_priority', input({ policy: { mode: 'on', count: 1, method: 'first' }, replicas: [replica('paul', { settings: { ...candidateSettings, failoverPriority: 5 } }), replica('ringo', { settings: { ...candidateSettings, failoverPriority: 1 } })] }), ['record [ringo] 0', 'apply \'FIRST 1 ("ringo")\'']],
    [
      'on, nobody qualifies any more → quorum 0 recorded, asynchronous named, then the empty set recorded at once (quorum 0 promises nothing)',
      input({ record: record(['paul'], 1), seen: seen('ANY 1 ("paul")', {}) }),
      ['record [paul] 0', 'apply \'\'', 'record [] 0'],
    ],
    ['strict, nobody qualifies → the members are kept: no change', input({ policy: STRICT, record: record(['paul'], 1), seen: seen('ANY 1 ("paul")', {}) }), []],
    ['in force and caught up → nothing to do', input({ record: record(['paul', 'ringo'], 1), seen: seen('ANY 1 ("paul", "ringo")', both) }), []],
    [
      'a set recorded for the previous master (this node just won an election, named \'*\') → one for this node first, quorum 0',
      input({ record: record(['john', 'paul'], 1, 'george'), seen: seen('*', both) }),
      ['record [paul, ringo] 0', 'apply \'ANY 1 ("paul", "ringo")\''],
    ],
    ['… even when the master already names the desired value', input({ record: record(['paul', 'ringo'], 1, 'george'), seen: seen('ANY 1 ("paul", "ringo")', both) }), ['record [paul, ringo] 0']],
    [
      'on, just elected (\'*\' named, the record the old master\'s), ringo in recovery but not streaming yet → \'*\' kept while the master is new',
      input({ node: 'paul', record: record(['paul'], 1), seen: seen('*', {}), replicas: [replica('john', { member: null }), replica('ringo')], newMaster: true }),
      [],
    ],
    [
      '… once no longer new (ttl + loop_wait) with nobody streaming → asynchronous, recorded first',
      input({ node: 'paul', record: record(['paul'], 1), seen: seen('*', {}), replicas: [replica('john', { member: null }), replica('ringo')], newMaster: false }),
      ['record [] 0', 'apply \'\''],
    ],
    ['… and a master of its own record is never "new": on goes asynchronous as the controller\'s', input({ record: record(['paul'], 1), seen: seen('ANY 1 ("paul")', {}), newMaster: true }), ['record [paul] 0', 'apply \'\'', 'record [] 0']],
    ['off, a set of this master still named and recorded → nothing promised recorded first, then un-named (review M3)', input({ policy: { mode: 'off', count: 1, method: 'any' }, record: record(['paul'], 1), seen: seen('ANY 1 ("paul")', both) }), ['record [] 0', 'apply \'\'']],
    ['off after an election: the old master\'s set (quorum 1) replaced by nothing promised, then \'*\' cleared', input({ node: 'paul', policy: { mode: 'off', count: 1, method: 'any' }, record: record(['paul'], 1, 'john'), seen: seen('*', {}) }), ['record [] 0', 'apply \'\'']],
    ['off, this keeper\'s own "off" record but the clear failed last time → cleared now', input({ policy: { mode: 'off', count: 1, method: 'any' }, record: { ...record([], 0), reason: OFF_REASON }, seen: seen('ANY 1 ("paul")', both) }), ['apply \'\'']],
    ['off, a quorum-0 record left by on with its names still set → "off" recorded, then un-named (review N4)', input({ policy: { mode: 'off', count: 1, method: 'any' }, record: record(['paul'], 0), seen: seen('ANY 1 ("paul")', both) }), ['record [] 0', 'apply \'\'']],
    ['off, this keeper\'s own "off" record and nothing named → settled', input({ policy: { mode: 'off', count: 1, method: 'any' }, record: { ...record([], 0), reason: OFF_REASON }, seen: seen('', both) }), []],
    ['off, nothing named or promised → nothing to do', input({ policy: { mode: 'off', count: 1, method: 'any' }, record: record([], 0), seen: seen('', both) }), []],
    ['off, never on (no record, nothing named) → nothing, not even a record', input({ policy: { mode: 'off', count: 1, method: 'any' } }), []],
    ['off, the operator\'s own synchronous_standby_names and no set recorded → not touched', input({ policy: { mode: 'off', count: 1, method: 'any' }, seen: seen('FIRST 1 (paul)', both) }), []],
    ['strict after an election with nobody streaming → \'*\' left as it is (never emptied)', input({ policy: STRICT, record: record(['john'], 1, 'george'), seen: seen('*', {}) }), []],
    ['strict after an election: the previous members but itself are kept', input({ policy: STRICT, record: record(['john', 'paul'], 1, 'george'), seen: seen('*', {}) }), ['record [paul] 0', 'apply \'ANY 1 ("paul")\'']],
  ];
  for (const [what, given, expected] of rows) {
    it(what, () => assert.deepEqual(show(decideKeeper(Object.freeze(given)).steps), expected));
  }

  it('every record names this node as master; a "record" always comes before the "apply" that needs it', () => {
    const plan = decideKeeper(input({ record: record(['paul'], 1), seen: seen('ANY 1 ("paul")', both) }));
    assert.equal(plan.steps[0]?.kind, 'record');
    assert.match(plan.sentence, /ANY 1 of paul, ringo/);
  });
});

describe('decideKeeper: narrowing waits for the members to flush past the master\'s position at the change', () => {
  const named = 'ANY 1 ("paul", "ringo")';
  const wide = record(['paul', 'ringo'], 0);

  it('first round: nothing recorded, the master\'s position is remembered as the target', () => {
    const plan = decideKeeper(input({ record: wide, seen: seen(named, { paul: '0/2000000', ringo: '0/2000000' }) }));
    assert.deepEqual(plan.steps, []);
    assert.deepEqual(plan.pending, { set: { members: ['paul', 'ringo'], quorum: 1 }, target: '0/3000000' });
  });

  it('a later round, no member past the target yet → still waiting, same target', () => {
    const pending: PendingNarrow = { set: { members: ['paul', 'ringo'], quorum: 1 }, target: lsn('0/3000000') };
    const plan = decideKeeper(input({ record: wide, seen: { ...seen(named, { paul: '0/2FFFFFF', ringo: '0/2000000' }), current: lsn('0/5000000') }, pending }));
    assert.deepEqual(plan.steps, []);
    assert.equal(plan.pending, pending);
  });

  it('one member (the quorum) past the target → the exact set recorded, nothing pending', () => {
    const pending: PendingNarrow = { set: { members: ['paul', 'ringo'], quorum: 1 }, target: lsn('0/3000000') };
    const plan = decideKeeper(input({ record: wide, seen: { ...seen(named, { paul: '0/3000000', ringo: '0/1000000' }), current: lsn('0/5000000') }, pending }));
    assert.deepEqual(show(plan.steps), ['record [paul, ringo] 1']);
    assert.equal(plan.pending, null);
  });

  it('a target remembered for another set is not used', () => {
    const pending: PendingNarrow = { set: { members: ['paul'], quorum: 1 }, target: lsn('0/1000000') };
    const plan = decideKeeper(input({ record: wide, seen: seen(named, both), pending }));
    assert.deepEqual(plan.steps, []);
    assert.deepEqual(plan.pending?.set, { members: ['paul', 'ringo'], quorum: 1 });
  });

  it('a member removed: the record narrows only after the remaining ones caught up', () => {
    const stopped = [replica('paul'), replica('ringo', { member: running('ringo', { postgres: 'stopped', in_recovery: null }) })];
    const first = decideKeeper(input({ record: record(['paul', 'ringo'], 1), seen: seen('ANY 1 ("paul")', { paul: '0/2000000' }), replicas: stopped }));
    assert.deepEqual(first.steps, []);
    const second = decideKeeper(input({ record: record(['paul', 'ringo'], 1), seen: seen('ANY 1 ("paul")', { paul: '0/3000000' }), replicas: stopped, pending: first.pending }));
    assert.deepEqual(show(second.steps), ['record [paul] 1']);
  });
});

describe('headWithSync: the cluster key\'s value with the new set', () => {
  const set = record(['paul'], 1);
  it('an existing head keeps its other fields; the set is appended to sync_history', () => {
    const head = { format: 'handyrep-state', version: 4, updated_ms: 1, status: { status: 'healthy' }, sync: record([], 0), sync_history: [record([], 0)] };
    const next = headWithSync(head, set, 2);
    assert.equal(next['version'], 4);
    assert.deepEqual(next['status'], { status: 'healthy' });
    assert.deepEqual(next['sync'], set);
    assert.deepEqual(next['sync_history'], [record([], 0), set]);
  });
  it('no head yet → a state head (format, version 0, status unknown) holding the set', () => {
    const next = headWithSync(null, set, Date.parse('2026-01-01T00:00:00Z'));
    assert.equal(next['format'], 'handyrep-state');
    assert.equal(next['version'], 0);
    assert.ok(isSyncRecord(next['sync']));
  });
  it('the history is capped; entries that are not sets are dropped', () => {
    const history = [...Array.from({ length: SYNC_HISTORY_LIMIT }, () => record([], 0)), 'garbage'];
    const next = headWithSync({ sync_history: history }, set, 2) as { sync_history: unknown[] };
    assert.equal(next.sync_history.length, SYNC_HISTORY_LIMIT);
    assert.deepEqual(next.sync_history.at(-1), set);
  });
});
