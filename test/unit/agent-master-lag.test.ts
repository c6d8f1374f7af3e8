/**
 * /replica?lag= without etcd (review F7, design §9 rule 5): a replica that still streams answers
 * from what the WAL sender last reported; the master's fresh record counts when there is one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { masterLag } from '../../src/agent/master-lag.js';
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
  replay_lag_bytes: 0,
  server_version: '15.8',
});
const record = (position: string, observedAt: string): MemberView => ({ name: 'john', role: 'master', postgres: 'running', wal_position: position, observed_at: observedAt, sees_master: null, sees_master_detail: null, probed_at: null, master_probed: null });
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
    it(label, () => assert.deepEqual(masterLag(self, rec, NOW, TTL_MS), expected));
  }
});

describe('/replica?lag= with etcd down', () => {
  const facts = (self: SqlFacts, rec: MemberView | null): HealthFacts => {
    const lag = masterLag(self, rec, NOW, TTL_MS);
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
