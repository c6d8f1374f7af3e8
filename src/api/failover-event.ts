/**
 * What the failover listeners (metrics: `handyrep_failovers_total`) hear of a topology call: one
 * event per attempt. A call answered without an attempt (runtime/topology/no-attempt.ts: a refusal
 * repeated quietly, a verdict called off before anything was touched) is no failover.
 */
import { madeNoAttempt } from '../runtime/topology/no-attempt.js';
import type { TopologyRd } from '../runtime/topology/failover.js';

/** A finished topology change, for metrics. */
export interface FailoverEvent {
  kind: 'failover' | 'switchover' | 'promote';
  outcome: 'success' | 'fail';
  durationMs: number;
  from: string | null;
  to: string | null;
}

/** The event for `rd`, a topology call's answer of kind `kind`; null when the call made no attempt. */
export function failoverEventOf(rd: TopologyRd, kind: FailoverEvent['kind'], startedMs: number, nowMs: number, from: string | null): FailoverEvent | null {
  if (madeNoAttempt(rd)) return null;
  return { kind, outcome: rd.result === 'SUCCESS' ? 'success' : 'fail', durationMs: nowMs - startedMs, from, to: rd.newmaster ?? null };
}
