/**
 * failover.unreachable_master agent_lease for a controller (or agent) that never saw the master's
 * lease held itself — it started leading after the lease lapsed, often because the old leader
 * died with the master's host. etcd's revision history can still prove it (design §9 rule 1):
 * `master_lease/<master>` existed after the `master` key named that master (its current mod
 * revision), under agent leases that have all ended since, and the key is absent now. Pure: the
 * history facts the reader (store/etcd/lease-history.ts) gathered in, the verdict out.
 *
 * Why every lease of the window must have ended, not only the last one: a lease still alive means
 * an agent still renews it and counts its PostgreSQL writable, whatever became of the key (deleted
 * by hand: the key is only a name for the lease, the lease is the fence).
 */

/** One change of `master_lease/<master>` after the master key's revision, oldest first. */
export interface LeaseKeyChange {
  readonly kind: 'put' | 'delete';
  /** The store revision of the change (decimal string). */
  readonly revision: string;
  /**
   * The lease the key was attached to (the put's, or for a delete the deleted version's), '0' for
   * none (a put by hand), null when etcd did not say (the deleted version was compacted away).
   */
  readonly lease: string | null;
  /**
   * Puts only: the lease of the version this put replaced (a put over a key takes it from that
   * lease as a delete does: it must have ended too); absent for a creation, '0' for none, null
   * when etcd did not say.
   */
  readonly overwrote?: string | null;
  /** The version this change ended (deleted or put over), when etcd sent it: its version number and mod revision. */
  readonly prior?: { readonly version: string; readonly modRevision: string };
}

export type LeaseHistory =
  /** The history since the master key's revision (or since a compaction after it) was read whole. */
  | {
      readonly kind: 'read';
      readonly master: string;
      readonly masterModRevision: string;
      /** Set when the reader started the window where it last saw the key held (instead of the master key's revision). */
      readonly seenAt?: string;
      /** Set when etcd had compacted past the window's start: the window starts there instead. */
      readonly compactedAt: string | null;
      readonly changes: readonly LeaseKeyChange[];
      /** For each lease of `changes` (not '0'): alive now (true), ended (false), or not known (null). */
      readonly leaseAlive: Readonly<Record<string, boolean | null>>;
    }
  /**
   * Not read whole (no master key naming the node, the watch failed or did not finish): why.
   * `compactedAt`: set when etcd's compaction took the window's history away.
   */
  | { readonly kind: 'unread'; readonly master: string; readonly why: string; readonly compactedAt?: string };

export interface LeaseHistoryVerdict {
  /** released: proven ended; held: a lease of the window lives; not_proven: fall back to the other rules. */
  readonly state: 'released' | 'held' | 'not_proven';
  readonly reason: string;
  /**
   * Not proven because etcd compacted the history the proof needs (not for any other reason):
   * the callers may then ask the current leases instead (lease-current-proof.ts).
   */
  readonly historyGone?: true;
}

const verdict = (state: LeaseHistoryVerdict['state'], reason: string): LeaseHistoryVerdict => ({ state, reason });
const gone = (reason: string): LeaseHistoryVerdict => ({ state: 'not_proven', reason, historyGone: true });

export function leaseHistoryVerdict(h: LeaseHistory): LeaseHistoryVerdict {
  if (h.kind === 'unread') {
    const reason = `the history of master_lease/${h.master} was not read whole: ${h.why}`;
    return h.compactedAt === undefined ? verdict('not_proven', reason) : gone(reason);
  }
  const key = `master_lease/${h.master}`;
  const start = h.seenAt === undefined ? `the master key's revision ${h.masterModRevision}` : `revision ${h.seenAt}, when the key was last seen held`;
  const since = h.compactedAt === null ? start : `revision ${h.compactedAt} (etcd compacted its history past ${start})`;
  if (h.changes.length === 0) {
    if (h.compactedAt !== null) return gone(`${key} did not change since ${since}: the older history is gone, so its lease cannot be proven ended`);
    return verdict('not_proven', `${key} never existed since ${since}: no agent was seen holding it`);
  }
  const last = h.changes[h.changes.length - 1] as LeaseKeyChange;
  // The reader saw the key absent at the end of the window: a last put means the facts disagree.
  if (last.kind !== 'delete') return verdict('not_proven', `${key}'s last change since ${since} is a put, yet the key was read absent: the history is not consistent`);
  if (h.changes.some((c) => c.lease === null || c.overwrote === null)) return gone(`a version of ${key} since ${since} was compacted away: its lease is not known`);
  // The first change ended a version written before the window; if that version itself replaced
  // another (version > 1, a put over the key), the lease it took the key from is out of sight.
  const first = h.changes[0] as LeaseKeyChange;
  const windowStart = BigInt(h.compactedAt ?? h.seenAt ?? h.masterModRevision);
  if (first.prior !== undefined && Number(first.prior.version) > 1 && BigInt(first.prior.modRevision) < windowStart) {
    return gone(`${key}'s version ${first.prior.version} (revision ${first.prior.modRevision}) was put over an earlier one before ${since}: the lease that one was under is not known`);
  }
  const leases = [...new Set(h.changes.flatMap((c) => [c.lease as string, ...(c.overwrote === undefined ? [] : [c.overwrote as string])]).filter((l) => l !== '0'))];
  if (leases.length === 0) return verdict('not_proven', `${key} was only ever put without a lease since ${since} (by hand): no agent held it`);
  const alive = leases.filter((l) => h.leaseAlive[l] === true);
  if (alive.length > 0) return verdict('held', `${key} is gone but its lease ${alive.join(', ')} still lives (the key was deleted while its agent holds the lease)`);
  const unknown = leases.filter((l) => h.leaseAlive[l] !== false);
  if (unknown.length > 0) return verdict('not_proven', `the time to live of lease ${unknown.join(', ')} of ${key} could not be read`);
  return verdict('released', `etcd's history shows ${key} held under lease ${leases.join(', ')} since ${since}, deleted at revision ${last.revision}, and every such lease has ended`);
}
