/**
 * Whether a pass of the synchronous set's keeper may run, from the agent's master lease as it
 * stands, and what it keeps of the previous passes (pure). The keeper needs the lease fresh for
 * its whole pass (a read, SQL, a record: `budgetMs`); a pass skipped because the lease is fresh for
 * less than that is not a change of mastership: the same lease still holds the `master` key, so a
 * narrowing's catch-up (its target: the master's position when it was planned) and the time the
 * mastership began stay valid and are kept. Only another lease (or none) ends them: a lease
 * granted again means this agent may have lost the key in between (an election, a fence).
 */

export interface KeeperLease {
  /** The master lease this agent holds; null when it holds none. */
  readonly id: string | null;
  /** How long it stays fresh without another renewal, ms (0 when stale or not held). */
  readonly freshLeftMs: number;
}

export type KeeperGate =
  /** Run the pass under `leaseId`; `reset`: what the passes kept belongs to another lease (drop it first). */
  | { readonly kind: 'run'; readonly leaseId: string; readonly reset: boolean }
  /** Held but not fresh for the pass: skipped this round, what the passes kept is kept. */
  | { readonly kind: 'skip'; readonly reason: string }
  /** Not the lease holder: nothing is kept. */
  | { readonly kind: 'not_owner' };

/** `ownerLease`: the lease under which the keeper's kept progress was built (null: nothing kept). */
export function keeperGate(lease: KeeperLease, budgetMs: number, ownerLease: string | null): KeeperGate {
  if (lease.id === null) return { kind: 'not_owner' };
  if (lease.freshLeftMs < budgetMs) return ownerLease !== null && ownerLease !== lease.id ? { kind: 'not_owner' } : { kind: 'skip', reason: `master lease fresh for ${Math.round(lease.freshLeftMs)} ms, the keeper needs ${budgetMs} ms` };
  return { kind: 'run', leaseId: lease.id, reset: ownerLease !== null && ownerLease !== lease.id };
}

/** May a write of the pass started under `leaseId` go ahead now (same lease, still fresh for one more call)? */
export function mayWrite(lease: KeeperLease, leaseId: string, callMs: number): boolean {
  return lease.id === leaseId && lease.freshLeftMs >= callMs;
}
