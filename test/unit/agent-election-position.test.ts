import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judgeElection, type ElectionSnapshot } from '../../src/agent/election/judge.js';
import { parseMemberRecord } from '../../src/agent/election/member-read.js';
import { furthestLsn, publishedMasterPosition, receiverStaleRefusal, timelineRefusal } from '../../src/agent/election/position-rules.js';
import { memberRecord, recordContent, type MemberRecord } from '../../src/agent/member-record.js';
import { PositionWatch } from '../../src/agent/position-watch.js';
import { highestSegmentTimeline } from '../../src/agent/wal-timeline.js';
import type { MasterSeen } from '../../src/agent/master-view.js';
import type { MasterRecord } from '../../src/store/etcd/master-record.js';
import { replicaFacts } from '../fixtures/member-facts.js';
import { candidateSettings, electionSnapshot, masterRecord as johnRecord, memberRead } from './election-snapshot.js';

const masterRecord = (extra: Partial<MasterRecord> = {}): MasterRecord => johnRecord('john', { timeline: 2, written_by: 'agent:john', ...extra });
const recordedJohn = { state: 'present' as const, record: masterRecord() };

const T0 = '2026-01-01T00:00:00.000Z';
const at = (ms: number): string => new Date(Date.parse(T0) + ms).toISOString();

/** A replica on timeline `tl` at `received`; by default streaming until its agent last saw john (same instant), john last at 0/1000000 on timeline 2. */
const replica = (name: string, received: string, tl: number, extra: Partial<MemberRecord> = {}): MemberRecord => ({
  ...memberRecord(name, { state: 'running', writable: false }, { ...replicaFacts(received), timeline: tl }, recordedJohn, null, at(10_000), {
    receiver_streaming_at: at(9_000),
    master_seen_at: at(9_000),
    master_lsn_seen: '0/1000000',
    master_lsn_seen_for: 'john/7',
    master_timeline_seen: 2,
  }),
  ...extra,
});

const settings = candidateSettings;

const snap = (node: string, members: MemberRecord[], over: Partial<ElectionSnapshot> = {}): ElectionSnapshot =>
  electionSnapshot(node, members.map((m) => memberRead(m)), { master: { record: masterRecord(), modRevision: '5' }, ...over });

const verdictOf = (s: ElectionSnapshot): string => {
  const v = judgeElection(s);
  return v.kind === 'take' ? 'take' : v.code;
};

