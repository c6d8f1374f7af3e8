/**
 * Answers of a topology call that made no attempt: an automatic failover's refusal repeated
 * quietly (quiet-refusal.ts) journals, restarts and records nothing, so it is no failover either
 * for `handyrep_failovers_total` (api/handyrep.ts reports only attempts to its failover
 * listeners). Kept beside the answer, not in it: the answer is what the REST API returns.
 */
const withoutAttempt = new WeakSet<object>();

/** Marks `rd` as answered without an attempt; returns it. */
export function answeredWithoutAttempt<T extends object>(rd: T): T {
  withoutAttempt.add(rd);
  return rd;
}

/** Whether `rd` was answered without an attempt. */
export function madeNoAttempt(rd: object): boolean {
  return withoutAttempt.has(rd);
}
