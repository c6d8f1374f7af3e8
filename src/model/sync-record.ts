/**
 * The recorded synchronous set: which replicas may hold acknowledged commits the others lack, and
 * how many of them acknowledge each commit. It is kept with the saved state (and is the
 * `sync_set` of the etcd `master` key once HandyRep leads through etcd). Invariant kept by the
 * order of writes (engine/sync-set.ts): every commit the master acknowledged is on at least
 * `quorum` of `members`. `quorum` 0 means asynchronous: nothing is promised.
 */
export interface SyncRecord {
  /** Server names, sorted. */
  members: string[];
  /** k of `ANY k (…)` / `FIRST k (…)` guaranteed for every acknowledged commit; 0 = asynchronous. */
  quorum: number;
  /** The master whose synchronous_standby_names this describes. */
  master: string | null;
  /** ISO 8601. */
  at: string;
  /** Why the set changed, in an operator's words. */
  reason: string;
}

/** How many set changes are kept in the saved state. */
export const SYNC_HISTORY_LIMIT = 100;

/** A loose structural check of a record read back. */
export function isSyncRecord(value: unknown): value is SyncRecord {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    Array.isArray(v['members']) &&
    v['members'].every((m) => typeof m === 'string') &&
    typeof v['quorum'] === 'number' &&
    (typeof v['master'] === 'string' || v['master'] === null) &&
    typeof v['at'] === 'string' &&
    typeof v['reason'] === 'string'
  );
}
