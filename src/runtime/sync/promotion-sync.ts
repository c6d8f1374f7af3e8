/**
 * Right before a replica is promoted under synchronous_mode: record the set it will start with
 * (quorum 0: nothing promised until its replicas caught up), then name it in the replica's own
 * synchronous_standby_names, so its first acknowledged commit already waits for a standby
 * (engine/sync-set.ts syncForNewMaster). ALTER SYSTEM works on a server in recovery.
 */
import { guardedStandbyNames } from './master-replication.js';
import { syncForNewMaster, standbyNamesValue } from '../../engine/sync-set.js';
import { describeError } from '../../model/errors.js';
import { ref, withMonitoringSession, type TopologyEnv } from '../topology/env.js';
import { record, recordedSet } from './sync-maintainer.js';

export async function prepareSyncForPromotion(env: TopologyEnv, candidate: string): Promise<{ ok: boolean; details: string }> {
  const failover = env.ctx().config.failover;
  if (failover.synchronous_mode === 'off') return { ok: true, details: '' };
  const policy = { mode: failover.synchronous_mode, count: failover.synchronous_node_count, method: failover.synchronous_method };
  const others = env.book.names().flatMap((name) => {
    const s = env.book.get(name);
    return s.role === 'replica' && name !== candidate
      ? [{ name, role: s.role, enabled: s.enabled && !s.fenced, failoverPriority: s.failover_priority, nofailover: s.nofailover, streaming: false, flushLagMb: null, lagLimitMb: s.lag_limit }]
      : [];
  });
  const next = syncForNewMaster(policy, candidate, others, recordedSet(env.book.syncRecord()));
  const value = standbyNamesValue(next.named, policy.method);
  const reason = `promoting ${candidate}: ${value === '' ? 'asynchronous (no other eligible replica)' : `'${value}', counted once its replicas caught up`}`;
  if (!(await record(env, candidate, next.recorded, reason))) return { ok: false, details: `not promoting ${candidate}: the synchronous set could not be saved` };
  try {
    await withMonitoringSession(env, ref(env, candidate), (s) => guardedStandbyNames(env, s, value));
  } catch (err) {
    return { ok: false, details: `not promoting ${candidate}: cannot set synchronous_standby_names: ${describeError(err)}` };
  }
  return { ok: true, details: `synchronous_standby_names '${value}'; ` };
}
