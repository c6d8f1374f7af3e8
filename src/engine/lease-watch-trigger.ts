/**
 * The leading controller watches `master_lease/` (design §9 rule 1): an agent's lease that goes —
 * released by the agent (its postmaster died) or expired in etcd (its host is gone) — is the
 * earliest sign a master is down. Which watch events start a failover judgement at once, and when a
 * probe of a server may use a short deadline instead of the connect timeout. Pure.
 */
import type { ServerStatusName } from '../model/status.js';

/** One change of a `master_lease/<node>` key (an expiry arrives as a delete). */
export interface MasterLeaseEvent {
  readonly kind: 'put' | 'delete';
  readonly node: string;
  /** The etcd revision of the change (a delete's own revision); absent when the source does not say. */
  readonly revision?: string;
}

/** What the controller knows when the event arrives. */
export interface LeaseWatchView {
  /** This controller leads now (only the leader judges and acts). */
  readonly leading: boolean;
  /** The book's single enabled master, or null. */
  readonly master: string | null;
  readonly topologyChangeRunning: boolean;
  /** Maintenance mode or a planned stop of the master: nothing is decided automatically. */
  readonly onHold: boolean;
  /** failover.unreachable_master is agent_lease: only then does a lapsed lease prove anything. */
  readonly agentLease: boolean;
}

export type LeaseWatchTrigger = { readonly judge: true; readonly master: string; readonly reason: string } | { readonly judge: false; readonly reason: string };

/**
 * Whether `event` starts a judgement of the master now. Only the loss of the recorded master's own
 * lease does: a lease taken or renewed proves nothing new, another node's lease is not the master's,
 * and the judgement itself still applies every rule (vantage points, agent_lease, no other lease).
 */
export function leaseWatchTrigger(event: MasterLeaseEvent, view: LeaseWatchView): LeaseWatchTrigger {
  if (event.kind === 'put') return { judge: false, reason: `master_lease/${event.node} was taken or renewed: nothing to judge` };
  if (!view.agentLease) return { judge: false, reason: 'failover.unreachable_master is not agent_lease: a lapsed lease proves nothing here, the checks judge' };
  if (!view.leading) return { judge: false, reason: 'this controller does not lead: the leader judges' };
  if (view.master === null) return { judge: false, reason: 'no single enabled master: nothing to fail over from' };
  if (event.node !== view.master) return { judge: false, reason: `master_lease/${event.node} is not the master's (${view.master}): nothing to judge` };
  if (view.topologyChangeRunning) return { judge: false, reason: 'a topology change is in progress: not judging' };
  if (view.onHold) return { judge: false, reason: 'automatic failover is on hold: the checks go on, nothing is decided' };
  return { judge: true, master: view.master, reason: `the master ${view.master}'s agent lease is gone from etcd (released or expired): judging it now` };
}

/** What is known of a server whose control-channel probe may be shortened. */
export interface QuickProbeFacts {
  /** failover.unreachable_master is agent_lease. */
  readonly agentLease: boolean;
  /** This leader's watch saw its `master_lease` go, and no new one since. */
  readonly leaseLapsed: boolean;
  /** Its last check got no answer (unavailable) or was refused (down). */
  readonly status: ServerStatusName;
}

/** The short deadline of a control-channel question (never of a database-port one). */
export const QUICK_PROBE_MS = 300;

/**
 * The deadline for the CONTROL CHANNEL question ("does it run?") of a server, or null for the usual
 * connect timeout. Only under agent_lease, for a server that has not answered since its loss AND
 * whose agent lease this leader saw lapse (callers also require the lease's seen-held proof). That
 * answer only chooses between stopping it over the channel and the lease path, and the lease path
 * still asks the database port with its full timeout (an agent killed while its PostgreSQL runs
 * answers there, writable: no fence). The database port is never cut short: one lost SYN takes 1 s.
 */
export function quickProbeMs(facts: QuickProbeFacts, connectMs: number): number | null {
  if (!facts.agentLease || !facts.leaseLapsed) return null;
  if (facts.status !== 'unavailable' && facts.status !== 'down') return null;
  return Math.min(connectMs, QUICK_PROBE_MS);
}
