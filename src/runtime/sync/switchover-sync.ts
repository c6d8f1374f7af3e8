/**
 * A switchover to a replica outside the recorded synchronous set (issue 15): before the master
 * is stopped, the target is recorded (widened record first), named alone in the master's
 * synchronous_standby_names, and waited for until it flushed past the master's position. The
 * switchover itself loses nothing either way (it waits for the final WAL); this keeps every
 * commit acknowledged meanwhile on the target too. The maintainer restores the usual set on its
 * next cycle if the switchover is called off.
 */
import { guardedStandbyNames } from './master-replication.js';
import { standbyNamesValue, widenSet, type SyncSet } from '../../engine/sync-set.js';
import { ref, withMonitoringSession, type TopologyEnv } from '../topology/env.js';
import { caughtUp, record, recordedSet } from './sync-maintainer.js';

export async function syncTargetBeforeSwitchover(env: TopologyEnv, master: string, target: string): Promise<{ ok: boolean; details: string }> {
  const failover = env.ctx().config.failover;
  if (failover.synchronous_mode === 'off') return { ok: true, details: '' };
  const recorded = recordedSet(env.book.syncRecord());
  if (recorded.quorum > 0 && recorded.members.includes(target)) return { ok: true, details: `${target} is a synchronous member; ` };
  const named: SyncSet = { members: [target], quorum: 1 };
  if (!(await record(env, master, widenSet(recorded, named), `switchover to ${target}: naming it synchronous first`))) {
    return { ok: false, details: `cannot record ${target} in the synchronous set` };
  }
  const value = standbyNamesValue(named, failover.synchronous_method);
  await withMonitoringSession(env, ref(env, master), (s) => guardedStandbyNames(env, s, value));
  if (!(await caughtUp(env, master, named))) return { ok: false, details: `${target} named synchronous ('${value}') but did not catch up with ${master}` };
  return { ok: true, details: `${target} named synchronous ('${value}') and caught up; ` };
}
