/**
 * Whether to fail over, as one pure function over what was observed (design.md §5.1, §5.2).
 * failover_check, the recovery of an interrupted change and dry runs all ask this same question,
 * so a controller restarted cut off from a live master judges exactly as a live one would.
 */
import type { MasterFailureReasonCode, MasterFailureVerdict } from './master-failure.js';

/**
 * How the controller reaches the failed master's host. A refused database connection is no proof
 * of anything (a firewall may refuse for it while clients on its side still write).
 */
export type MasterReach =
  /** The control channel answers: the master can be stopped (or is confirmed stopped). */
  | 'control'
  /** No control channel: the master may still be taking writes behind a partition. */
  | 'none';

/**
 * With failover.unreachable_master agent_lease, the failed master's node-agent lease in etcd:
 * `released` — this controller saw the agent hold it while the master was healthy, and it is gone
 * now (the agent stops its PostgreSQL before it lets the lease lapse); `held` — still alive;
 * `never_held` — no agent was seen holding it (no agent there: its absence proves nothing);
 * `unknown` — etcd did not answer.
 */
export type MasterLeaseState = 'released' | 'held' | 'never_held' | 'unknown';

export interface FailoverSnapshot {
  /** The single enabled master in the book, or null. */
  master: string | null;
  /** Maintenance mode: nothing fails over automatically. */
  paused: boolean;
  /** The master was stopped through HandyRep (shutdown/restart): not a failure. */
  plannedDown: boolean;
  /** A topology change is already running. */
  topologyChangeRunning: boolean;
  /** The controller reached the master at one of its retries. */
  controllerReached: boolean;
  /** What the vantage points say (when the controller did not reach the master). */
  vantage: MasterFailureVerdict | null;
  reach: MasterReach;
  autoFailover: boolean;
  /** failover.restart_master, and whether that restart was already tried. */
  restartMaster: boolean;
  restartTried: boolean;
  /** failover.unreachable_master. */
  unreachableMaster: 'refuse' | 'promote' | 'agent_lease';
  /** The master's agent lease (asked only with agent_lease and an unreachable master), else null. */
  masterLease: MasterLeaseState | null;
  /** What etcd's history proved or why it could not (store/etcd/lease-history.ts), when it was asked; else null/absent. */
  masterLeaseNote?: string | null;
  /** A connection failover plugin is configured (proxies can be repointed first). */
  connectionFailover: boolean;
  /**
   * Other servers fenced without proof they stopped (unreachable when fenced, or a promotion
   * that may have completed out of reach): any of them may be taking writes right now.
   */
  unconfirmedFences: readonly string[];
}

export type FailoverAction = 'none' | 'warn' | 'restart_master' | 'failover';

export type DecisionCode =
  | 'master_ok'
  | 'no_master'
  | 'topology_change_running'
  | 'paused'
  | 'planned_down'
  | Exclude<MasterFailureReasonCode, 'master_failed'>
  | 'vantage_ambiguous'
  | 'auto_failover_off'
  | 'unreachable_master_refused'
  | 'unreachable_master_no_proxies'
  | 'master_lease_held'
  | 'master_lease_never_held'
  | 'master_lease_unknown'
  | 'master_failed_lease_released'
  | 'unconfirmed_fence_refused'
  | 'unconfirmed_fence_no_proxies'
  | 'restart_master'
  | 'master_failed'
  | 'master_failed_unfenced';

export interface FailoverDecision {
  action: FailoverAction;
  reason_code: DecisionCode;
  reason: string;
  /** With action failover: the old master cannot be stopped, so the proxies are repointed first. */
  proxiesFirst: boolean;
}

const decision = (action: FailoverAction, reason_code: DecisionCode, reason: string, proxiesFirst = false): FailoverDecision => ({ action, reason_code, reason, proxiesFirst });

