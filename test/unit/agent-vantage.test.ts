/**
 * The agents' own probes as vantage points of the controller's judgement (engine/agent-vantage.ts),
 * row by row, and through judgeMasterFailure: what an agent answer changes, that old, absent or
 * other-master answers change nothing, and that freshness is judged by etcd revisions, never by
 * clocks (review F3).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { combineAgentReads, withAgentVantage, type AgentRecordsRead, type AgentVantageRecord } from '../../src/engine/agent-vantage.js';
import { judgeMasterFailure, type ProbeResult, type VantageReport } from '../../src/engine/master-failure.js';
import { memberRecord, recordContent } from '../../src/agent/member-record.js';
import { parseMemberView } from '../../src/store/etcd/member-view.js';
import type { MasterKeyView } from '../../src/agent/decide.js';

/** The store's revision of the controller's first read of the records (after the master's first failed check). */
const ONSET = '100';
const report = (replica: string, probe: ProbeResult): VantageReport => ({ replica, probe, probeDetail: probe === 'unknown' ? 'cannot run pg_isready (no ssh)' : probe, walReceiver: null });
const agent = (name: string, sees: boolean | null, over: Partial<AgentVantageRecord> = {}): AgentVantageRecord => ({
  name,
  master_probed: 'john',
  sees_master: sees,
  sees_master_detail: sees === null ? null : sees ? 'answers SELECT 1' : 'no answer within the timeout',
  probe_revision: '105',
  ...over,
});
const read = (records: AgentVantageRecord[], revision: string | null = ONSET): AgentRecordsRead => ({ records, revision });

