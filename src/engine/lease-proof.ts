/**
 * failover.unreachable_master agent_lease (design §9 rule 1): what the failed master's lease says.
 * The proof is the agent's LEASE having ended (expired in etcd, or revoked by the agent after it
 * stopped PostgreSQL), not the `master_lease/<node>` KEY being absent: a key deleted by hand (or
 * by any range delete) while the agent keeps renewing its lease leaves a writable master whose
 * agent believes itself fresh. Pure: what was read in, the state out.
 */
import type { MasterLeaseState } from './failover-decision.js';
import type { CurrentLeaseVerdict } from './lease-current-proof.js';
import type { LeaseHistoryVerdict } from './lease-history-proof.js';

export interface LeaseReads {
  /** The lease the key is attached to now, or null when the key is absent. */
  keyLease: string | null;
  /** The lease this controller saw the key attached to while the master was healthy, or null. */
  seenLease: string | null;
  /** Whether that seen lease is still alive in etcd (asked only when the key is absent and one was seen). */
  seenLeaseAlive: boolean | null;
  /**
   * What etcd's history proves (lease-history-proof.ts), read when the key is absent and either no
   * lease was seen held (a controller that started leading after the lapse) or the one seen has
   * ended (it may be stale: the agent restarted under a new lease since); null when not read.
   */
  history?: LeaseHistoryVerdict | null;
  /**
   * What the current leases prove (lease-current-proof.ts), read only when a seen lease has ended
   * and the history was compacted away (history.historyGone); null/absent when not read.
   */
  current?: CurrentLeaseVerdict | null;
  /**
   * Whether the lease the key is under carries other keys too (read only when that lease is not
   * the one seen held): an agent attaches nothing else to its master lease, so such a lease is not
   * one (the key was put over by hand under it). null/absent: not read.
   */
  keyLeaseCarriesOtherKeys?: boolean | null;
}

export function masterLeaseStateFrom(r: LeaseReads): MasterLeaseState {
  // A key put over by hand without a lease ('0') is no agent's: not held by itself, and never
  // released either (the master key's transaction compares the key's absence, so nothing could be
  // recorded while it is there; the master's agent puts it back under its lease if it lives).
  if (r.keyLease === '0') return r.seenLease !== null && r.seenLeaseAlive === true ? 'held' : 'unknown';
  // A key under a lease that carries other keys: put over by hand under someone else's lease, not
  // the agent's; the lease seen held decides (the write refuses anyway while the key is there).
  if (r.keyLease !== null && r.keyLeaseCarriesOtherKeys === true) return r.seenLease !== null && r.seenLeaseAlive === true ? 'held' : 'unknown';
  // A key under a live lease carrying nothing else: the agent's (a newer one after a restart looks
  // so), or one put by hand under a bare lease, which the agent replaces while it lives.
  if (r.keyLease !== null) return 'held';
  if (r.seenLease === null) {
    const proven = r.history?.state;
    return proven === 'released' || proven === 'held' ? proven : 'never_held';
  }
  if (r.seenLeaseAlive === null) return 'unknown';
  // The key is gone but its lease lives: the agent still renews it and counts itself fresh.
  if (r.seenLeaseAlive) return 'held';
  // The lease seen has ended, but it may not be the one the agent holds now (it restarted, or
  // re-took the lease, since this controller looked): the history must show every lease since
  // the record ended. Not proven (compacted, unread) → unknown, never released.
  const proven = r.history?.state;
  if (proven === 'released' || proven === 'held') return proven;
  // Compacted away: the current leases may still prove that no lease of the agent lives.
  if (r.history?.historyGone === true) {
    const now = r.current?.state;
    if (now === 'released' || now === 'held') return now;
  }
  return 'unknown';
}