describe('judgeElection: timelines (a WAL position is a place on one history)', () => {
  const controllerRecord = { master: { record: masterRecord({ timeline: null, written_by: 'controller-1' }), modRevision: '5' } };
  // With a controller's record (no timeline), the reference is the master's published timeline (2 in the fixture).
  const rows: [string, ElectionSnapshot, string][] = [
    ['on the recorded master\'s timeline, furthest → take', snap('paul', [replica('paul', '0/3000000', 2), replica('ringo', '0/2000000', 2)]), 'take'],
    ['behind the recorded master\'s timeline, though furthest in LSN → timeline_behind', snap('paul', [replica('paul', '0/9000000', 1), replica('ringo', '0/2000000', 2)]), 'timeline_behind'],
    ['… and the one on the timeline, behind in LSN, takes', snap('ringo', [replica('paul', '0/9000000', 1), replica('ringo', '0/2000000', 2)]), 'take'],
    ['ahead of the recorded master\'s timeline (promoted outside the record) → timeline_forked', snap('paul', [replica('paul', '0/9000000', 3), replica('ringo', '0/2000000', 2)]), 'timeline_forked'],
    ['… and does not block the one on the timeline', snap('ringo', [replica('paul', '0/9000000', 3), replica('ringo', '0/2000000', 2)]), 'take'],
    ['record without a timeline (a controller\'s failover): behind another candidate\'s timeline → timeline_behind', snap('paul', [replica('paul', '0/9000000', 1), replica('ringo', '0/2000000', 2)], controllerRecord), 'timeline_behind'],
    ['record without a timeline: the newer timeline wins though behind in LSN', snap('ringo', [replica('paul', '0/9000000', 1), replica('ringo', '0/2000000', 2)], controllerRecord), 'take'],
    ['no timeline published → timeline_unknown', snap('paul', [replica('paul', '0/3000000', 2, { timeline: null })]), 'timeline_unknown'],
    [
      'record without a timeline and nobody saw the master\'s (no reference) → timeline_unknown, never the LSN alone',
      snap('paul', [replica('paul', '0/5000000', 2, { master_timeline_seen: null, receiver_streaming_at: null, master_seen_at: null })], controllerRecord),
      'timeline_unknown',
    ],
    [
      'record without a timeline: the master published timeline 3, paul (TL2, ahead in LSN, position "at the master\'s last") → timeline_behind',
      snap('paul', [replica('paul', '0/5000000', 2, { master_timeline_seen: 3, master_lsn_seen: '0/4800000', receiver_streaming_at: at(1000), master_seen_at: at(9000) })], controllerRecord),
      'timeline_behind',
    ],
    [
      'record without a timeline: the old master\'s own record (stopped, timeline 3) is the reference → timeline_behind',
      snap('paul', [replica('john', '0/4800000', 3, { role: 'master', in_recovery: false, postgres: 'stopped' }), replica('paul', '0/5000000', 2, { master_timeline_seen: null })], controllerRecord),
      'timeline_behind',
    ],
    [
      'record without a timeline: the reference remembered by this agent (oldMasterTimeline 3) → timeline_behind',
      snap('paul', [replica('paul', '0/5000000', 2, { master_timeline_seen: null })], { ...controllerRecord, oldMasterTimeline: 3 }),
      'timeline_behind',
    ],
    [
      'a bootstrap claim\'s record (`agent:john bootstrap`) never proves a lease → lease_never_seen',
      snap('paul', [replica('paul', '0/3000000', 2)], { leaseSeen: false, master: { record: masterRecord({ written_by: 'agent:john bootstrap' }), modRevision: '5' } }),
      'lease_never_seen',
    ],
    [
      'an election take\'s record (`agent:john`) proves its lease → take',
      snap('paul', [replica('paul', '0/3000000', 2)], { leaseSeen: false }),
      'take',
    ],
    [
      'a member named like an Object.prototype property is not a server (no settings) → paul takes',
      snap('paul', [replica('paul', '0/3000000', 2), replica('constructor', '0/4000000', 2)], { servers: { john: settings, paul: settings } }),
      'take',
    ],
  ];
  for (const [name, s, expected] of rows) it(name, () => assert.equal(verdictOf(s), expected, judgeElection(s).sentence));

  it('exactly one taker when the timelines and LSNs disagree', () => {
    for (const members of [
      [replica('paul', '0/9000000', 1), replica('ringo', '0/2000000', 2)],
      [replica('paul', '0/9000000', 3), replica('ringo', '0/2000000', 2)],
      [replica('paul', '0/2000000', 2), replica('ringo', '0/2000000', 2)],
    ]) {
      const takers = ['paul', 'ringo'].filter((n) => judgeElection(snap(n, members)).kind === 'take');
      assert.equal(takers.length, 1);
    }
  });
});

describe('judgeElection: the age of a position', () => {
  // Allowed silence: ttl 5 s + loop_wait 1 s.
  const stale = (name: string, received: string, silentMs: number, extra: Partial<MemberRecord> = {}): MemberRecord =>
    replica(name, received, 2, { receiver_streaming_at: at(9_000 - silentMs), master_seen_at: at(9_000), master_lsn_seen: '0/3100000', ...extra });
  const rows: [string, ElectionSnapshot, string][] = [
    ['receiver stopped 6 s before the master was last seen: within ttl + loop_wait → take', snap('paul', [stale('paul', '0/3000000', 6000), replica('ringo', '0/2000000', 2)]), 'take'],
    ['stopped 60 s before, short of the master\'s last position → receiver_stale', snap('paul', [stale('paul', '0/3000000', 60_000), replica('ringo', '0/2000000', 2)]), 'receiver_stale'],
    ['… and the streaming one behind it takes', snap('ringo', [stale('paul', '0/3000000', 60_000), replica('ringo', '0/2000000', 2)]), 'take'],
    ['never streamed while the master was seen → receiver_stale', snap('paul', [stale('paul', '0/3000000', 0, { receiver_streaming_at: null })]), 'receiver_stale'],
    [
      'stopped long ago, but at the master\'s last known position (nothing written since) → take',
      snap('paul', [stale('paul', '0/3000000', 60_000, { master_lsn_seen: '0/3000000', master_lsn_seen_for: 'john/7' }), replica('ringo', '0/2000000', 2)]),
      'take',
    ],
    ['an older agent\'s record (no age published) is not judged on it → take', snap('paul', [replica('paul', '0/3000000', 2, { receiver_streaming_at: undefined, master_seen_at: undefined })]), 'take'],
    ['its agent never saw the master answer (restarted since: age unknown), short of the master\'s position → receiver_stale', snap('paul', [stale('paul', '0/3000000', 60_000, { master_seen_at: null })]), 'receiver_stale'],
    ['age unknown but at the master\'s last position on its timeline → take', snap('paul', [stale('paul', '0/3100000', 60_000, { master_seen_at: null, receiver_streaming_at: null })]), 'take'],
    ['at the master\'s last LSN but on another timeline: no exemption → timeline refusal first', snap('paul', [stale('paul', '0/3100000', 60_000, { timeline: 1 })]), 'timeline_behind'],
    [
      'every age fact and the master\'s position unknown → master_position_unknown (the lag limit cannot be checked)',
      snap('paul', [replica('paul', '0/1000000', 2, { receiver_streaming_at: undefined, master_seen_at: undefined, master_lsn_seen: null, master_lsn_seen_for: 'john/7' })]),
      'master_position_unknown',
    ],
  ];
  for (const [name, s, expected] of rows) it(name, () => assert.equal(verdictOf(s), expected, judgeElection(s).sentence));
});

