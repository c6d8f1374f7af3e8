/**
 * Whether the recorded master's lease has ended, for an election whose old master's
 * `master_lease` key is absent (judge.ts LeaseEnd): a missing key is not a fence, the lease is
 * (its agent renews the lease, not the key; a key deleted by hand leaves a writable master whose
 * agent counts itself fresh). With the lease id this agent saw the key under: that lease's time to
 * live (gone = ended, as the controller asks, store/etcd/master-key.ts leaseAlive). Without one
 * (this agent started after the lapse, or the key was put without a lease): etcd's revision
 * history since the master key's revision (engine/lease-history-proof.ts). When compaction took that
 * history away: the current leases (engine/lease-current-proof.ts).
 */
import { currentLeaseVerdict, type CurrentLeaseVerdict } from '../../engine/lease-current-proof.js';
import { leaseHistoryVerdict, type LeaseHistoryVerdict } from '../../engine/lease-history-proof.js';
import type { EtcdContext } from '../../store/etcd/client.js';
import { readCurrentLeases } from '../../store/etcd/current-leases.js';
import { readLeaseHistory } from '../../store/etcd/lease-history.js';
import { leaseAlive } from '../../store/etcd/master-key.js';
import type { LeaseEnd } from './judge.js';

/** The judge's fact from what a lease id's time to live said (alive: true/false; null: not read). */
export function leaseEndFromSeen(leaseId: string, alive: boolean | null): LeaseEnd {
  if (alive === null) return { ended: null, how: 'seen_lease', why: `the time to live of lease ${leaseId} could not be read` };
  return { ended: !alive, how: 'seen_lease', why: alive ? `lease ${leaseId} still lives` : `lease ${leaseId} has ended` };
}

/** The judge's fact from etcd's history: released → ended, held → alive, anything else unknown. */
export function leaseEndFromHistory(verdict: LeaseHistoryVerdict): LeaseEnd {
  return { ended: verdict.state === 'released' ? true : verdict.state === 'held' ? false : null, how: 'history', why: verdict.reason };
}

/**
 * etcd's history was compacted away (verdict.historyGone): what the current leases prove instead
 * (engine/lease-current-proof.ts). Released counts as `current_leases`, which the judge accepts as
 * "lease held once" only in deployment `agents`; anything else stays unknown with both reasons.
 */
export function leaseEndFromCurrent(history: LeaseHistoryVerdict, current: CurrentLeaseVerdict): LeaseEnd {
  if (current.state === 'released') return { ended: true, how: 'current_leases', why: `${history.reason}; ${current.reason}` };
  if (current.state === 'held') return { ended: false, how: 'current_leases', why: `${history.reason}; ${current.reason}` };
  return { ended: null, how: 'history', why: `${history.reason}; nor do the current leases prove it (${current.code}): ${current.reason}` };
}

/**
 * A seen lease that ended may be stale (the master's agent restarted or re-took its lease since
 * this agent looked, and the newer one lives): its end counts only with the history's, which a
 * newer live lease turns into "alive"; a history that proves nothing leaves it unknown.
 */
export function leaseEndFromSeenAndHistory(seen: LeaseEnd, history: LeaseHistoryVerdict, current?: CurrentLeaseVerdict): LeaseEnd {
  if (history.state === 'released') return { ended: true, how: 'seen_lease', why: `${seen.why}, and ${history.reason}` };
  if (history.state === 'held') return { ended: false, how: 'seen_lease', why: `${seen.why}, but ${history.reason}` };
  // The history was compacted away: the current leases may still rule a newer lease out.
  if (current?.state === 'released') return { ended: true, how: 'seen_lease', why: `${seen.why}; ${history.reason}; ${current.reason}` };
  if (current?.state === 'held') return { ended: false, how: 'seen_lease', why: `${seen.why}, but ${current.reason}` };
  const instead = current === undefined ? '' : `; nor do the current leases prove it (${current.code}): ${current.reason}`;
  return { ended: null, how: 'seen_lease', why: `${seen.why}, but a newer lease is not ruled out: ${history.reason}${instead}` };
}

/** `seen`: the lease this agent last saw `master_lease/<master>` under for this record, and the snapshot revision it saw it at (undefined or id '0': none). */
export async function readLeaseEnd(ctx: EtcdContext, master: string, seen: { readonly id: string; readonly revision: string } | undefined, callMs: number): Promise<LeaseEnd> {
  const current = async (): Promise<CurrentLeaseVerdict> => currentLeaseVerdict(await readCurrentLeases(ctx, master, callMs));
  if (seen === undefined || seen.id === '0') {
    const history = leaseHistoryVerdict(await readLeaseHistory(ctx, master, callMs));
    return history.historyGone ? leaseEndFromCurrent(history, await current()) : leaseEndFromHistory(history);
  }
  const end = leaseEndFromSeen(seen.id, await leaseAlive(ctx, seen.id).catch(() => null));
  if (end.ended !== true) return end;
  // From where it was seen: every lease the key had since then must have ended.
  const history = leaseHistoryVerdict(await readLeaseHistory(ctx, master, callMs, seen.revision));
  return leaseEndFromSeenAndHistory(end, history, history.historyGone ? await current() : undefined);
}
