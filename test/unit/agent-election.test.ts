import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judgeElection, type ElectionSnapshot } from '../../src/agent/election/judge.js';
import { decideFollow } from '../../src/agent/election/follow.js';
import { rejoinAfterFence } from '../../src/agent/election/rejoin.js';
import type { MasterKeyView } from '../../src/agent/decide.js';
import { parseMemberRecord } from '../../src/agent/election/member-read.js';
import { takeRefusal, type StoreSnapshot } from '../../src/agent/election/election-store.js';
import { memberRecord, type MemberRecord } from '../../src/agent/member-record.js';
import { replicaFacts } from '../fixtures/member-facts.js';
import { candidateSettings, electionSnapshot, masterRecord, memberRead } from './election-snapshot.js';

const recordedJohn = { state: 'present' as const, record: masterRecord('john') };
const replica = (name: string, received: string | null, extra: Partial<MemberRecord> = {}): MemberRecord => ({
  ...memberRecord(name, { state: 'running', writable: false }, replicaFacts(received ?? '0/0'), recordedJohn, null, '2026-01-01T00:00:00Z'),
  ...(received === null ? { wal_position: null, received_lsn: null, replayed_lsn: null } : {}),
  ...extra,
});

const member = memberRead;
const settings = candidateSettings;

/** john was master (lease expired); paul and ringo are replicas; the agent judging is `node`. */
const snap = (node: string, over: Partial<ElectionSnapshot> = {}): ElectionSnapshot =>
  electionSnapshot(node, [member(replica('paul', '0/3000000'), 'paul', '11'), member(replica('ringo', '0/2000000'), 'ringo', '12')], { oldMasterPosition: '0/1000000', ...over });

