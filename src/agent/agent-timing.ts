/**
 * The one timing rule an agent's configuration must meet, checked when the agent starts (not by the
 * shared schema: a controller may well run with a ttl shorter than an agent's default margin).
 */
export interface AgentTiming {
  /** etcd.ttl, seconds. */
  ttl: number;
  /** agent.safety_margin, seconds. */
  safetyMargin: number;
}

/** What is wrong with the timing, or null: the master demotes ttl − safety_margin after its last renewal. */
export function agentTimingProblem(t: AgentTiming): string | null {
  if (t.safetyMargin >= t.ttl) {
    return `agent.safety_margin (${t.safetyMargin} s) must be less than etcd.ttl (${t.ttl} s): the master's agent demotes ttl − safety_margin after its last renewal`;
  }
  return null;
}

/**
 * How long before the fence deadline (ttl − safety_margin after the last renewal) the stale timer
 * starts the stop: the deadline is when PostgreSQL must no longer acknowledge a commit, not when
 * the stop begins, and a timer fires late on a busy host. A quarter of the window, at most 250 ms.
 */
export function fenceLeadMs(freshForMs: number): number {
  return Math.min(250, Math.floor(freshForMs / 4));
}

/** How long the agent that won an election waits for `pg_ctl promote -w` (a controller reading its unconfirmed take waits as long). */
export const AGENT_PROMOTE_WAIT_MS = 60_000;
