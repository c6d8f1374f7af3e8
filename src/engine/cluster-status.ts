/**
 * Cluster status from server statuses (seed 004, reference §4.3 with its gaps closed: an unchecked
 * master makes the cluster "unknown", not "healthy"; two enabled masters make it "down").
 * Evaluated in order; the first rule that applies wins.
 *
 * A master that does not answer HandyRep is not yet a failed master: the cluster is `down` only
 * once the failover check's judgement found nobody who sees it (design.md §5.1). Until then, or
 * while the judgement cannot tell, the cluster is `warning`.
 */
import type { ClusterStatusName } from '../model/status.js';
import type { ServerRecord } from '../model/server.js';
import { cutOffMessage, type MasterJudgement } from './master-vantage.js';

export interface ClusterVerdict {
  status: ClusterStatusName;
  message: string;
  /** Logged but not alerted: a planned or transient state, or one the judgement alerts itself. */
  quiet?: true;
}

type ServerView = Pick<ServerRecord, 'role' | 'enabled' | 'status' | 'status_no'> & Partial<Pick<ServerRecord, 'fence_unconfirmed'>>;

/** What besides the servers' statuses the cluster status depends on. */
export interface ClusterContext {
  /** The valid judgement of the current master, if any (see currentJudgement). */
  judgement: MasterJudgement | null;
  /** The server HandyRep shut down or is restarting on an operator's request, if any. */
  plannedDown: string | null;
  /** Automatic failover is paused (maintenance): no judgement will follow a failed check. */
  paused: boolean;
  /** A failover, switchover or promotion is running: the servers change roles one by one. */
  topologyInFlight: boolean;
}

const NO_CONTEXT: ClusterContext = { judgement: null, plannedDown: null, paused: false, topologyInFlight: false };

export function clusterStatus(servers: Readonly<Record<string, ServerView>>, context: ClusterContext = NO_CONTEXT): ClusterVerdict {
  const entries = Object.entries(servers).filter(([, s]) => s.enabled);
  const masters = entries.filter(([, s]) => s.role === 'master');
  const replicas = entries.filter(([, s]) => s.role === 'replica');
  // Mid-change the book briefly holds no master (old one out, new one not yet in): logged, not alerted.
  const transient = context.topologyInFlight ? ({ quiet: true } as const) : {};

  if (masters.length === 0) return { status: 'down', message: 'no enabled master is configured', ...transient };
  if (masters.length > 1) {
    return { status: 'down', message: `more than one enabled master: ${masters.map(([n]) => n).join(', ')}`, ...transient };
  }
  const [masterName, master] = masters[0] as [string, ServerView];
  const judgement = context.judgement?.master === masterName ? context.judgement : null;
  if (master.status === 'unknown') return { status: 'unknown', message: `master ${masterName} has not been checked yet` };
  if (master.status === 'down' && context.plannedDown === masterName) {
    return { status: 'down', message: `master ${masterName} was stopped through HandyRep`, quiet: true };
  }
  if (master.status === 'unavailable') return unansweringMaster(masterName, judgement, context.paused);
  if (master.status_no > 3) return { status: 'down', message: `master ${masterName} is ${master.status}` };
  if (judgement?.kind === 'seen' && master.status === 'warning') {
    return { status: 'warning', message: `master ${masterName}: ${cutOffMessage(judgement)}` };
  }
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

/** The master gives HandyRep no answer: down only when judged failed. */
function unansweringMaster(name: string, judgement: MasterJudgement | null, paused: boolean): ClusterVerdict {
  if (judgement?.kind === 'seen') return { status: 'warning', message: `master ${name}: ${cutOffMessage(judgement)}` };
  if (judgement?.kind === 'failed') return { status: 'down', message: `master ${name} is unavailable: ${judgement.reason}` };
  if (judgement?.kind === 'held') return { status: 'warning', message: judgement.reason, quiet: true };
  if (judgement?.kind === 'undecided') {
    return { status: 'warning', message: `master ${name} does not answer HandyRep and nobody can tell whether it is down: ${judgement.reason}` };
  }
  if (paused) return { status: 'warning', message: `master ${name} does not answer HandyRep; failover is paused, so it is not judged` };
  // The failover check judges it next (and alerts what it finds).
  return { status: 'warning', message: `master ${name} does not answer HandyRep; checking whether the replicas still see it`, quiet: true };
}
