/**
 * Whether the lapse of the master's agent lease comes with its agent's statement that the
 * postmaster crashed (src/agent/crash-release.ts): the agent puts its member record saying
 * `postgres: crashed` and deletes `master_lease/<node>` in ONE etcd transaction, so the record as
 * of the lease's delete revision, written at that very revision, is the agent's word about this
 * lapse and no other. Then the lapse judgement (runtime/lease-lapse-judgement.ts) skips the
 * controller's check retries: they wait for a master that comes back by itself, and its own agent
 * just said it is dead and will not restart it (with `restart_on_crash` it releases only after its
 * restart failed). Only the waiting is skipped: the judgement, its facts and every rule after it
 * stay the same.
 *
 * Anything else keeps the retries: no record at that revision, a record saying running or
 * stopped (a stop outside HandyRep may be undone in a second), one written at another revision
 * (an older statement, or a lapse by expiry: a lost host, an agent killed), an unknown revision.
 */

export interface CrashStatementFacts {
  /** The revision of the lease's delete event; null when the watch did not say. */
  readonly lapseRevision: string | null;
  /** members/<master> as of `lapseRevision`: its `postgres` field and mod revision; null when absent or unreadable. */
  readonly record: { readonly postgres: string | null; readonly modRevision: string } | null;
}

export type CrashStatementVerdict = { readonly stated: true; readonly reason: string } | { readonly stated: false; readonly reason: string };

export function crashStated(facts: CrashStatementFacts): CrashStatementVerdict {
  if (facts.lapseRevision === null) return { stated: false, reason: 'the revision of the lapse is unknown' };
  const record = facts.record;
  if (record === null) return { stated: false, reason: `no member record of the master as of revision ${facts.lapseRevision}` };
  if (record.postgres !== 'crashed') return { stated: false, reason: `its agent's record says PostgreSQL ${record.postgres ?? 'unknown'}, not crashed` };
  if (record.modRevision !== facts.lapseRevision) {
    return { stated: false, reason: `its agent's "crashed" was written at revision ${record.modRevision}, not with the lease's release (revision ${facts.lapseRevision})` };
  }
  return { stated: true, reason: `its agent stated the postmaster crashed in the transaction that released the lease (revision ${facts.lapseRevision})` };
}
