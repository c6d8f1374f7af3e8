/**
 * Whether a running replica must be made to follow the winner of an agents' election (pure). The
 * controller remasters replicas itself after its own failovers, so only a master recorded by an
 * agents' election (`written_by: agent:<node>`) and confirmed by its winner (timeline written, so
 * it is promoted) makes an agent restart its replica onto it; the agent does that by stopping it
 * and letting role discovery start it as a standby of the recorded master (boot-standby.ts:
 * pg_rewind when the timelines forked, primary_conninfo, slot).
 *
 * `following` is the master this replica is known to follow: the first master the agent saw
 * recorded (adopted as it was), then each one it was made to follow.
 */
import type { MasterRecord } from '../../store/etcd/master-record.js';

export type FollowPlan = { readonly kind: 'none' } | { readonly kind: 'remaster'; readonly master: string; readonly sentence: string };

export function decideFollow(node: string, record: MasterRecord | null, replicaRunning: boolean, following: string | null): FollowPlan {
  if (record === null || following === null || record.name === node || record.name === following) return { kind: 'none' };
  if (!record.written_by.startsWith('agent:') || record.timeline === null) return { kind: 'none' };
  if (!replicaRunning) return { kind: 'none' };
  return { kind: 'remaster', master: record.name, sentence: `${record.name} won the agents' election (it replaced ${following}): restarting this replica as its standby` };
}
