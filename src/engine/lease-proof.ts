/**
 * failover.unreachable_master agent_lease (design §9 rule 1): what the failed master's lease says.
 * The proof is the agent's LEASE having ended (expired in etcd, or revoked by the agent after it
 * stopped PostgreSQL), not the `master_lease/<node>` KEY being absent: a key deleted by hand (or
 * by any range delete) while the agent keeps renewing its lease leaves a writable master whose
 * agent believes itself fresh. Pure: what was read in, the state out.
 */
import type { MasterLeaseState } from './failover-decision.js';
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
}

export function masterLeaseStateFrom(r: LeaseReads): MasterLeaseState {
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
  return proven === 'released' || proven === 'held' ? proven : 'unknown';
}
