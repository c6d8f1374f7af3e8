/**
 * Whether a clone may start, and how (seed 004 "clone", reference §1.3, with the original's gaps
 * closed: the target's state is probed rather than read from the cached status, and a folder that
 * is not a PostgreSQL data folder is never touched). Pure: probed facts in, a plan or a refusal out.
 * A refusal is decided before anything on any node changes.
 */

/**
 * What the target's data folder holds, as seen over its control channel: nothing, an empty
 * folder, only the node's own configuration files (a prepared node, or what a cancelled clone
 * leaves), a PostgreSQL data folder, or anything else.
 */
export type TargetFolder = 'missing' | 'empty' | 'config_only' | 'pgdata' | 'other';

export interface CloneFacts {
  target: string;
  /** The target's configured role: only database servers (master, replica) are cloned onto. */
  targetRole: string;
  targetFenced: boolean;
  /** The enabled master, or null. */
  master: string | null;
  source: string;
  /** The source's record: null when it is not configured. */
  sourceRecord: { enabled: boolean; role: string; fenced: boolean } | null;
  /** A fresh poll of the source: null when it answered, else why not. */
  sourcePollFailure: string | null;
  /** Probe of the target: PostgreSQL runs (true), does not (false), cannot tell (null). */
  targetRunning: boolean | null;
  targetRunningDetail: string;
  /** null: the folder could not be inspected (control channel down). */
  targetFolder: TargetFolder | null;
  targetFolderDetail: string;
  reclone: boolean;
  /** null: keep the old folder only when the target is a fenced (diverged) old master. */
  keepOldData: boolean | null;
  /** A long action already runs on the target. */
  busy: boolean;
}

export type CloneRefusal =
  | 'busy'
  | 'target_is_master'
  | 'target_not_database'
  | 'no_master'
  | 'source_is_target'
  | 'source_not_operational'
  | 'source_unreachable'
  | 'target_unknown_state'
  | 'target_running'
  | 'target_not_pgdata'
  | 'target_has_data';

export type ClonePlan =
  | {
      ok: true;
      source: string;
      /** Stop PostgreSQL on the target before touching its folder. */
      stopFirst: boolean;
      /** What happens to the target's existing data folder. */
      oldData: 'none' | 'move' | 'delete';
    }
  | { ok: false; code: CloneRefusal; reason: string };

export function planClone(f: CloneFacts): ClonePlan {
  const refuse = (code: CloneRefusal, reason: string): ClonePlan => ({ ok: false, code, reason });
  if (f.busy) return refuse('busy', `a clone of ${f.target} is already running; cancel it first (cancel_clone)`);
  if (f.target === f.master) return refuse('target_is_master', `you may not clone over the master (${f.target})`);
  if (f.targetRole !== 'replica' && f.targetRole !== 'master') {
    return refuse('target_not_database', `${f.target} has role ${f.targetRole}: only database servers (replica, or a disabled old master) are cloned onto`);
  }
  if (f.master === null) return refuse('no_master', 'there is no single enabled master for the clone to replicate from');
  if (f.source === f.target) return refuse('source_is_target', `${f.target} cannot be cloned from itself`);
  const src = f.sourceRecord;
  if (src === null) return refuse('source_not_operational', `clone source ${f.source} is not configured`);
  if (!src.enabled || src.fenced || (src.role !== 'master' && src.role !== 'replica')) {
    const why = !src.enabled ? 'disabled' : src.fenced ? 'a fenced old master' : `a ${src.role}, not a database server`;
    return refuse('source_not_operational', `you may not clone from a server which is not operational: ${f.source} is ${why}`);
  }
  if (f.sourcePollFailure !== null) return refuse('source_unreachable', `clone source ${f.source} does not respond: ${f.sourcePollFailure}`);
  if (f.targetFolder === null) return refuse('target_unknown_state', `cannot inspect ${f.target}'s data folder: ${f.targetFolderDetail}`);
  if (f.targetRunning === null) {
    return refuse('target_unknown_state', `cannot tell whether PostgreSQL runs on ${f.target} (${f.targetRunningDetail}); refusing to clone over it`);
  }
  if (f.targetRunning && !f.reclone) {
    return refuse('target_running', `PostgreSQL is running on ${f.target} (${f.targetRunningDetail}): cloning over a running server requires reclone`);
  }
  if (f.targetFolder === 'other') {
    return refuse('target_not_pgdata', `${f.target}'s data folder is not empty and is not a PostgreSQL data folder (${f.targetFolderDetail}); refusing to touch it`);
  }
  if (f.targetFolder === 'pgdata' && !f.reclone) {
    return refuse('target_has_data', `${f.target} already has a data folder (${f.targetFolderDetail}): cloning over it requires reclone`);
  }
  const keep = f.keepOldData ?? f.targetFenced;
  return {
    ok: true,
    source: f.source,
    stopFirst: f.targetRunning,
    oldData: f.targetFolder === 'pgdata' ? (keep ? 'move' : 'delete') : 'none',
  };
}

/**
 * After a copy from the master ended: should it be redone from a new master? Only a clone whose
 * source was the master by default (no clonefrom), when the master changed while it copied: the
 * copy holds the old master's timeline, which the new master may not continue.
 */
export function shouldRecopy(input: { sourceWasDefaultMaster: boolean; masterAtStart: string; masterNow: string | null; attempts: number; maxAttempts: number }): boolean {
  return input.sourceWasDefaultMaster && input.masterNow !== null && input.masterNow !== input.masterAtStart && input.attempts < input.maxAttempts;
}
