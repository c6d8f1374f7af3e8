/**
 * /replica?lag= without etcd (review F7, design §9 rule 5): a replica that still streams answers
 * from what the WAL sender last reported; the master's fresh record counts when there is one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { masterLag, nextMasterIdentity, type MasterIdentity } from '../../src/agent/master-lag.js';
import type { MasterKeyView } from '../../src/agent/decide.js';
import { healthReply, type HealthFacts } from '../../src/agent/health.js';
import type { SqlFacts } from '../../src/agent/local-postgres.js';
import type { MemberView } from '../../src/store/etcd/member-view.js';

const NOW = Date.parse('2026-12-04T12:00:10Z');
const TTL_MS = 5000;
const streaming = (at: string, senderEnd: string | null): SqlFacts => ({
  in_recovery: true,
  timeline: 1,
  wal_position: at,
  received_lsn: at,
  replayed_lsn: at,
  wal_receiver: senderEnd === null ? null : 'streaming',
  sender_host: senderEnd === null ? null : '127.0.0.11',
  sender_end_lsn: senderEnd,
  sender_msg_age_s: senderEnd === null ? null : 1,
  replay_lag_bytes: 0,
  server_version: '15.8',
});
const record = (position: string, observedAt: string): MemberView => ({ name: 'john', role: 'master', postgres: 'running', wal_position: position, observed_at: observedAt, sees_master: null, sees_master_detail: null, probed_at: null, master_probed: null });
const JOHN: MasterIdentity = { name: 'john', host: '127.0.0.11', timeline: 1 };
const fresh = '2026-12-04T12:00:09Z';
const stale = '2026-12-04T12:00:00Z'; // 2·ttl old

describe('lag behind the master: sources', () => {
  const rows: ReadonlyArray<[string, SqlFacts, MemberView | null, { bytes: number; source: string } | null]> = [
    ['etcd down (no record), streaming, sender 1 MB ahead → from the WAL receiver', streaming('0/2000000', '0/2100000'), null, { bytes: 0x100000, source: 'wal_receiver' }],
    ['master record 2·ttl old, streaming → from the WAL receiver (was: none → 503)', streaming('0/2000000', '0/2000000'), record('0/3000000', stale), { bytes: 0, source: 'wal_receiver' }],
    ['master record stale, not streaming → unknown', streaming('0/2000000', null), record('0/3000000', stale), null],
    ['no record, not streaming → unknown', streaming('0/2000000', null), null, null],
    ['fresh record further than the sender\'s report → the record', streaming('0/2000000', '0/2000000'), record('0/3000000', fresh), { bytes: 0x1000000, source: 'member_record' }],
    ['sender\'s report further than a fresh record → the report (both are lower bounds)', streaming('0/2000000', '0/4000000'), record('0/3000000', fresh), { bytes: 0x2000000, source: 'wal_receiver' }],
    ['fresh record, not streaming (as before)', streaming('0/2000000', null), record('0/3000000', fresh), { bytes: 0x1000000, source: 'member_record' }],
  ];
  for (const [label, self, rec, expected] of rows) {
    it(label, () => assert.deepEqual(masterLag(self, rec, NOW, TTL_MS, JOHN), expected));
  }
});

describe('the WAL receiver\'s report counts only from the master, heard lately (review X3)', () => {
  const self = streaming('0/2000000', '0/2100000');
  const rows: ReadonlyArray<[string, SqlFacts, MasterIdentity | null, boolean]> = [
    ['heard 1 s ago, from the master\'s host, on its timeline → counts', self, JOHN, true],
    ['last heard 30 s ago (cut off, still "streaming" until wal_receiver_timeout) → not', { ...self, sender_msg_age_s: 30 }, JOHN, false],
    ['age unknown → not', { ...self, sender_msg_age_s: null }, JOHN, false],
    ['sender is another host (a cascading upstream, or a deposed master) → not', { ...self, sender_host: '127.0.0.13' }, JOHN, false],
    ['this replica on another timeline than the master\'s → not', { ...self, timeline: 2 }, JOHN, false],
    ['the master\'s timeline unknown → not', self, { ...JOHN, timeline: null }, false],
    ['no known master → not', self, null, false],
  ];
  for (const [label, facts, identity, counts] of rows) {
    it(label, () => assert.equal(masterLag(facts, null, NOW, TTL_MS, identity)?.source === 'wal_receiver', counts));
  }
  it('a frozen receiver with a stale record gives no lag at all (was 200 at lag 0)', () => {
    assert.equal(masterLag({ ...streaming('0/2000000', '0/2000000'), sender_msg_age_s: 45 }, null, NOW, TTL_MS, JOHN), null);
  });
});

describe('the master a report must come from', () => {
  const hostOf = (name: string): string | null => ({ john: '127.0.0.11', paul: '127.0.0.12' })[name] ?? null;
  const key = (name: string, timeline: number | null): MasterKeyView => ({ state: 'present', record: { name, term: '1', timeline, promoted_lsn: null, sync_set: [], since: 'x', written_by: 't' } });
  it('the key\'s timeline, else the master\'s member record\'s, else the one known for that master', () => {
    assert.deepEqual(nextMasterIdentity(null, key('john', 3), null, hostOf), { name: 'john', host: '127.0.0.11', timeline: 3 });
    assert.deepEqual(nextMasterIdentity(null, key('john', null), { ...record('0/1', fresh), timeline: 2 }, hostOf), { name: 'john', host: '127.0.0.11', timeline: 2 });
    assert.deepEqual(nextMasterIdentity(JOHN, key('john', null), null, hostOf), JOHN);
    assert.equal(nextMasterIdentity(JOHN, key('paul', null), null, hostOf)?.timeline, null, 'another master: nothing carried over');
  });
  it('etcd unreadable → the last known master; no master recorded → none', () => {
    assert.deepEqual(nextMasterIdentity(JOHN, { state: 'unreadable', reason: 'x' }, null, hostOf), JOHN);
    assert.equal(nextMasterIdentity(JOHN, { state: 'absent' }, null, hostOf), null);
  });
});

describe('/replica?lag= with etcd down', () => {
  const facts = (self: SqlFacts, rec: MemberView | null): HealthFacts => {
    const lag = masterLag(self, rec, NOW, TTL_MS, JOHN);
    return { node: 'paul', running: true, writable: false, primaryConfirmed: false, lagBytes: 0, masterLagBytes: lag?.bytes ?? null, masterLagSource: lag?.source ?? null, timeline: 1, recordedMaster: null, lastReason: null, roundsTotal: 1, demotionsTotal: 0, leaseRenewedAtMs: null };
  };
  it('streaming within the limit → 200, the body names the source', () => {
    const reply = healthReply('/replica?lag=16MB', facts(streaming('0/2000000', '0/2000100'), null));
    assert.equal(reply.status, 200);
    assert.equal(JSON.parse(reply.body).master_lag_source, 'wal_receiver');
  });
  it('streaming beyond the limit → 503', () => {
    assert.equal(healthReply('/replica?lag=1kB', facts(streaming('0/2000000', '0/2100000'), null)).status, 503);
  });
  it('not streaming, no record → 503 (the distance cannot be shown)', () => {
    assert.equal(healthReply('/replica?lag=16MB', facts(streaming('0/2000000', null), null)).status, 503);
  });
});
