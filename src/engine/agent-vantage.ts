/**
 * The node agents as vantage points (design §5 rule 1, §9 `members/<node>`): each replica's agent
 * probes the recorded master itself every round and publishes the answer. When the controller
 * judges a master it cannot reach, an agent answer about THIS master is combined with the
 * controller's own probe from that replica's host (failover-check.ts):
 *   - either one sees the master → it is seen (one vantage point seeing it is enough to hold back);
 *   - the controller's probe could not run (no ssh, control_method agent, timeout) and the agent
 *     positively does not see it, in a probe that started AFTER the controller's first read of the
 *     records (see below) → does not see;
 *   - otherwise the controller's probe stands (an old, absent or other-master record is ignored:
 *     never "does not see" on old news).
 *
 * Freshness without clocks (review F3): no wall clock of two hosts is compared.
 *   - A member record lives under its agent's lease, renewed only by the agent's rounds, and each
 *     round publishes that round's answer: a record that is there is its agent's latest answer,
 *     at most etcd.ttl old. A "sees" counts on that alone (at either read: it can only hold a
 *     failover back).
 *   - A "does not see" must be NEWS: the record carries `probe_revision`, the etcd revision of the
 *     agent's read that preceded its probe; the controller notes the revision of its own first read
 *     (`onset`, after the master's first failed check). Reads are linearizable, so a
 *     probe_revision above the onset was read after the controller's read began: the probe ran
 *     after the master's first failure. One at or below it may be older: ignored.
 * Pure: reports and records in, reports out.
 */
import type { VantageReport } from './master-failure.js';

/** What the judgement needs of an agent's member record. */
export interface AgentVantageRecord {
  readonly name: string;
  readonly master_probed: string | null;
  readonly sees_master: boolean | null;
  readonly sees_master_detail: string | null;
  /** The etcd revision read before the probe (decimal); null or absent from older agents. */
  readonly probe_revision?: string | null;
}

/** The records as read at once, with the store's revision of that read. */
export interface AgentRecordsRead {
  readonly records: readonly AgentVantageRecord[];
  /** null when etcd could not be read (then nothing counts). */
  readonly revision: string | null;
}

export const NO_AGENT_RECORDS: AgentRecordsRead = { records: [], revision: null };

function revisionOf(text: string | null | undefined): bigint | null {
  return typeof text === 'string' && /^\d{1,19}$/.test(text) ? BigInt(text) : null;
}

/**
 * Whether `record` is an answer about `master` that counts: a "sees" always (lease-bound), a
 * "does not see" only from a probe that started after the store was at revision `onset`.
 */
export function agentAnswerUsable(record: AgentVantageRecord, master: string, onset: string | null): boolean {
  if (record.master_probed !== master || record.sees_master === null) return false;
  if (record.sees_master) return true;
  const probed = revisionOf(record.probe_revision);
  const since = revisionOf(onset);
  return probed !== null && since !== null && probed > since;
}

export function withAgentVantage(reports: readonly VantageReport[], records: readonly AgentVantageRecord[], master: string, onset: string | null): VantageReport[] {
  return reports.map((report) => {
    const usable = records.filter((r) => r.name === report.replica && agentAnswerUsable(r, master, onset));
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
 * Two reads of the records: `early` (when the master first failed its check: its revision is the
 * onset) and `late` (at the decision). Only the late read can say "does not see", and only from
 * probes newer than the early read; a "sees" at either read counts (an agent that saw the master at
 * any point of the episode holds the failover). Without an early read nothing can say "does not see".
 */
export function combineAgentReads(reports: readonly VantageReport[], early: AgentRecordsRead, late: AgentRecordsRead, master: string): VantageReport[] {
  return withAgentVantage(reports, [...early.records.filter((r) => r.sees_master === true), ...late.records], master, early.revision);
}
