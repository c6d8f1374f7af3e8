/**
 * The actions the page offers, each one operation of the daemon's table called through its REST
 * route. How each is confirmed: one click, a typed name (it moves the master or destroys data), or
 * the dry-run plan first and then the typed name (switchover).
 */
import type { ServerRecord } from './types';

export type Confirmation = 'click' | 'typed' | 'plan';

export interface ActionSpec {
  /** Stable id (buttons carry it as data-action, tests find them by it). */
  id: string;
  label: string;
  /** The operation called. */
  operation: string;
  confirm: Confirmation;
  /** What it does, shown in the confirmation dialog. */
  explain: string;
  params: (server: string) => Record<string, unknown>;
  /** Offered for this server? */
  offered: (s: ServerRecord, master: string | null) => boolean;
}

/** Status numbers: 4 unavailable, 5 down (Stop is not offered for a server known down; Start only when it does not answer). */
const UNAVAILABLE = 4;
const DOWN = 5;
const isReplica = (s: ServerRecord): boolean => s.role === 'replica';
const cloning = (s: ServerRecord): boolean => s.action === 'clone' && s.action_progress?.state === 'running';

export const SERVER_ACTIONS: readonly ActionSpec[] = [
  { id: 'switchover', label: 'Switch over to', operation: 'manual_failover', confirm: 'plan',
    explain: 'Make this replica the master: a lossless switchover while the master is healthy, a failover when it is not.',
    params: (server) => ({ newmaster: server }), offered: (s, master) => isReplica(s) && s.enabled && !s.fenced && master !== null && !cloning(s) },
  { id: 'promote', label: 'Promote', operation: 'promote', confirm: 'typed',
    explain: 'Promote this replica (refused while the master runs; the old master is fenced).',
    params: (server) => ({ newmaster: server }), offered: (s) => isReplica(s) && s.enabled && !s.fenced && !cloning(s) },
  { id: 'restart', label: 'Restart', operation: 'restart', confirm: 'click', explain: 'Restart PostgreSQL and confirm it is up.',
    params: (server) => ({ servername: server }), offered: (s) => s.enabled && !cloning(s) },
  { id: 'stop', label: 'Stop', operation: 'shutdown', confirm: 'click', explain: 'Stop PostgreSQL and confirm it is down.',
    params: (server) => ({ servername: server }), offered: (s) => s.enabled && !cloning(s) && s.status_no !== DOWN },
  { id: 'start', label: 'Start', operation: 'startup', confirm: 'click', explain: 'Start PostgreSQL and confirm it is up.',
    params: (server) => ({ servername: server }), offered: (s) => s.enabled && !cloning(s) && s.status_no >= UNAVAILABLE },
  { id: 'enable', label: 'Enable', operation: 'enable', confirm: 'click', explain: 'Enable the server and verify it.',
    params: (server) => ({ servername: server }), offered: (s) => !s.enabled && !s.fenced && !cloning(s) },
  { id: 'disable', label: 'Disable', operation: 'disable', confirm: 'click', explain: 'Disable the server: it is shut down and no longer checked.',
    params: (server) => ({ servername: server }), offered: (s) => s.enabled && s.role !== 'master' && !cloning(s) },
  { id: 'clone', label: 'Clone', operation: 'clone', confirm: 'typed', explain: 'Clone this server from the master; it streams from the master and is enabled when done.',
    params: (server) => ({ replicaserver: server, wait: false }), offered: (s) => !s.enabled && s.role !== 'master' && !s.fenced && !cloning(s) },
  { id: 'reclone', label: 'Reclone', operation: 'clone', confirm: 'typed', explain: 'Stop this server, replace its data folder by a fresh copy of the master, and start it as a replica.',
    params: (server) => ({ replicaserver: server, reclone: true, wait: false }), offered: (s) => (isReplica(s) || s.fenced) && !cloning(s) },
  { id: 'cancel-clone', label: 'Cancel clone', operation: 'cancel_clone', confirm: 'click', explain: 'Cancel the running clone; the server is left disabled.',
    params: (server) => ({ servername: server }), offered: cloning },
  { id: 'rejoin', label: 'Rejoin', operation: 'rejoin', confirm: 'typed', explain: 'Rewind this fenced old master with pg_rewind and start it as a replica.',
    params: (server) => ({ servername: server }), offered: (s, master) => s.fenced && master !== null && !cloning(s) },
];

export const CLUSTER_ACTIONS: readonly ActionSpec[] = [
  { id: 'pause', label: 'Pause failover', operation: 'pause', confirm: 'click', explain: 'Pause automatic failover (maintenance): checks go on, nothing fails over, restarts or is fenced automatically until resume.',
    params: () => ({ by: 'dashboard' }), offered: () => true },
  { id: 'resume', label: 'Resume failover', operation: 'resume', confirm: 'click', explain: 'Resume automatic failover.', params: () => ({}), offered: () => true },
];
