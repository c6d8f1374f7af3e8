/**
 * Which way the recovery of an interrupted topology change goes once the servers have answered
 * (runtime/topology/recovery.ts acts on it). Whatever the way, the book must end with at most one
 * enabled master: a book holding two (`masterName()` null) runs no failover check and adopts
 * nothing (`book_ambiguous`) until an operator edits it. So every enabled master of the book other
 * than the one the recovery keeps is listed to be demoted in the same book write, and an adoption
 * is rolled forward only to the server it verified.
 * Pure: the journal's reading and the answers come in, a decision goes out.
 */
import type { FailoverRecord, TopologyChangeKind } from '../model/failover-record.js';
import { provesTarget } from './failover-steps.js';

export interface RollForwardFacts {
  /** The kind of change being recovered (a recovery's own record: the kind it recovered; see recoveredKind). */
  readonly kind: TopologyChangeKind;
  /** The server the change verified or aimed at (an adoption's adopted master), if any. */
  readonly to: string | null;
  /** The change's old master, if any. */
  readonly from: string | null;
  /** The server the journal proves is the new master (journalProvenTarget), if any. */
  readonly confirmed: string | null;
  /** Servers other than the old master that accept writes now (old masters fenced before this change left out). */
  readonly promoted: readonly string[];
  /** Every enabled master of the book now. */
  readonly bookMasters: readonly string[];
}

export type RollForwardDecision =
  /** `target` is the master; `demote`: other enabled masters of the book (the old master is handled as such, not listed). */
  | { readonly way: 'forward'; readonly target: string; readonly demote: readonly string[] }
  /** Several servers promoted or writable: nothing chosen, an operator decides. */
  | { readonly way: 'split_brain'; readonly servers: readonly string[] }
  /** An adoption whose book change never ran, and the one writable server is not the one it verified. */
  | { readonly way: 'not_adopted'; readonly writable: string }
  /** Nobody promoted: the old master stays (rolled back or judged); `demote`: other enabled masters of the book. */
  | { readonly way: 'back'; readonly demote: readonly string[] };

export function decideRollForward(facts: RollForwardFacts): RollForwardDecision {
  const { confirmed, promoted } = facts;
  if (promoted.length > 1 || (confirmed !== null && promoted.some((n) => n !== confirmed))) {
    return { way: 'split_brain', servers: [...new Set([...promoted, ...(confirmed !== null ? [confirmed] : [])])] };
  }
  // The journal proves a promotion (it accepted a write) or an adoption's verified book change:
  // that server is the master even when it does not answer now.
  const target = confirmed ?? promoted[0] ?? null;
  // An adoption rolls forward only to the server it verified (its key and lease were read); any
  // other writable server is left to the next failover check, which reads the agents' key first.
  if (facts.kind === 'adoption' && target !== null && target !== facts.to) return { way: 'not_adopted', writable: target };
  const keep = target ?? facts.from;
  const demote = facts.bookMasters.filter((n) => n !== keep && n !== facts.from);
  return target !== null ? { way: 'forward', target, demote } : { way: 'back', demote };
}

/**
 * The kind of change a journal recovers. A recovery's own journal says `recovery`; it carries the
 * kind it recovered (`recovers`), so a recovery interrupted in turn still rolls an adoption
 * forward as an adoption (no remaster, the agents' fence rule) and a switchover as a switchover.
 * A recovery record from before that field counts as a failover's, as it always did.
 */
export function recoveredKind(record: Pick<FailoverRecord, 'kind' | 'recovers'>): Exclude<TopologyChangeKind, 'recovery'> {
  return record.kind === 'recovery' ? (record.recovers ?? 'failover') : record.kind;
}

/**
 * The server the journal proves is the new master, if any: a step the step table says proves its
 * server (a promotion that accepted a write; an adoption's book change, made only after its
 * verification), or, in a recovery's own journal, the target it had chosen to roll forward to (it
 * answered writable then, or was proved so by the journal it recovered) — else a recovery
 * interrupted after writing that target into the book would put the old master back beside it.
 */
export function journalProvenTarget(record: Pick<FailoverRecord, 'kind' | 'to' | 'steps'>): string | null {
  const proved = record.steps.find((s) => provesTarget(s) && s.server !== null)?.server ?? null;
  return proved ?? (record.kind === 'recovery' ? record.to : null);
}
