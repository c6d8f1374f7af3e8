/**
 * Answers of a topology call that made no attempt: an automatic failover's refusal repeated
 * quietly (quiet-refusal.ts), or a verdict called off before anything was touched
 * (failover-check.ts), journals, restarts and records nothing, so it is no failover either for
 * `handyrep_failovers_total` (api/failover-event.ts). Kept beside the answer, not in it: the
 * answer is what the REST API returns. A copy of a marked answer is not marked.
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
