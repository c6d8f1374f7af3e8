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

/** How far past the next round's tick a replica's idle etcd attempt may end (the round's own work before its timer is armed). */
export const TICK_SLACK_MS = 50;

/**
 * The deadline of a replica's member-lease renewal and member-record write, whose lean client gives
 * each attempt half of it (`attemptMsOf`). Node never moves its libuv timer later: a cleared
 * deadline that was due before the next round's tick still wakes the process then, for nothing
 * (on this virtual machine an idle wake-up costs 0.2–0.9 ms of CPU). An attempt that ends just
 * after the next tick is served by that tick's wake-up. Only where a hung attempt stays harmless:
 * the caller keeps `callMs` while a master lease is held or PostgreSQL is writable (the master's
 * renewals keep their short attempts: its fence deadline depends on them), and here the worst gap
 * between two renewals reaching etcd (the renewal period ttl / 3, a round's wait, one hung
 * attempt) must stay within three quarters of the ttl (the retry, a busy host); otherwise `callMs`
 * as it is.
 */
export function replicaIdleCallMs(callMs: number, loopMs: number, ttlMs: number): number {
  const attemptMs = loopMs + TICK_SLACK_MS;
  if (ttlMs / 3 + loopMs + attemptMs > (ttlMs * 3) / 4) return callMs;
  return Math.max(callMs, 2 * attemptMs);
}
