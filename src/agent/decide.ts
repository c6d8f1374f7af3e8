/**
 * What a node agent does in one round, as a pure function of what it observed: the `master` key,
 * its PostgreSQL, and its master lease. No I/O, no clock: the caller passes whether the lease is
 * still fresh (measured on a monotonic clock by lease-keeper.ts).
 *
 * The rules (the contract with the controller, see docs/node-agent.md):
 *   - PostgreSQL may be writable only while `master` names this node; when it names another node, a
 *     writable PostgreSQL is demoted at once.
 *   - No `master` key at all: nobody has recorded anything yet; a writable PostgreSQL is left
 *     alone (the agent never destroys a master on absence of information) and no lease is held.
 *   - The key cannot be read (etcd unreachable, or it holds garbage): nothing changes while the
 *     lease is fresh; once it is not, a writable PostgreSQL is demoted (it can no longer prove
 *     that nobody else was promoted).
 *   - The lease is held only while this node is the recorded master and its PostgreSQL runs
 *     writable; it is released at once when PostgreSQL crashed or stopped, so a failover need
 *     not wait for the TTL.
 *   - A crashed postmaster (died while the agent saw it running, not stopped on purpose) of the
 *     recorded master is restarted once when restart_on_crash is on; never one stopped on purpose.
 */
import type { MasterRecord } from '../store/etcd/master-record.js';

/** The `master` key as read this round. */
export type MasterKeyView =
  | { readonly state: 'present'; readonly record: MasterRecord }
  | { readonly state: 'absent' }
  /** etcd did not answer, or the value failed validation (reason says which). */
  | { readonly state: 'unreadable'; readonly reason: string };

/** The local PostgreSQL as classified by postgres-state.ts. */
export type PostgresView =
  | { readonly state: 'running'; readonly writable: boolean }
  /** Its postmaster lives but does not answer SQL (starting, frozen, out of connections). */
  | { readonly state: 'unresponsive' }
  /** Died while the agent saw it running, without being stopped on purpose. */
  | { readonly state: 'crashed' }
  /** Not running: stopped on purpose (by the agent, the controller or an operator), or never seen running. */
  | { readonly state: 'stopped' };

export interface AgentSnapshot {
  readonly node: string;
  readonly master: MasterKeyView;
  readonly postgres: PostgresView;
  /** Whether this agent holds `master_lease/<node>` now. */
  readonly leaseHeld: boolean;
  /** Whether the last successful renewal is younger than ttl − safety_margin (false when not held). */
  readonly leaseFresh: boolean;
  readonly restartOnCrash: boolean;
  /** Whether the one restart after a crash was already tried since PostgreSQL last ran writable. */
  readonly crashRestartTried: boolean;
}

export type AgentAction =
  /** Make PostgreSQL not writable: stop fast, then immediate, then kill the instance. */
  | 'demote'
  /** Take the master lease when not held, else renew it. */
  | 'hold_lease'
  /** Revoke the master lease now. */
  | 'release_lease'
  /** Start the crashed master again (once). */
  | 'restart_crashed';

export interface AgentPlan {
  readonly actions: readonly AgentAction[];
  /** A stable code for logs, metrics and tests. */
  readonly reason: AgentReason;
  /** One sentence saying why. */
  readonly sentence: string;
}

export type AgentReason =
  | 'master_names_other'
  | 'master_is_us'
  | 'lease_stale'
  | 'no_record'
  | 'record_unreadable'
  | 'replica'
  | 'crashed_restart'
  | 'crashed_release'
  | 'stopped'
  | 'unresponsive';

export function decideAgentRound(s: AgentSnapshot): AgentPlan {
  const release: AgentAction[] = s.leaseHeld ? ['release_lease'] : [];
  const recorded = s.master.state === 'present' ? s.master.record.name : null;
  const pg = s.postgres;
  switch (pg.state) {
    case 'crashed':
      if (recorded === s.node && s.restartOnCrash && !s.crashRestartTried) {
        // The lease is not renewed meanwhile: if the restart hangs it expires on its own.
        return plan(['restart_crashed'], 'crashed_restart', 'the recorded master\'s postmaster died: restarting it once (restart_on_crash)');
      }
      return plan(release, 'crashed_release', `the postmaster died${s.leaseHeld ? ': master lease released so the failover need not wait for its TTL' : ''}`);
    case 'stopped':
      return plan(release, 'stopped', 'PostgreSQL is not running (stopped on purpose or not started): nothing to do');
    case 'unresponsive':
      // Not renewed: a master that cannot answer SQL is not known to be writable. Once the lease
      // is stale the instance is stopped, so that it cannot thaw into a second writable master.
      if (s.leaseHeld && !s.leaseFresh) return plan(['demote', 'release_lease'], 'lease_stale', 'PostgreSQL does not answer and the master lease is stale: stopping it');
      return plan([], 'unresponsive', 'PostgreSQL runs but does not answer SQL: waiting');
    case 'running':
      break;
  }
  if (!pg.writable) return plan(release, 'replica', 'PostgreSQL runs read-only');
  if (s.master.state === 'present') {
    if (recorded !== s.node) {
      return plan(['demote', ...release], 'master_names_other', `the master key names ${recorded}: demoting this writable PostgreSQL`);
    }
    if (s.leaseHeld && !s.leaseFresh) {
      return plan(['demote', 'release_lease'], 'lease_stale', 'the master lease could not be renewed within ttl − safety_margin: demoting');
    }
    return plan(['hold_lease'], 'master_is_us', 'this node is the recorded master and runs writable: lease held');
  }
  if (s.master.state === 'absent') {
    return plan(release, 'no_record', 'no master key yet: this writable PostgreSQL is left alone');
  }
  if (s.leaseHeld && !s.leaseFresh) {
    return plan(['demote', 'release_lease'], 'lease_stale', `the master key is unreadable (${s.master.reason}) and the lease is stale: demoting`);
  }
  // Keep renewing while we can: the record is unknown, not changed.
  return plan(s.leaseHeld ? ['hold_lease'] : [], 'record_unreadable', `the master key is unreadable (${s.master.reason}): no change`);
}

function plan(actions: AgentAction[], reason: AgentReason, sentence: string): AgentPlan {
  return { actions, reason, sentence };
}