describe('judgeElection: the master\'s last position, as the members publish it', () => {
  const lagged = { master_lsn_seen: '0/9000000', master_lsn_seen_for: 'john/7' };
  const tight = { john: { ...settings, lagLimitMb: 16 }, paul: { ...settings, lagLimitMb: 16 }, ringo: { ...settings, lagLimitMb: 16 } };
  const rows: [string, ElectionSnapshot, string][] = [
    ['another member saw the master at 0/9000000: ringo at 0/2000000 is beyond lag_limit 16 MB → lag_limit', snap('ringo', [replica('ringo', '0/2000000', 2), replica('paul', '0/1000000', 2, { postgres: 'stopped', in_recovery: null, ...lagged })], { servers: tight }), 'lag_limit'],
    ['a position seen under another master record is ignored → take', snap('ringo', [replica('ringo', '0/2000000', 2), replica('paul', '0/1000000', 2, { postgres: 'stopped', in_recovery: null, ...lagged, master_lsn_seen_for: 'john/6' })], { servers: tight }), 'take'],
    ['its own published view counts too → lag_limit', snap('ringo', [replica('ringo', '0/2000000', 2, lagged)], { servers: tight }), 'lag_limit'],
  ];
  for (const [name, s, expected] of rows) it(name, () => assert.equal(verdictOf(s), expected, judgeElection(s).sentence));
});

describe('position rules', () => {
  it('timelineRefusal', () => {
    assert.equal(timelineRefusal(2, 2), null);
    assert.equal(timelineRefusal(2, null)?.code, 'timeline_unknown');
    assert.equal(timelineRefusal(1, 2)?.code, 'timeline_behind');
    assert.equal(timelineRefusal(3, 2)?.code, 'timeline_forked');
    assert.equal(timelineRefusal(null, 2)?.code, 'timeline_unknown');
  });
  it('receiverStaleRefusal names the silence and the allowance', () => {
    const r = receiverStaleRefusal(replica('paul', '0/1000000', 2, { receiver_streaming_at: at(0), master_seen_at: at(10_000) }), 6000, '0/2000000', 2);
    assert.equal(r?.code, 'receiver_stale');
    assert.match(r?.reason ?? '', /10000 ms before .* \(allowed 6000 ms\).*0\/2000000 on timeline 2/);
  });
  it('furthestLsn and publishedMasterPosition', () => {
    assert.equal(furthestLsn(null, '0/10', 'bad', '0/9', undefined), '0/10');
    assert.equal(furthestLsn(null), null);
    const members = [{ record: replica('a', '0/1', 2, { master_lsn_seen: '0/5', master_lsn_seen_for: 'john/7' }) }, { record: replica('b', '0/1', 2, { master_lsn_seen: '0/9', master_lsn_seen_for: 'john/6' }) }, { record: null }];
    assert.equal(publishedMasterPosition(members, 'john/7'), '0/5');
  });
});