describe('agent records as vantage points', () => {
  const rows: ReadonlyArray<[string, ProbeResult, AgentVantageRecord | null, ProbeResult]> = [
    ['controller probe unknown, agent sees → sees', 'unknown', agent('paul', true), 'sees'],
    ['controller probe unknown, agent does not see (probe after the onset) → does not see', 'unknown', agent('paul', false), 'no_answer'],
    ['controller probe no answer, agent sees → sees (one seeing vantage is enough)', 'no_answer', agent('paul', true), 'sees'],
    ['controller probe sees, agent does not see → sees', 'sees', agent('paul', false), 'sees'],
    ['controller probe no answer, agent does not see → does not see', 'no_answer', agent('paul', false), 'no_answer'],
    ['"does not see" from a probe at the onset revision (maybe before the failure) → ignored', 'unknown', agent('paul', false, { probe_revision: ONSET }), 'unknown'],
    ['"does not see" from a probe before the onset → ignored', 'unknown', agent('paul', false, { probe_revision: '42' }), 'unknown'],
    ['"does not see" without probe_revision (an older agent) → ignored', 'unknown', agent('paul', false, { probe_revision: null }), 'unknown'],
    ['"does not see" with a malformed probe_revision → ignored', 'unknown', agent('paul', false, { probe_revision: '1e9' }), 'unknown'],
    ['"sees" from a probe before the onset → still sees (its record is lease-bound: the agent\'s latest answer)', 'unknown', agent('paul', true, { probe_revision: '42' }), 'sees'],
    ['agent probed another master → ignored', 'unknown', agent('paul', false, { master_probed: 'george' }), 'unknown'],
    ['agent did not probe (sees_master null) → ignored', 'unknown', agent('paul', null), 'unknown'],
    ['another replica\'s record → ignored', 'unknown', agent('ringo', false), 'unknown'],
    ['no record → the controller probe stands', 'no_answer', null, 'no_answer'],
  ];
  for (const [label, probe, record, expected] of rows) {
    it(label, () => {
      const [merged] = withAgentVantage([report('paul', probe)], record === null ? [] : [record], 'john', ONSET);
      assert.equal(merged?.probe, expected);
    });
  }

  it('no onset (etcd unreadable at the first failure, or no first read): a "does not see" never counts', () => {
    const [merged] = withAgentVantage([report('paul', 'unknown')], [agent('paul', false, { probe_revision: '999' })], 'john', null);
    assert.equal(merged?.probe, 'unknown');
  });

  it('two records for one node (a stale or forged one among them): any that sees wins, whatever the order', () => {
    for (const records of [[agent('paul', false), agent('paul', true)], [agent('paul', true), agent('paul', false)]]) {
      const [merged] = withAgentVantage([report('paul', 'unknown')], records, 'john', ONSET);
      assert.equal(merged?.probe, 'sees');
    }
  });

  it('the detail names the agent', () => {
    const [merged] = withAgentVantage([report('paul', 'unknown')], [agent('paul', false)], 'john', ONSET);
    assert.match(merged?.probeDetail ?? '', /^agent: no answer within the timeout \(the controller's probe: cannot run pg_isready/);
  });

  it('no ssh to the replicas (agents only): their new records make the majority; one agent seeing the master holds the failover', () => {
    const reports = [report('paul', 'unknown'), report('george', 'unknown')];
    const allOut = withAgentVantage(reports, [agent('paul', false), agent('george', false)], 'john', ONSET);
    assert.equal(judgeMasterFailure(false, allOut, 5).failed, true);
    const oneSees = withAgentVantage(reports, [agent('paul', false), agent('george', true)], 'john', ONSET);
    const verdict = judgeMasterFailure(false, oneSees, 5);
    assert.equal(verdict.failed, false);
    assert.equal(verdict.reason_code, 'vantage_sees_master');
    const oneOld = withAgentVantage(reports, [agent('paul', false), agent('george', false, { probe_revision: '99' })], 'john', ONSET);
    assert.equal(judgeMasterFailure(false, oneOld, 5).reason_code, 'vantage_no_majority');
  });
});

describe('agent records read twice: when the master first failed (the onset), and at the decision', () => {
  const reports = [report('paul', 'unknown'), report('george', 'unknown')];
  const rows: ReadonlyArray<[string, AgentRecordsRead, AgentRecordsRead, boolean]> = [
    ['both did not see at first, both see at the decision → no failover', read([agent('paul', false), agent('george', false)]), read([agent('paul', true), agent('george', true)], '110'), false],
    ['both saw at first, do not see at the decision → no failover (a sighting during the episode holds)', read([agent('paul', true), agent('george', true)]), read([agent('paul', false), agent('george', false)], '110'), false],
    ['did not see at first, records gone at the decision → no "does not see" from old news', read([agent('paul', false), agent('george', false)]), read([], '110'), false],
    ['do not see in probes after the onset → failed', read([agent('paul', false, { probe_revision: '90' }), agent('george', false, { probe_revision: '90' })]), read([agent('paul', false), agent('george', false)], '110'), true],
    ['records unchanged since before the onset (same probes) → not failed', read([agent('paul', false, { probe_revision: '90' }), agent('george', false, { probe_revision: '90' })]), read([agent('paul', false, { probe_revision: '90' }), agent('george', false, { probe_revision: '90' })], '110'), false],
    ['the first read failed (no onset) → not failed on the agents\' word', read([], null), read([agent('paul', false), agent('george', false)], '110'), false],
  ];
  for (const [label, early, late, failed] of rows) {
    it(label, () => assert.equal(judgeMasterFailure(false, combineAgentReads(reports, early, late, 'john'), 5).failed, failed));
  }
});

describe('the agent\'s side: a record says when its probe started, in etcd revisions', () => {
  const facts = { in_recovery: true, timeline: 1, wal_position: '0/1', received_lsn: '0/1', replayed_lsn: '0/1', wal_receiver: 'streaming', sender_host: 'h', replay_lag_bytes: 0, server_version: '15' };
  const master: MasterKeyView = { state: 'present', record: { name: 'john', term: '1', timeline: null, promoted_lsn: null, sync_set: [], since: 'x', written_by: 't' } };
  const probe = (sees: boolean, afterRevision: string, at: string) => ({ master: 'john', answer: { sees, detail: sees ? 'answers SELECT 1' : 'connection refused' }, at, afterRevision });
  it('probe answered at t, published at t+8 s: probed_at is t, probe_revision the read before the probe', () => {
    const record = memberRecord('paul', { state: 'running', writable: false }, facts, master, probe(false, '77', '2026-12-04T12:00:00Z'), '2026-12-04T12:00:08Z');
    assert.equal(record.probed_at, '2026-12-04T12:00:00Z');
    assert.equal(record.probe_revision, '77');
    assert.equal(parseMemberView(JSON.stringify(record))?.probe_revision, '77');
  });
  it('a newer "does not see" is a change (written, so a controller can get news); a newer "sees" is not', () => {
    const at = '2026-12-04T12:00:00Z';
    const rec = (sees: boolean, revision: string): string => recordContent(memberRecord('paul', { state: 'running', writable: false }, facts, master, probe(sees, revision, at), at));
    assert.notEqual(rec(false, '77'), rec(false, '78'));
    assert.equal(rec(true, '77'), rec(true, '78'));
  });
});