describe('judgeElection (design §9 rule 6)', () => {
  const rows: [string, ElectionSnapshot, string][] = [
    ['the furthest-ahead replica takes', snap('paul'), 'take'],
    ['a replica behind another → not_best', snap('ringo'), 'not_best'],
    ['deployment single → never', snap('paul', { deployment: 'single' }), 'deployment_single'],
    ['deployment ha, a controller holds leader → controller_leads', snap('paul', { deployment: 'ha', leaderPresent: true }), 'controller_leads'],
    ['deployment ha, leader absent for less than ttl → controller_leads', snap('paul', { deployment: 'ha', leaderAbsentForMs: 4999 }), 'controller_leads'],
    ['deployment ha, leader absent for ttl → take', snap('paul', { deployment: 'ha', leaderAbsentForMs: 5000 }), 'take'],
    ['no master recorded → no_master_record', snap('paul', { master: { record: null, modRevision: '0' } }), 'no_master_record'],
    ['this node is the recorded master → master_is_us', snap('john'), 'master_is_us'],
    ['the old master\'s lease alive → master_lease_held', snap('paul', { leasesHeld: ['john'] }), 'master_lease_held'],
    ['the old master\'s lease never seen held → lease_never_seen', snap('paul', { leaseSeen: false }), 'lease_never_seen'],
    [
      'never seen, but the record was written by an agent\'s take (it came with its lease key) → take',
      snap('paul', { leaseSeen: false, master: { record: masterRecord('john', { written_by: 'agent:john', timeline: null }), modRevision: '5' }, oldMasterTimeline: 1 }),
      'take',
    ],
    ['any other lease alive → master_lease_held', snap('paul', { leasesHeld: ['ringo'] }), 'master_lease_held'],
    ['key gone but the lease seen held still lives (deleted by hand) → lease_key_deleted', snap('paul', { leaseEnd: { ended: false, how: 'seen_lease', why: 'lease 7 still lives' } }), 'lease_key_deleted'],
    ['key gone, the history shows its lease alive → lease_key_deleted', snap('paul', { leaseSeen: false, leaseEnd: { ended: false, how: 'history', why: 'lease 7 still lives' } }), 'lease_key_deleted'],
    ['key gone, seen held, its lease\'s end not asked → lease_end_unproven', snap('paul', { leaseEnd: null }), 'lease_end_unproven'],
    ['key gone, seen held, its time to live unreadable → lease_end_unproven', snap('paul', { leaseEnd: { ended: null, how: 'seen_lease', why: 'etcd did not answer' } }), 'lease_end_unproven'],
    [
      'record written by an agent\'s take, key gone, lease end not proven → lease_end_unproven',
      snap('paul', { leaseSeen: false, leaseEnd: { ended: null, how: 'history', why: 'compacted' }, master: { record: masterRecord('john', { written_by: 'agent:john', timeline: null }), modRevision: '5' }, oldMasterTimeline: 1 }),
      'lease_end_unproven',
    ],
    ['never seen here, but etcd\'s history proves it held then ended → take', snap('paul', { leaseSeen: false, leaseEnd: { ended: true, how: 'history', why: 'held under lease 7, deleted at 18' } }), 'take'],
    ['never seen here, the history proves nothing → lease_never_seen', snap('paul', { leaseSeen: false, leaseEnd: { ended: null, how: 'history', why: 'never existed' } }), 'lease_never_seen'],
    ['never seen here (restarted), history compacted, the current leases prove no lease of the master lives, deployment agents → take', snap('paul', { leaseSeen: false, leaseEnd: { ended: true, how: 'current_leases', why: 'no keyless lease' } }), 'take'],
    ['the same in deployment ha (a master may run without an agent) → lease_never_seen', snap('paul', { deployment: 'ha', leaderAbsentForMs: 9999, leaseSeen: false, leaseEnd: { ended: true, how: 'current_leases', why: 'no keyless lease' } }), 'lease_never_seen'],
    ['never seen here, history compacted, a live lease carries the key again → lease_key_deleted', snap('paul', { leaseSeen: false, leaseEnd: { ended: false, how: 'current_leases', why: 'lease 9 carries it' } }), 'lease_key_deleted'],
    ['seen here, the current leases prove no lease of the master lives → take (also in ha)', snap('paul', { deployment: 'ha', leaderAbsentForMs: 9999, leaseEnd: { ended: true, how: 'seen_lease', why: 'lease 7 has ended; compacted; no keyless lease' } }), 'take'],
    [
      'another member runs writable → another_writable',
      snap('paul', { members: [member(replica('paul', '0/3000000')), member(replica('ringo', '0/2000000', { in_recovery: false, role: 'master' }))] }),
      'another_writable',
    ],
    [
      'the old master\'s own record (lease expired) does not block',
      snap('paul', { members: [member(replica('john', '0/3000000', { in_recovery: false, role: 'master' })), member(replica('paul', '0/3000000')), member(replica('ringo', '0/2000000'))] }),
      'take',
    ],
    ['not under servers → not_in_servers', snap('george', { members: [member(replica('george', '0/9000000'))] }), 'not_in_servers'],
    ['own record missing → no_fresh_record', snap('paul', { members: [member(replica('ringo', '0/2000000'))] }), 'no_fresh_record'],
    ['own record unparsable → no_fresh_record', snap('paul', { members: [member(null, 'paul'), member(replica('ringo', '0/2000000'))] }), 'no_fresh_record'],
    ['own PostgreSQL stopped → no_fresh_record', snap('paul', { members: [member(replica('paul', null, { postgres: 'stopped', in_recovery: null })), member(replica('ringo', '0/2000000'))] }), 'no_fresh_record'],
    ['own record without a WAL position → no_fresh_record', snap('paul', { members: [member(replica('paul', null))] }), 'no_fresh_record'],
    [
      'a stale member (PostgreSQL unresponsive) further ahead does not block the best fresh one',
      snap('ringo', { members: [member(replica('paul', '0/3000000', { postgres: 'unresponsive', in_recovery: null })), member(replica('ringo', '0/2000000'))] }),
      'take',
    ],
    ['failover_priority 0 → priority_zero', snap('paul', { servers: { john: settings, paul: { ...settings, failoverPriority: 0 }, ringo: settings } }), 'priority_zero'],
    ['nofailover → nofailover', snap('paul', { servers: { john: settings, paul: { ...settings, nofailover: true }, ringo: settings } }), 'nofailover'],
    [
      'a priority-0 replica further ahead does not block the best eligible one',
      snap('ringo', { servers: { john: settings, paul: { ...settings, failoverPriority: 0 }, ringo: settings } }),
      'take',
    ],
    [
      'beyond its lag limit against the old master\'s last position → lag_limit',
      snap('ringo', {
        members: [member(replica('john', '0/9000000', { in_recovery: false, role: 'master' })), member(replica('ringo', '0/2000000'))],
        servers: { john: settings, paul: settings, ringo: { ...settings, lagLimitMb: 16 } },
      }),
      'lag_limit',
    ],
    [
      'the old master\'s record gone, its last position remembered → lag_limit still applies',
      snap('ringo', { members: [member(replica('ringo', '0/2000000'))], oldMasterPosition: '0/9000000', servers: { john: settings, paul: settings, ringo: { ...settings, lagLimitMb: 16 } } }),
      'lag_limit',
    ],
    [
      'received below replayed (just restarted): ranked on the replayed position',
      snap('ringo', { members: [member(replica('paul', '0/3000000')), member(replica('ringo', '0/1000000', { replayed_lsn: '0/4000000' }))] }),
      'take',
    ],
    ['beyond max_replay_lag → replay_lag', snap('paul', { members: [member(replica('paul', '0/9000000', { replayed_lsn: '0/1000000' }))], maxReplayLagMb: 16 }), 'replay_lag'],
    ['deployment agents, synchronous_mode on, the recorded set not read yet → sync_unread (the master\'s agent keeps it there)', snap('paul', { synchronousMode: 'on' }), 'sync_unread'],
    ['deployment ha, synchronous_mode strict, the recorded set not read yet → sync_unread', snap('paul', { synchronousMode: 'strict', deployment: 'ha', leaderAbsentForMs: 9999 }), 'sync_unread'],
    ['synchronous_mode off, a sync set recorded → ignored', snap('paul', { master: { record: masterRecord('john', { sync_set: ['ringo'] }), modRevision: '5' } }), 'take'],
  ];
  for (const [name, s, expected] of rows) {
    it(name, () => {
      const verdict = judgeElection(s);
      assert.equal(verdict.kind === 'take' ? 'take' : verdict.code, expected, verdict.sentence);
      assert.ok(verdict.sentence.length > 0);
    });
  }

  it('ties on WAL position: the lower failover_priority wins, then the name', () => {
    const tied = [member(replica('paul', '0/3000000')), member(replica('ringo', '0/3000000'))];
    assert.equal(judgeElection(snap('paul', { members: tied })).kind, 'take', 'same priority: paul < ringo by name');
    assert.equal(judgeElection(snap('ringo', { members: tied })).kind, 'refuse');
    const ringoPreferred = { john: settings, paul: settings, ringo: { ...settings, failoverPriority: 1 } };
    assert.equal(judgeElection(snap('ringo', { members: tied, servers: ringoPreferred })).kind, 'take', 'priority before name');
    assert.equal(judgeElection(snap('paul', { members: tied, servers: ringoPreferred })).kind, 'refuse');
  });

  it('WAL position before priority: a preferred replica behind loses', () => {
    const ringoPreferred = { john: settings, paul: settings, ringo: { ...settings, failoverPriority: 1 } };
    assert.equal(judgeElection(snap('paul', { servers: ringoPreferred })).kind, 'take');
  });

  it('exactly one of any set of judges takes, on the same snapshot', () => {
    for (const members of [
      [member(replica('paul', '0/3000000')), member(replica('ringo', '0/3000000'))],
      [member(replica('paul', '0/1000000')), member(replica('ringo', '0/3000000'))],
      [member(replica('paul', '0/3000000')), member(replica('ringo', null, { postgres: 'crashed', in_recovery: null }))],
    ]) {
      const takers = ['paul', 'ringo'].filter((n) => judgeElection(snap(n, { members })).kind === 'take');
      assert.equal(takers.length, 1, JSON.stringify(members.map((m) => m.record?.received_lsn)));
    }
  });

  it('the take lists every member record read, with its mod revision (the transaction compares them)', () => {
    const verdict = judgeElection(snap('paul'));
    assert.equal(verdict.kind, 'take');
    if (verdict.kind !== 'take') return;
    assert.deepEqual(verdict.judged, [
      { name: 'paul', modRevision: '11' },
      { name: 'ringo', modRevision: '12' },
    ]);
    assert.equal(verdict.from, 'john');
    assert.deepEqual(verdict.order, ['paul', 'ringo']);
  });
});

