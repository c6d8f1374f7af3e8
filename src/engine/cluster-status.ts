/**
 * Cluster status from server statuses (seed 004, reference §4.3 with its gaps closed: an unchecked
 * master makes the cluster "unknown", not "healthy"; two enabled masters make it "down").
 * Evaluated in order; the first rule that applies wins.
 */
import type { ClusterStatusName } from '../model/status.js';
import type { ServerRecord } from '../model/server.js';

export interface ClusterVerdict {
  status: ClusterStatusName;
  message: string;
}

type ServerView = Pick<ServerRecord, 'role' | 'enabled' | 'status' | 'status_no'> & Partial<Pick<ServerRecord, 'fence_unconfirmed'>>;

export function clusterStatus(servers: Readonly<Record<string, ServerView>>): ClusterVerdict {
  const entries = Object.entries(servers).filter(([, s]) => s.enabled);
  const masters = entries.filter(([, s]) => s.role === 'master');
  const replicas = entries.filter(([, s]) => s.role === 'replica');

  if (masters.length === 0) return { status: 'down', message: 'no enabled master is configured' };
  if (masters.length > 1) {
    return { status: 'down', message: `more than one enabled master: ${masters.map(([n]) => n).join(', ')}` };
  }
  const [masterName, master] = masters[0] as [string, ServerView];
  if (master.status === 'unknown') return { status: 'unknown', message: `master ${masterName} has not been checked yet` };
  if (master.status_no > 3) return { status: 'down', message: `master ${masterName} is ${master.status}` };
  if (master.status_no > 1) return { status: 'warning', message: `master ${masterName} has issues (${master.status})` };

  const unconfirmed = Object.entries(servers).filter(([, s]) => s.fence_unconfirmed === true).map(([n]) => n);
  if (unconfirmed.length > 0) {
    return { status: 'warning', message: `old master(s) not confirmed stopped (fence unconfirmed): ${unconfirmed.join(', ')}` };
  }
  const failed = replicas.filter(([, s]) => s.status_no > 3).map(([n]) => n);
  if (failed.length > 0) {
    return { status: 'warning', message: `${failed.length} replica(s) down or unavailable: ${failed.join(', ')}` };
  }
  if (replicas.length === 0) return { status: 'warning', message: 'no enabled replica in this cluster' };
  return { status: 'healthy', message: 'master and replicas are running' };
}
