import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judgeElection, type ElectionSnapshot, type MemberRead } from '../../src/agent/election/judge.js';
import { memberRecord, type MemberRecord } from '../../src/agent/member-record.js';
import type { SyncRecord } from '../../src/model/sync-record.js';
import { replicaFacts } from '../fixtures/member-facts.js';
import { electionSnapshot, masterRecord } from './election-snapshot.js';

const john = masterRecord('john');
const replica = (name: string, received: string, extra: Partial<MemberRecord> = {}): MemberRead => ({
  name,
  record: { ...memberRecord(name, { state: 'running', writable: false }, replicaFacts(received), { state: 'present', record: john }, null, '2026-01-01T00:00:00Z'), master_lsn_seen: '0/1000000', master_lsn_seen_for: 'john/7', facts_after_revision: '16', ...extra },
  modRevision: '10',
});
const sync = (members: string[], quorum: number, master: string | null = 'john'): SyncRecord => ({ members, quorum, master, at: '2026-01-01T00:00:00Z', reason: 'test' });

/** Deployment ha, no controller for longer than the ttl, synchronous_mode on; ringo is the async replica AHEAD of the sync one (paul). */
function snap(node: string, syncRecord: SyncRecord | null | undefined, over: Partial<ElectionSnapshot> = {}): ElectionSnapshot {
  return electionSnapshot(node, [replica('paul', '0/3000000'), replica('ringo', '0/4000000')], {
    deployment: 'ha',
    leaderAbsentForMs: 9000,
    synchronousMode: 'on',
    leaseGoneRevision: '15',
    ...(syncRecord === undefined ? {} : { syncRecord }),
    ...over,
  });
}

const verdictOf = (s: ElectionSnapshot): string => {
  const v = judgeElection(s);
  return v.kind === 'take' ? 'take' : v.code;
};