describe('decideFollow', () => {
  const won = masterRecord('paul', { written_by: 'agent:paul', timeline: 2 });
  const rows: [string, Parameters<typeof decideFollow>, string][] = [
    ['an agents\' election confirmed → a replica of the old master remasters', ['ringo', won, true, 'john'], 'remaster'],
    ['not yet confirmed (timeline null) → waits', ['ringo', { ...won, timeline: null }, true, 'john'], 'none'],
    ['written by a controller → the controller remasters, not the agent', ['ringo', { ...won, written_by: 'controller-1' }, true, 'john'], 'none'],
    ['already following it → nothing', ['ringo', won, true, 'paul'], 'none'],
    ['the winner itself → nothing', ['paul', won, true, 'john'], 'none'],
    ['PostgreSQL not running as a replica → nothing (role discovery starts it)', ['ringo', won, false, 'john'], 'none'],
    ['first sight (nothing known yet) → adopted as it is', ['ringo', won, true, null], 'none'],
  ];
  for (const [name, args, expected] of rows) it(name, () => assert.equal(decideFollow(...args).kind, expected));
});

describe('parseMemberRecord', () => {
  it('accepts what member-record.ts writes, refuses the rest', () => {
    assert.notEqual(parseMemberRecord('paul', JSON.stringify(replica('paul', '0/3000000'))), null);
    assert.equal(parseMemberRecord('paul', JSON.stringify(replica('ringo', '0/3000000'))), null, 'name must match the key');
    assert.equal(parseMemberRecord('paul', JSON.stringify(replica('paul', 'garbage'))), null);
    assert.equal(parseMemberRecord('paul', JSON.stringify({ ...replica('paul', '0/1'), postgres: 'flying' })), null);
    assert.equal(parseMemberRecord('paul', JSON.stringify({ ...replica('paul', '0/1'), in_recovery: 'yes' })), null);
    assert.equal(parseMemberRecord('paul', 'not json'), null);
    assert.equal(parseMemberRecord('paul', '[]'), null);
  });
});

