/**
 * The node agents as vantage points (design §5 rule 1, §9 `members/<node>`): each replica's agent
 * probes the recorded master itself every round and publishes the answer. When the controller
 * judges a master it cannot reach, a FRESH agent answer about THIS master is combined with the
 * controller's own probe from that replica's host (failover-check.ts):
 *   - either one sees the master → it is seen (one vantage point seeing it is enough to hold back);
 *   - the controller's probe could not run (no ssh, control_method agent, timeout) and the agent
 *     positively does not see it → does not see;
 *   - otherwise the controller's probe stands (a stale, absent or other-master record is ignored:
 *     never "does not see" on old news).
 * Pure: reports and records in, reports out.
 */
import type { VantageReport } from './master-failure.js';

/** What the judgement needs of an agent's member record. */
export interface AgentVantageRecord {
  readonly name: string;
  readonly master_probed: string | null;
  readonly sees_master: boolean | null;
  readonly sees_master_detail: string | null;
  readonly observed_at: string | null;
}

/** Whether `record` is a fresh answer about `master` (wall clocks, within `freshMs` either way). */
export function agentAnswerUsable(record: AgentVantageRecord, master: string, nowMs: number, freshMs: number): boolean {
  if (record.master_probed !== master || record.sees_master === null || record.observed_at === null) return false;
  const at = Date.parse(record.observed_at);
  return Number.isFinite(at) && Math.abs(nowMs - at) <= freshMs;
}

export function withAgentVantage(reports: readonly VantageReport[], records: readonly AgentVantageRecord[], master: string, nowMs: number, freshMs: number): VantageReport[] {
  return reports.map((report) => {
    const record = records.find((r) => r.name === report.replica && agentAnswerUsable(r, master, nowMs, freshMs));
    if (!record || report.probe === 'sees') return report;
    const detail = `agent: ${record.sees_master_detail ?? (record.sees_master ? 'sees it' : 'no answer')}`;
    if (record.sees_master) return { ...report, probe: 'sees', probeDetail: detail };
    if (report.probe === 'unknown') return { ...report, probe: 'no_answer', probeDetail: `${detail} (the controller's probe: ${report.probeDetail})` };
    return report;
  });
}
