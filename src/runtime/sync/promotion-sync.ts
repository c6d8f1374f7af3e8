/**
 * Right before a replica is promoted under synchronous_mode: record the set it will start with
 * (quorum 0: nothing promised until its replicas caught up), then name it in the replica's own
 * synchronous_standby_names, so its first acknowledged commit already waits for a standby
 * (engine/sync-set.ts syncForNewMaster). ALTER SYSTEM works on a server in recovery.
 *
 * A promotion that then fails (or is cancelled) must not leave that record behind: it names a set
 * that protects no commit (quorum 0 reads "asynchronous", so a later failover would accept any
 * replica), while the old set still describes where the old master's acknowledged commits are.
 * So the set in force before is put back (restoreSyncAfterFailedPromotion); a promotion that
 * completes after all records the new master's set again (recordPromotedSync).
 */
import { guardedStandbyNames } from './master-replication.js';
import { syncForNewMaster, standbyNamesValue, type NewMasterSync, type SynchronousMethod } from '../../engine/sync-set.js';
import { describeError } from '../../model/errors.js';
import { SYNC_HISTORY_LIMIT, type SyncRecord } from '../../model/sync-record.js';
import { ref, withMonitoringSession, type TopologyEnv } from '../topology/env.js';
import { record, recordedSet } from './sync-maintainer.js';

/** The set `candidate` starts with as master, and the method naming it; null when synchronous_mode is off. */
export function newMasterSync(env: TopologyEnv, candidate: string): { next: NewMasterSync; method: SynchronousMethod } | null {
  const failover = env.ctx().config.failover;
  if (failover.synchronous_mode === 'off') return null;
  const policy = { mode: failover.synchronous_mode, count: failover.synchronous_node_count, method: failover.synchronous_method };
  const others = env.book.names().flatMap((name) => {
    const s = env.book.get(name);
    return s.role === 'replica' && name !== candidate
      ? [{ name, role: s.role, enabled: s.enabled && !s.fenced, failoverPriority: s.failover_priority, nofailover: s.nofailover, streaming: false, flushLagMb: null, lagLimitMb: s.lag_limit }]
      : [];
  });
  return { next: syncForNewMaster(policy, candidate, others, recordedSet(env.book.syncRecord())), method: policy.method };
}

function promotingReason(candidate: string, value: string): string {
  return `promoting ${candidate}: ${value === '' ? 'asynchronous (no other eligible replica)' : `'${value}', counted once its replicas caught up`}`;
}

export async function prepareSyncForPromotion(env: TopologyEnv, candidate: string): Promise<{ ok: boolean; details: string }> {
  const plan = newMasterSync(env, candidate);
  if (plan === null) return { ok: true, details: '' };
  const value = standbyNamesValue(plan.next.named, plan.method);
  if (!(await record(env, candidate, plan.next.recorded, promotingReason(candidate, value)))) return { ok: false, details: `not promoting ${candidate}: the synchronous set could not be saved` };
  try {
    await withMonitoringSession(env, ref(env, candidate), (s) => guardedStandbyNames(env, s, value));
  } catch (err) {
    return { ok: false, details: `not promoting ${candidate}: cannot set synchronous_standby_names: ${describeError(err)}` };
  }
  return { ok: true, details: `synchronous_standby_names '${value}'; ` };
}

/**
 * The promotion of `candidate` failed or was cancelled: the record in force before it
 * (`before`) is true again, whatever prepareSyncForPromotion wrote. Nothing when it is unchanged.
 */
export async function restoreSyncAfterFailedPromotion(env: TopologyEnv, candidate: string, before: SyncRecord | null): Promise<void> {
  const now = env.book.syncRecord();
  if (JSON.stringify(now) === JSON.stringify(before)) return;
  env.book.setSync(before === null ? null : { ...before, at: env.clock().toISOString(), reason: `promotion of ${candidate} failed: the set in force before it is restored (${before.reason})` });
  if (!(await env.persist())) env.log.warn('SYNC', `the restored synchronous set could not be saved to ${env.serverFile}; it is in force in memory`);
}

/**
 * A change interrupted by a controller crash is recovered without any promotion: the record may
 * still be the one a promotion wrote before it ran (its master the candidate, quorum 0). The set
 * `oldMaster` had, the newest in the history, is in force again (kept when the history has none).
 */
export async function restoreSyncAfterInterruptedPromotion(env: TopologyEnv, oldMaster: string): Promise<void> {
  const now = env.book.syncRecord();
  if (now === null || now.master === oldMaster) return;
  const before = env.book.recentSyncChanges(SYNC_HISTORY_LIMIT).find((r) => r.master === oldMaster) ?? null;
  if (before !== null) await restoreSyncAfterFailedPromotion(env, now.master ?? 'a replica', before);
}

/** `candidate` completed a promotion after it was given up: record the set it started with. */
export async function recordPromotedSync(env: TopologyEnv, candidate: string): Promise<void> {
  const plan = newMasterSync(env, candidate);
  if (plan === null) return;
  const value = standbyNamesValue(plan.next.named, plan.method);
  if (!(await record(env, candidate, plan.next.recorded, `${promotingReason(candidate, value)} (its promotion completed late)`))) {
    env.log.warn('SYNC', `the synchronous set of the new master ${candidate} could not be saved`);
  }
}
