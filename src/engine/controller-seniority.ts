/**
 * Which of several controllers watching one cluster may act (single-controller deployments
 * without etcd): among the controllers whose heartbeat is fresh, the one started first (then the
 * smallest id). Every other one refuses topology changes and says whose turn it is. Identities
 * persist across restarts (kept beside the state file), so a restarted controller keeps its
 * seniority and recognises its own old heartbeat.
 */
import type { ControllerHeartbeat } from '../model/controller-heartbeat.js';

export type Seniority = { acts: true } | { acts: false; holder: ControllerHeartbeat; ageMs: number; reason: string };

/** Newest heartbeat per controller id, from several servers' copies. */
export function mergeHeartbeats(copies: readonly (readonly ControllerHeartbeat[])[]): ControllerHeartbeat[] {
  const newest = new Map<string, ControllerHeartbeat>();
  for (const beat of copies.flat()) {
    const known = newest.get(beat.id);
    if (!known || beat.heartbeat_ms > known.heartbeat_ms) newest.set(beat.id, beat);
  }
  return [...newest.values()];
}

function senior(a: Pick<ControllerHeartbeat, 'started_ms' | 'id'>, b: Pick<ControllerHeartbeat, 'started_ms' | 'id'>): boolean {
  return a.started_ms < b.started_ms || (a.started_ms === b.started_ms && a.id < b.id);
}

type Self = Pick<ControllerHeartbeat, 'id' | 'started_ms'>;

export function seniority(self: Self, heartbeats: readonly ControllerHeartbeat[], nowMs: number, freshMs: number): Seniority {
  const rivals = heartbeats.filter((b) => b.id !== self.id && nowMs - b.heartbeat_ms <= freshMs && senior(b, self));
  if (rivals.length === 0) return { acts: true };
  const holder = rivals.reduce((a, b) => (senior(a, b) ? a : b));
  const ageMs = Math.max(0, nowMs - holder.heartbeat_ms);
  return {
    acts: false,
    holder,
    ageMs,
    reason: `another HandyRep acts on this cluster: pid ${holder.pid} on ${holder.hostname} (state file ${holder.state_file}), started first, heartbeat ${(ageMs / 1000).toFixed(1)} s ago; this one (started later) does not change the topology`,
  };
}
