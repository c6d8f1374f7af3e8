/**
 * How a status change is reported: every change is logged once as "old → new: reason"; changes
 * into unavailable/down from a running status are failures (alerted), changes back are recoveries.
 * A running server getting worse (healthy → lagged → warning) is degraded: alerted as a warning,
 * because a replica far behind is a replica a failover may have to skip or lose data with.
 */
import type { ServerStatusName, ClusterStatusName } from '../model/status.js';

export type ChangeSeverity = 'failure' | 'degraded' | 'recovery' | 'change';

const RUNNING: ReadonlySet<string> = new Set(['healthy', 'lagged', 'warning']);
const FAILED: ReadonlySet<string> = new Set(['unavailable', 'down']);
const RUNNING_RANK: Readonly<Record<string, number>> = { healthy: 0, lagged: 1, warning: 2 };

/** Severity of a server status change (called only when old !== new). */
export function serverChangeSeverity(from: ServerStatusName, to: ServerStatusName): ChangeSeverity {
  if (FAILED.has(to) && !FAILED.has(from)) return 'failure';
  const fromRank = RUNNING_RANK[from];
  const toRank = RUNNING_RANK[to];
  if (fromRank !== undefined && toRank !== undefined && toRank > fromRank) return 'degraded';
  if (RUNNING.has(to) && (FAILED.has(from) || (from === 'warning' && to !== 'warning') || from === 'lagged')) {
    return from === 'unknown' ? 'change' : 'recovery';
  }
  return 'change';
}

/** Severity of a cluster status change (called only when old !== new). */
export function clusterChangeSeverity(from: ClusterStatusName, to: ClusterStatusName): ChangeSeverity {
  const rank: Record<ClusterStatusName, number> = { unknown: 0, healthy: 1, warning: 3, down: 5 };
  if (rank[to] > rank[from] && to !== 'healthy') return 'failure';
  if (rank[to] < rank[from] && from !== 'unknown') return 'recovery';
  return 'change';
}

/** The one log line of a change. */
export function describeChange(subject: string, from: string, to: string, reason: string): string {
  return `${subject} status changed ${from} → ${to}: ${reason}`;
}