describe('takeRefusal', () => {
  const base: StoreSnapshot = { revision: '20', master: { record: masterRecord('john'), modRevision: '5', raw: null }, leasesHeld: [], members: [member(replica('paul', '0/3'), 'paul', '11')], leaderPresent: false };
  const req = { snapshot: base, judged: [{ name: 'paul', modRevision: '11' }], leaderMustBeAbsent: true };
  it('names what changed', () => {
    assert.match(takeRefusal(req, { ...base, master: { record: masterRecord('ringo'), modRevision: '21', raw: null } }), /master key changed \(now names ringo\)/);
    assert.match(takeRefusal(req, { ...base, leasesHeld: ['ringo'] }), /master_lease of ringo exists/);
    assert.match(takeRefusal(req, { ...base, members: [member(replica('paul', '0/4'), 'paul', '22')] }), /member record of paul changed/);
    assert.match(takeRefusal(req, { ...base, members: [] }), /member record of paul is gone/);
    assert.match(takeRefusal(req, { ...base, leaderPresent: true }), /a controller took leader/);
    assert.match(takeRefusal(req, base), /raced/);
  });
});

describe('rejoinAfterFence', () => {
  const names = (name: string): MasterKeyView => ({ state: 'present', record: masterRecord(name) });
  const rows: [string, Parameters<typeof rejoinAfterFence>, boolean][] = [
    ['agents, another node recorded, PostgreSQL stopped → rejoin as its standby', ['agents', 'john', names('paul'), false], true],
    ['ha → no: the controller rejoins (two actors must never rewind one node)', ['ha', 'john', names('paul'), false], false],
    ['single → no', ['single', 'john', names('paul'), false], false],
    ['this node recorded again → no (never as master after a fence)', ['agents', 'john', names('john'), false], false],
    ['key unreadable → wait', ['agents', 'john', { state: 'unreadable', reason: 'etcd unreachable' }, false], false],
    ['no key → wait', ['agents', 'john', { state: 'absent' }, false], false],
    ['PostgreSQL still running → wait', ['agents', 'john', names('paul'), true], false],
  ];
  for (const [name, args, expected] of rows) it(name, () => assert.equal(rejoinAfterFence(...args), expected));
});