describe('judgeElection under synchronous_mode (deployment ha, no controller): the controller\'s recorded set decides', () => {
  const rows: [string, ElectionSnapshot, string][] = [
    ['FIRST 1 (paul): the sync member takes though the async one is further ahead', snap('paul', sync(['paul'], 1)), 'take'],
    ['… the async one further ahead → not_sync_member', snap('ringo', sync(['paul'], 1)), 'not_sync_member'],
    ['the sync member\'s record stale (PostgreSQL stopped) → nobody: sync_quorum', snap('ringo', sync(['paul'], 1), { members: [replica('paul', '0/3000000', { postgres: 'stopped', in_recovery: null }), replica('ringo', '0/4000000')] }), 'sync_quorum'],
    ['2 of (paul, ringo) with quorum 2: every member holds every commit, ringo alone suffices → take', snap('ringo', sync(['paul', 'ringo'], 2), { members: [replica('paul', '0/3000000', { postgres: 'stopped', in_recovery: null }), replica('ringo', '0/4000000')] }), 'take'],
    ['ANY 1 of (paul, ringo): both fresh → the furthest of them takes', snap('ringo', sync(['paul', 'ringo'], 1)), 'take'],
    ['… the other → sync_behind', snap('paul', sync(['paul', 'ringo'], 1)), 'sync_behind'],
    ['ANY 1 of (paul, ringo): ringo out of reach → n − k + 1 = 2 not met → sync_quorum', snap('paul', sync(['paul', 'ringo'], 1), { members: [replica('paul', '0/3000000'), replica('ringo', '0/4000000', { postgres: 'crashed', in_recovery: null })] }), 'sync_quorum'],
    [
      'ANY 1 of (paul, ringo): paul\'s position was read before john\'s lease was gone (it may have received more since) → out of reach: sync_quorum',
      snap('ringo', sync(['paul', 'ringo'], 1), { members: [replica('paul', '0/3000000', { facts_after_revision: '12' }), replica('ringo', '0/4000000')] }),
      'sync_quorum',
    ],
    ['… a record that says nothing of when its facts were read counts as out of reach too', snap('ringo', sync(['paul', 'ringo'], 1), { members: [replica('paul', '0/3000000', { facts_after_revision: undefined }), replica('ringo', '0/4000000')] }), 'sync_quorum'],
    ['FIRST 1 (n = k): every member holds every commit, the age of the read does not matter → take', snap('paul', sync(['paul'], 1), { members: [replica('paul', '0/3000000', { facts_after_revision: '12' }), replica('ringo', '0/4000000')] }), 'take'],
    ['recorded asynchronous (quorum 0) → any candidate, as for the controller', snap('ringo', sync([], 0)), 'take'],
    ['no set recorded → sync_record_missing', snap('paul', null), 'sync_record_missing'],
    ['a quorum above the member count (corrupt) → sync_record_missing', snap('paul', sync(['paul'], 3)), 'sync_record_missing'],
    ['a fractional quorum → sync_record_missing', snap('paul', sync(['paul', 'ringo'], 0.5)), 'sync_record_missing'],
    ['a set recorded for another master → sync_record_stale', snap('paul', sync(['paul'], 1, 'paul')), 'sync_record_stale'],
    ['not read yet → sync_unread (the elector then reads the cluster key)', snap('paul', undefined), 'sync_unread'],
    ['deployment agents (the set kept by john\'s agent): the sync member takes though the async one is further ahead', snap('paul', sync(['paul'], 1), { deployment: 'agents', leaderAbsentForMs: 0 }), 'take'],
    ['deployment agents: the async one further ahead → not_sync_member', snap('ringo', sync(['paul'], 1), { deployment: 'agents', leaderAbsentForMs: 0 }), 'not_sync_member'],
    ['deployment agents: a set john\'s agent recorded asynchronous (quorum 0, it had just become master) → the furthest takes', snap('ringo', sync(['paul'], 0), { deployment: 'agents' }), 'take'],
    ['strict: same rule', snap('paul', sync(['paul'], 1), { synchronousMode: 'strict' }), 'take'],
    [
      'this agent\'s file says off, but the controllers recorded a set for john: it applies → sync_quorum (paul, the sync member, is stopped)',
      snap('ringo', sync(['paul'], 1), { synchronousMode: 'off', members: [replica('paul', '0/3000000', { postgres: 'stopped', in_recovery: null }), replica('ringo', '0/4000000')] }),
      'sync_quorum',
    ],
    ['file off, the recorded set asynchronous (quorum 0) → any candidate', snap('ringo', sync([], 0), { synchronousMode: 'off' }), 'take'],
    [
      'the sync member\'s receiver silent for 2 min (commits waited for it, none acknowledged past it): not refused as stale → take',
      snap('paul', sync(['paul'], 1), {
        members: [replica('paul', '0/3000000', { receiver_streaming_at: '2026-01-01T00:00:00Z', master_seen_at: '2026-01-01T00:02:00Z', master_lsn_seen: '0/3100000' }), replica('ringo', '0/4000000')],
      }),
      'take',
    ],
  ];
  for (const [name, s, expected] of rows) it(name, () => assert.equal(verdictOf(s), expected, judgeElection(s).sentence));

  it('a set the controllers recorded applies whatever this agent\'s file says: the take says synchronous (the winner\'s commits will wait for a standby)', () => {
    const local = judgeElection(snap('paul', sync(['paul'], 1), { synchronousMode: 'off' }));
    assert.equal(local.kind === 'take' && local.synchronous, true, local.sentence);
    const async = judgeElection(snap('ringo', sync([], 0), { synchronousMode: 'off' }));
    assert.equal(async.kind === 'take' && async.synchronous, false, async.sentence);
    const on = judgeElection(snap('ringo', sync([], 0)));
    assert.equal(on.kind === 'take' && on.synchronous, true, 'this agent\'s own synchronous_mode on');
  });

  it('the take names the recorded set', () => {
    const v = judgeElection(snap('paul', sync(['paul'], 1)));
    assert.equal(v.kind, 'take');
    assert.match(v.sentence, /synchronous set paul \(quorum 1\)/);
  });
});
