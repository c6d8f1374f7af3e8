/**
 * What the agent checks of its own node before a command that could lose writes or data runs
 * (issue 14, clone-guard). Pure decisions over a snapshot; the executor (executor.ts) gathers the
 * facts and answers a refusal with its reason code, nothing run.
 *
 * - A clone or a rewind replaces or rewrites the node's data: never while this node is, or may
 *   still be, a master — the `master` key names it, this agent holds its master lease, the key
 *   `master_lease/<node>` is still in etcd (a previous agent process's lease, until its TTL), or
 *   its PostgreSQL runs writable (or runs and its role is not known yet). The `master` key alone was
 *   not enough: it may be unreadable, or changed by a controller that believed the node stopped,
 *   while the lease still says this node is the master.
 * - A start (pg_ctl or systemctl start, restart) never runs on a data folder holding a partial copy
 *   (copy-marker.ts): the agent's boot copies it again first.
 */
export type GuardCode =
  | 'master_key_names_node'
  | 'master_lease_held'
  | 'master_lease_key_present'
  | 'postgres_writable'
  | 'postgres_role_unknown'
  | 'partial_copy';

export interface GuardRefusal {
  readonly code: GuardCode;
  readonly message: string;
}

/** The node's state as the agent sees it when a destructive command is about to be taken. */
export interface DestructiveFacts {
  readonly node: string;
  /** The node the `master` key names, or null (absent or unreadable). */
  readonly recordedMaster: string | null;
  /** This agent process holds its master lease. */
  readonly leaseHeld: boolean;
  /** `master_lease/<node>` exists in etcd (held by this process, or left by an earlier one until its TTL). */
  readonly leaseKeyPresent: boolean;
  /** `unknown`: a postmaster runs but its role was not read yet. */
  readonly postgres: 'stopped' | 'read_only' | 'writable' | 'unknown';
}

/** The actions that replace or rewrite the node's data. */
export function isDestructive(action: unknown): action is 'clone' | 'rewind' {
  return action === 'clone' || action === 'rewind';
}

/** Whether a start is asked for (pg_ctl or systemctl start, restart). */
export function isStart(action: unknown, op: unknown): boolean {
  return (action === 'pg_ctl' || action === 'systemctl') && (op === 'start' || op === 'restart');
}

export function destructiveRefusal(action: 'clone' | 'rewind', f: DestructiveFacts): GuardRefusal | null {
  const refused = (code: GuardCode, why: string): GuardRefusal => ({ code, message: `${action} refused, ${why} (reason ${code}); nothing changed` });
  if (f.recordedMaster === f.node) return refused('master_key_names_node', `the master key names this node (${f.node})`);
  if (f.leaseHeld) return refused('master_lease_held', `this agent holds master_lease/${f.node}: ${f.node} is the master until it released it`);
  if (f.leaseKeyPresent) return refused('master_lease_key_present', `master_lease/${f.node} is still in etcd (a lease of an earlier run of this agent, until its TTL ends)`);
  if (f.postgres === 'writable') return refused('postgres_writable', `PostgreSQL runs writable on ${f.node}`);
  if (f.postgres === 'unknown') return refused('postgres_role_unknown', `a postmaster runs on ${f.node} and its role is not known yet (it may be writable)`);
  return null;
}

/** `partialCopy`: the marker's sentence (copy-marker.ts) when the data folder holds a partial copy, else null. */
export function startRefusal(partialCopy: string | null): GuardRefusal | null {
  if (partialCopy === null) return null;
  return { code: 'partial_copy', message: `start refused, ${partialCopy} (reason partial_copy); the agent's boot copies it again first` };
}