describe('highestSegmentTimeline', () => {
  const rows: [string, string[], number | null][] = [
    ['segments of timelines 1 and 3', ['000000010000000000000005', '000000030000000000000006', '000000020000000000000005'], 3],
    ['history, partial, backup and status files ignored', ['00000004.history', '000000040000000000000005.partial', '000000010000000000000003.00000028.backup', 'archive_status', '000000010000000000000005'], 1],
    ['none', ['archive_status'], null],
    ['lower-case or short names are not segments', ['000000090000000000000005'.toLowerCase().replace('9', 'a'), '0000000900000000000005'], null],
  ];
  for (const [name, names, expected] of rows) it(name, () => assert.equal(highestSegmentTimeline(names), expected));
});

describe('PositionWatch', () => {
  const seen = (sees: boolean | null, walPosition: string | null, probeAt: string): MasterSeen => ({
    probe: { master: 'john', answer: { sees, detail: sees ? 'ok' : 'refused' }, at: probeAt },
    record: walPosition === null ? null : { name: 'john', role: 'master', postgres: 'running', wal_position: walPosition, observed_at: probeAt, sees_master: null, sees_master_detail: null, probed_at: null, master_probed: null, timeline: 2 },
  });
  const streaming = { ...replicaFacts('0/1000000'), wal_receiver: 'streaming' };
  it('keeps the last streaming time, the last time the master answered, and its furthest position per master record', () => {
    const w = new PositionWatch();
    const john = (seenAt: string, lsn: string) => ({ master_seen_at: seenAt, master_lsn_seen: lsn, master_lsn_seen_for: 'john/7', master_timeline_seen: 2 });
    assert.deepEqual(w.note(streaming, recordedJohn, seen(true, '0/2000000', at(1)), at(2)), { receiver_streaming_at: at(2), ...john(at(1), '0/2000000') });
    // The receiver stops; the master still answers and moves on.
    assert.deepEqual(w.note({ ...streaming, wal_receiver: null }, recordedJohn, seen(true, '0/3000000', at(3)), at(4)), { receiver_streaming_at: at(2), ...john(at(3), '0/3000000') });
    // The master is gone: its last answer and position stay.
    assert.deepEqual(w.note({ ...streaming, wal_receiver: null }, recordedJohn, seen(false, null, at(5)), at(6)), { receiver_streaming_at: at(2), ...john(at(3), '0/3000000') });
    // The master key unreadable for a round (an etcd hiccup): nothing forgotten.
    assert.deepEqual(w.note({ ...streaming, wal_receiver: null }, { state: 'unreadable', reason: 'etcd' }, { probe: null, record: null }, at(6)), { receiver_streaming_at: at(2), ...john(at(3), '0/3000000') });
    assert.deepEqual(w.note({ ...streaming, wal_receiver: null }, recordedJohn, seen(false, null, at(7)), at(7)), { receiver_streaming_at: at(2), ...john(at(3), '0/3000000') });
    // Another master record: what was seen of john's says nothing of it.
    const paul = { state: 'present' as const, record: masterRecord({ name: 'paul', term: '9' }) };
    assert.deepEqual(w.note(streaming, paul, { probe: null, record: null }, at(8)), { receiver_streaming_at: at(8), master_seen_at: null, master_lsn_seen: null, master_lsn_seen_for: null, master_timeline_seen: null });
  });
  it('the times do not count as a change of the record (published with its renewals)', () => {
    const a = replica('paul', '0/1', 2);
    assert.equal(recordContent(a), recordContent({ ...a, receiver_streaming_at: at(99), master_seen_at: at(99) }));
    assert.notEqual(recordContent(a), recordContent({ ...a, master_lsn_seen: '0/5' }));
  });
});

describe('parseMemberRecord with the age facts', () => {
  it('accepts them well typed or absent, refuses them malformed', () => {
    const r = replica('paul', '0/3000000', 2);
    assert.notEqual(parseMemberRecord('paul', JSON.stringify(r)), null);
    const { receiver_streaming_at: _a, master_seen_at: _b, master_lsn_seen: _c, master_lsn_seen_for: _d, ...old } = r;
    assert.notEqual(parseMemberRecord('paul', JSON.stringify(old)), null);
    assert.equal(parseMemberRecord('paul', JSON.stringify({ ...r, receiver_streaming_at: 'yesterday' })), null);
    assert.equal(parseMemberRecord('paul', JSON.stringify({ ...r, master_lsn_seen: 'far' })), null);
    assert.equal(parseMemberRecord('paul', JSON.stringify({ ...r, master_lsn_seen_for: 7 })), null);
  });
});