export function decideFailover(s: FailoverSnapshot): FailoverDecision {
  if (s.master === null) return decision('none', 'no_master', 'no single enabled master: nothing to fail over from');
  if (s.controllerReached) return decision('none', 'master_ok', `the controller reaches the master ${s.master}`);
  if (s.topologyChangeRunning) return decision('none', 'topology_change_running', 'a topology change is in progress, not deciding');
  if (s.plannedDown) return decision('warn', 'planned_down', `the master ${s.master} was stopped through HandyRep: not a failure, not failing over`);
  if (s.vantage === null) return decision('warn', 'vantage_ambiguous', `the controller cannot reach the master ${s.master} and no vantage point was asked`);
  if (!s.vantage.failed) return decision('warn', s.vantage.reason_code, `not failing over: ${s.vantage.reason}`);
  if (s.paused) return decision('warn', 'paused', `the master ${s.master} is down (${s.vantage.reason}); maintenance mode: not failing over`);
  // Restarting the old master while another server may be writable makes two masters as surely
  // as promoting one: no restart then.
  const unconfirmed = s.unconfirmedFences.length > 0;
  if (s.restartMaster && !s.restartTried && s.reach === 'control' && !unconfirmed) {
    return decision('restart_master', 'restart_master', `the master ${s.master} is down (${s.vantage.reason}); restarting it first`);
  }
  if (!s.autoFailover) return decision('warn', 'auto_failover_off', `the master ${s.master} is down (${s.vantage.reason}); auto_failover is off`);
  if (unconfirmed) {
    // A server that may be writable behind a partition is a master nobody can fence: promoting
    // another makes two, exactly as with an unreachable master (same setting, same rule).
    const who = `${s.unconfirmedFences.join(', ')} ${s.unconfirmedFences.length > 1 ? 'are' : 'is'} fenced without proof of being stopped and may still be taking writes`;
    // agent_lease proves only the failed master's fence, not these: refused as with `refuse`.
    if (s.unreachableMaster !== 'promote') {
      return decision('warn', 'unconfirmed_fence_refused', `the master ${s.master} is down (${s.vantage.reason}), but ${who}; not failing over (failover.unreachable_master: ${s.unreachableMaster})`);
    }
    if (!s.connectionFailover) {
      return decision('warn', 'unconfirmed_fence_no_proxies', `the master ${s.master} is down, but ${who} and no connection failover is configured to stop clients using it; not failing over`);
    }
    return decision('failover', 'master_failed_unfenced', `master ${s.master} is down: ${s.vantage.reason}; ${who}: the proxies are repointed before the promotion (fence unconfirmed)`, true);
  }
  if (s.reach === 'none') {
    if (s.unreachableMaster === 'agent_lease') return decideByAgentLease(s.master, s.vantage.reason, s.masterLease, s.masterLeaseNote ?? null);
    if (s.unreachableMaster === 'refuse') {
      return decision(
        'warn',
        'unreachable_master_refused',
        `the master ${s.master} cannot be reached at all (${s.vantage.reason}), so it cannot be fenced; not failing over (failover.unreachable_master: refuse)`,
      );
    }
    if (!s.connectionFailover) {
      return decision(
        'warn',
        'unreachable_master_no_proxies',
        `the master ${s.master} cannot be reached at all and no connection failover is configured to stop clients using it; not failing over`,
      );
    }
    return decision('failover', 'master_failed_unfenced', `master ${s.master} is down: ${s.vantage.reason}; it cannot be fenced: the proxies are repointed before the promotion (fence unconfirmed)`, true);
  }
  return decision('failover', 'master_failed', `master ${s.master} is down: ${s.vantage.reason}`);
}

/** An unreachable master under agent_lease: fenced only by its agent's lease lapsing (design §9 rule 1). */
function decideByAgentLease(master: string, down: string, lease: MasterLeaseState | null, note: string | null): FailoverDecision {
  const history = note === null ? '' : ` (${note})`;
  switch (lease) {
    case 'released':
      return decision('failover', 'master_failed_lease_released', `master ${master} is down: ${down}; its node agent's master lease is gone from etcd${history} (the agent stops its PostgreSQL before the lease can lapse)`);
    case 'held':
      return decision('warn', 'master_lease_held', `the master ${master} cannot be reached (${down}), but its node agent still holds its master lease${history}: not failing over until the lease lapses (the agent stops PostgreSQL first)`);
    case 'never_held':
      return decision('warn', 'master_lease_never_held', `the master ${master} cannot be reached (${down}) and no node agent was seen holding its master lease${history}, so its absence proves nothing; not failing over (failover.unreachable_master: agent_lease)`);
    case 'unknown':
    case null:
      return decision('warn', 'master_lease_unknown', `the master ${master} cannot be reached (${down}) and its master lease cannot be read from etcd; not failing over`);
  }
}
