/**
 * The node agents as vantage points (design §5 rule 1, §9 `members/<node>`): each replica's agent
 * probes the recorded master itself every round and publishes the answer. When the controller
 * judges a master it cannot reach, a FRESH agent answer about THIS master is combined with the
 * controller's own probe from that replica's host (failover-check.ts):
 *   - either one sees the master → it is seen (one vantage point seeing it is enough to hold back);
 *   - the controller's probe could not run (no ssh, control_method agent, timeout) and the agent
 *     positively does not see it → does not see;
 *   - otherwise the controller's probe stands (a stale, absent or other-master record, or one dated
 *     in the future, is ignored: never "does not see" on old news).
 * Pure: reports and records in, reports out.
 */
import type { VantageReport } from './master-failure.js';

/** What the judgement needs of an agent's member record. */
export interface AgentVantageRecord {
  readonly name: string;
  readonly master_probed: string | null;
  readonly sees_master: boolean | null;
  readonly sees_master_detail: string | null;
  /** When the agent's probe answered (ISO). */
  readonly probed_at: string | null;
}

/** A record dated later than the controller's clock by more than this is not trusted (clock skew). */
export const FUTURE_SKEW_MS = 1000;

/**
 * Whether `record` is a fresh answer about `master`: probed at most `freshMs` before `nowMs` and not
 * more than FUTURE_SKEW_MS after it (wall clocks of two hosts: keep them synchronised).
 */
export function agentAnswerUsable(record: AgentVantageRecord, master: string, nowMs: number, freshMs: number): boolean {
  if (record.master_probed !== master || record.sees_master === null || record.probed_at === null) return false;
  const at = Date.parse(record.probed_at);
  return Number.isFinite(at) && nowMs - at <= freshMs && at - nowMs <= FUTURE_SKEW_MS;
}

export function withAgentVantage(reports: readonly VantageReport[], records: readonly AgentVantageRecord[], master: string, nowMs: number, freshMs: number): VantageReport[] {
  return reports.map((report) => {
    const usable = records.filter((r) => r.name === report.replica && agentAnswerUsable(r, master, nowMs, freshMs));
    // Two usable records for one node: any that sees wins (ambiguity never counts as "does not see").
    const record = usable.find((r) => r.sees_master === true) ?? usable[0];
    if (!record || report.probe === 'sees') return report;
    const detail = `agent: ${record.sees_master_detail ?? (record.sees_master ? 'sees it' : 'no answer')}`;
    if (record.sees_master) return { ...report, probe: 'sees', probeDetail: detail };
    if (report.probe === 'unknown') return { ...report, probe: 'no_answer', probeDetail: `${detail} (the controller's probe: ${report.probeDetail})` };
    return report;
  });
}

/**
 * Two reads of the records: `early` (when the master first failed its check) and `late` (at the
 * decision). Only the late read can say "does not see"; a "sees" at either read counts (an agent
 * that saw the master at any point of the episode holds the failover).
 */
export function combineAgentReads(reports: readonly VantageReport[], early: readonly AgentVantageRecord[], late: readonly AgentVantageRecord[], master: string, nowMs: number, freshMs: number): VantageReport[] {
  return withAgentVantage(reports, [...early.filter((r) => r.sees_master === true), ...late], master, nowMs, freshMs);
}
