/**
 * When etcd's history of `master_lease/<master>` is gone (compacted past the key's delete,
 * lease-history-proof.ts), whether the CURRENT state still proves that no live lease can be the
 * master's (design §9 rule 1: nobody promotes another node before that lease ended). Pure: the
 * facts store/etcd/current-leases.ts gathered in, the verdict out.
 *
 * The rule: at a linearizable read (revision R) the `master` key names the master and its lease
 * key is absent; every lease etcd lists, read after R, is either ended or carries keys none of
 * which is that lease key. Why that suffices: the master's agent counts its PostgreSQL writable
 * only under a lease it put the key under (boot, election take or put-back; the agent attaches no
 * other key to it). The key absent at R means it was deleted or overwritten since: either way the
 * lease lost it, and as the agent's master lease carries nothing else, that lease is now KEYLESS.
 * So a live keyless lease (the master's after an `etcdctl del`, one just granted whose put has not
 * landed, or another application's) leaves it not proven; none, and none carrying the key → released.
 *
 * Races (what the rule does not see, and what covers it):
 * - a lease granted after the listing, or whose put lands after R: its key put comes after R, so
 *   the transaction that records another master (store/etcd/master-key.ts, and the agents' take)
 *   fails on its compare "master_lease/<master> absent" when the put landed first, and the agent's
 *   put (boot, put-back) fails on its compare of the `master` key's revision when it lands after;
 *   the agent is writable only after its put succeeded.
 * - a listing served by a member that lags (etcd answers LeaseLeases from the member's own state,
 *   not through the leader): a listing whose header revision is older than R is refused
 *   (`listing_behind`), as is a time to live answered at a revision older than R (`lease_behind`):
 *   any lease whose key was put at or before R had been granted before that put, so a member past
 *   R knows it.
 * - leases of other clusters or applications in the same etcd count like any other: one that is
 *   keyless (a session lease kept alive without keys) blocks the proof; one carrying keys does not.
 */

/** One listed lease, as its time to live said (with its keys). */
export type ListedLease =
  | {
      readonly id: string;
      /** Seconds left; negative: ended since the listing. */
      readonly ttl: number;
      /** The keys attached (full etcd key names). */
      readonly keys: readonly string[];
      /** The header revision of the time-to-live answer. */
      readonly revision: string;
    }
  | { readonly id: string; readonly unread: string };

export type CurrentLeases =
  | {
      readonly kind: 'read';
      readonly master: string;
      /** The full etcd key `master_lease/<master>`. */
      readonly leaseKey: string;
      /** The revision of the read at which `master` named the master and the lease key was absent. */
      readonly readRevision: string;
      /** The header revision of the LeaseLeases answer. */
      readonly listingRevision: string;
      readonly leases: readonly ListedLease[];
    }
  | { readonly kind: 'unread'; readonly master: string; readonly why: string };

export type CurrentLeaseCode = 'released' | 'not_read' | 'listing_behind' | 'lease_unread' | 'lease_behind' | 'keyless_lease' | 'lease_carries_key';

export interface CurrentLeaseVerdict {
  readonly state: 'released' | 'held' | 'not_proven';
  readonly code: CurrentLeaseCode;
  readonly reason: string;
}

const verdict = (state: CurrentLeaseVerdict['state'], code: CurrentLeaseCode, reason: string): CurrentLeaseVerdict => ({ state, code, reason });

export function currentLeaseVerdict(c: CurrentLeases): CurrentLeaseVerdict {
  if (c.kind === 'unread') return verdict('not_proven', 'not_read', `etcd's current leases were not read whole: ${c.why}`);
  const r = BigInt(c.readRevision);
  if (BigInt(c.listingRevision) < r) return verdict('not_proven', 'listing_behind', `etcd listed its leases at revision ${c.listingRevision}, older than the read at ${c.readRevision} (a member behind): a lease granted since may be missing`);
  const keyless: string[] = [];
  for (const l of c.leases) {
    if ('unread' in l) return verdict('not_proven', 'lease_unread', `the time to live of lease ${l.id} could not be read: ${l.unread}`);
    // Before the ttl: an answer from before R may not know a lease granted then.
    if (BigInt(l.revision) < r) return verdict('not_proven', 'lease_behind', `lease ${l.id}'s time to live was answered at revision ${l.revision}, older than the read at ${c.readRevision}`);
    if (l.ttl < 0) continue;
    if (l.keys.includes(c.leaseKey)) return verdict('held', 'lease_carries_key', `live lease ${l.id} carries ${c.leaseKey} again (put back after revision ${c.readRevision})`);
    if (l.keys.length === 0) keyless.push(l.id);
  }
  if (keyless.length > 0) {
    return verdict('not_proven', 'keyless_lease', `live lease ${keyless.slice(0, 5).join(', ')}${keyless.length > 5 ? ` and ${keyless.length - 5} more` : ''} carries no key: it may be ${c.master}'s master lease with its key deleted (or one just granted), so no lease is proven ended`);
  }
  return verdict('released', 'released', `etcd's history of ${c.leaseKey} is gone, but at revision ${c.readRevision} the key is absent and none of the ${c.leases.length} live lease(s) is keyless or carries it: no lease of ${c.master}'s agent lives`);
}
