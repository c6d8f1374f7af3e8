/**
 * The agents' own probes as vantage points of the controller's judgement (engine/agent-vantage.ts),
 * row by row, and through judgeMasterFailure: what a fresh agent answer changes, and that stale,
 * absent or other-master answers change nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { combineAgentReads, withAgentVantage, type AgentVantageRecord } from '../../src/engine/agent-vantage.js';
import { judgeMasterFailure, type ProbeResult, type VantageReport } from '../../src/engine/master-failure.js';

const NOW = Date.parse('2026-12-04T12:00:10Z');
const FRESH_MS = 5000;
const report = (replica: string, probe: ProbeResult): VantageReport => ({ replica, probe, probeDetail: probe === 'unknown' ? 'cannot run pg_isready (no ssh)' : probe, walReceiver: null });
const agent = (name: string, sees: boolean | null, over: Partial<AgentVantageRecord> = {}): AgentVantageRecord => ({
  name,
  master_probed: 'john',
  sees_master: sees,
  sees_master_detail: sees === null ? null : sees ? 'answers SELECT 1' : 'no answer within the timeout',
  probed_at: '2026-12-04T12:00:09Z',
  ...over,
});

describe('agent records as vantage points', () => {
  const rows: ReadonlyArray<[string, ProbeResult, AgentVantageRecord | null, ProbeResult]> = [
    ['controller probe unknown, agent sees → sees', 'unknown', agent('paul', true), 'sees'],
    ['controller probe unknown, agent does not see → does not see', 'unknown', agent('paul', false), 'no_answer'],
    ['controller probe no answer, agent sees → sees (one seeing vantage is enough)', 'no_answer', agent('paul', true), 'sees'],
    ['controller probe sees, agent does not see → sees', 'sees', agent('paul', false), 'sees'],
    ['controller probe no answer, agent does not see → does not see', 'no_answer', agent('paul', false), 'no_answer'],
    ['agent record stale → the controller probe stands (unknown)', 'unknown', agent('paul', false, { probed_at: '2026-12-04T12:00:01Z' }), 'unknown'],
    ['agent record from the future beyond the window → ignored', 'unknown', agent('paul', false, { probed_at: '2026-12-04T12:01:00Z' }), 'unknown'],
    ['agent record dated 2 s ahead (a skewed clock) → ignored, not fresh for ttl more', 'unknown', agent('paul', false, { probed_at: '2026-12-04T12:00:12Z' }), 'unknown'],
    ['agent record dated 0.5 s ahead (within the skew allowed) → used', 'unknown', agent('paul', false, { probed_at: '2026-12-04T12:00:10.500Z' }), 'no_answer'],
    ['agent probed another master → ignored', 'unknown', agent('paul', false, { master_probed: 'george' }), 'unknown'],
    ['agent did not probe (sees_master null) → ignored', 'unknown', agent('paul', null), 'unknown'],
    ['agent record without probed_at (older agent) → ignored', 'unknown', agent('paul', false, { probed_at: null }), 'unknown'],
    ['another replica\'s record → ignored', 'unknown', agent('ringo', false), 'unknown'],
    ['no record → the controller probe stands', 'no_answer', null, 'no_answer'],
  ];
  for (const [label, probe, record, expected] of rows) {
    it(label, () => {
      const [merged] = withAgentVantage([report('paul', probe)], record === null ? [] : [record], 'john', NOW, FRESH_MS);
      assert.equal(merged?.probe, expected);
    });
  }

  it('two records for one node (a stale or forged one among them): any that sees wins, whatever the order', () => {
    for (const records of [[agent('paul', false), agent('paul', true)], [agent('paul', true), agent('paul', false)]]) {
      const [merged] = withAgentVantage([report('paul', 'unknown')], records, 'john', NOW, FRESH_MS);
      assert.equal(merged?.probe, 'sees');
    }
  });

  it('the detail names the agent', () => {
    const [merged] = withAgentVantage([report('paul', 'unknown')], [agent('paul', false)], 'john', NOW, FRESH_MS);
    assert.match(merged?.probeDetail ?? '', /^agent: no answer within the timeout \(the controller's probe: cannot run pg_isready/);
  });

  it('no ssh to the replicas (agents only): their fresh records make the majority; one agent seeing the master holds the failover', () => {
    const reports = [report('paul', 'unknown'), report('george', 'unknown')];
    const allOut = withAgentVantage(reports, [agent('paul', false), agent('george', false)], 'john', NOW, FRESH_MS);
    assert.equal(judgeMasterFailure(false, allOut, 5).failed, true);
    const oneSees = withAgentVantage(reports, [agent('paul', false), agent('george', true)], 'john', NOW, FRESH_MS);
    const verdict = judgeMasterFailure(false, oneSees, 5);
    assert.equal(verdict.failed, false);
    assert.equal(verdict.reason_code, 'vantage_sees_master');
    const oneStale = withAgentVantage(reports, [agent('paul', false), agent('george', false, { probed_at: '2026-12-04T11:00:00Z' })], 'john', NOW, FRESH_MS);
    assert.equal(judgeMasterFailure(false, oneStale, 5).reason_code, 'vantage_no_majority');
  });
});

describe('agent records read twice: when the master first failed, and at the decision', () => {
  const reports = [report('paul', 'unknown'), report('george', 'unknown')];
  const rows: ReadonlyArray<[string, AgentVantageRecord[], AgentVantageRecord[], boolean]> = [
    ['both did not see at first, both see at the decision → no failover', [agent('paul', false), agent('george', false)], [agent('paul', true), agent('george', true)], false],
    ['both saw at first, do not see at the decision → no failover (a sighting during the episode holds)', [agent('paul', true), agent('george', true)], [agent('paul', false), agent('george', false)], false],
    ['did not see at first, records gone at the decision → no "does not see" from old news', [agent('paul', false), agent('george', false)], [], false],
    ['do not see at either read → failed', [agent('paul', false), agent('george', false)], [agent('paul', false), agent('george', false)], true],
  ];
  for (const [label, early, late, failed] of rows) {
    it(label, () => assert.equal(judgeMasterFailure(false, combineAgentReads(reports, early, late, 'john', NOW, FRESH_MS), 5).failed, failed));
  }
});
