/**
 * The agent's copy of the recorded master onto its own node, with the controller's clone pieces
 * (runtime/clone/target-node.ts for the folder, the server's clone plugin for the copy) run
 * locally: for a new node (folder missing, empty, or only its configuration files) and for a
 * reclone after pg_rewind could not join the timelines.
 *
 * A reclone never deletes data: the old folder is renamed to `<pgdata>.handyrep-old-<time>` and
 * stays there until an operator removes it. Because of that the copy needs room of its own: the
 * free space of the folder's file system is checked against the size of the master's databases
 * (plus a margin) before anything is moved. A copy that fails is removed again (the node's own
 * configuration files are put back), so the next attempt finds a new node and copies again; the
 * old data stays aside.
 */
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { HandyRepConfig } from '../config/schema.js';
import { describeError } from '../model/errors.js';
import { stamp } from '../runtime/clone/clone.js';
import type { CloneRequest, ServerRef } from '../plugins/types.js';
import { emptyFolder, inspectFolder, moveFolderAside, restoreConfigFiles, runOnNode, saveConfigFiles, writeStandbyConfig, type NodeEnv } from '../runtime/clone/target-node.js';
import { serverRef } from './agent-plugin-context.js';
import { configuredSlot, prepareMaster, standbySettingsFor } from './boot-standby.js';
import { folderFacts, folderMoveProblem } from './folder-move.js';

export interface CloneResult {
  readonly ok: boolean;
  readonly details: string;
  /** Where the old data folder went (reclone), or null. */
  readonly oldData: string | null;
  /** Whether the data folder was changed at all (moved, emptied, copied into); false: refused before. */
  readonly touched?: boolean;
  /** A folder holding data was emptied (deleteOldData). */
  readonly deletedOldData?: boolean;
}

/** Room a copy of `databaseBytes` needs besides what is there: the data, 10 % and 64 MB of WAL and slack. */
export function spaceNeededBytes(databaseBytes: number): number {
  return Math.ceil(databaseBytes * 1.1) + 64 * 1024 * 1024;
}

async function freeBytes(pgdata: string): Promise<number> {
  // The folder itself may be missing (a new node): its parent's file system receives the copy.
  for (const path of [pgdata, dirname(pgdata)]) {
    try {
      const fs = await statfs(path);
      return fs.bavail * fs.bsize;
    } catch {
      // try the parent
    }
  }
  throw new Error(`cannot read the free space under ${dirname(pgdata)}`);
}

/** The "Database system identifier" of a stopped data folder (pg_controldata), or null. */
async function localSystemIdentifier(env: NodeEnv, self: ServerRef): Promise<string | null> {
  const script = 'LC_ALL=C "$1" -D "$2" | grep "^Database system identifier:"';
  const result = await runOnNode(env, self, ['sh', '-c', script, 'controldata', `${self.pg_bin_dir}/pg_controldata`, self.pgdata]);
  const found = /Database system identifier:\s+(\d+)/.exec(result.output);
  return result.ok && found ? (found[1] as string) : null;
}

/** A clone the controller asked for (control_method agent: commands/clone-step.ts); the boot uses none. */
export interface CloneOptions {
  /** Copied from this server instead of `masterName` (still the one it streams from). */
  readonly source?: string;
  /** A folder holding data is emptied instead of moved aside (the controller's keep_old_data=false). */
  readonly deleteOldData?: boolean;
  /** Written into the standby configuration besides primary_conninfo and the slot (restore_command). */
  readonly extraSettings?: Readonly<Record<string, string>>;
  /** The copy's progress, as the clone plugin reports it. */
  readonly progress?: CloneRequest['progress'];
}

/**
 * Copies `masterName` onto `node` and configures it as its standby (not started). `reclone`: the
 * folder holds data, which is moved aside first; otherwise a folder holding data is refused.
 */
export async function cloneFromMaster(
  env: NodeEnv,
  config: Readonly<HandyRepConfig>,
  node: string,
  masterName: string,
  reclone: boolean,
  signal: AbortSignal = new AbortController().signal,
  options: CloneOptions = {},
): Promise<CloneResult> {
  const self = serverRef(config, node);
  const master = serverRef(config, options.source ?? masterName);
  const deleteOld = options.deleteOldData === true;
  let oldData: string | null = null;
  let touched = false;
  let deletedOldData = false;
  const failed = (details: string): CloneResult => ({ ok: false, details: `${details}${oldData !== null ? `; the old data folder is kept at ${oldData}` : ''}`, oldData, touched, deletedOldData });
  try {
    const inspected = await inspectFolder(env, self);
    const folder = inspected.folder;
    if (folder === null || folder === 'other') return failed(`data folder not usable: ${inspected.detail}`);
    if (folder === 'pgdata' && !reclone) return failed(`${inspected.detail} holds data: not copied over`);
    // Before anything on the master (checkpoint, slot) or here: a folder that cannot be renamed aside.
    if (folder === 'pgdata') {
      const unmovable = folderMoveProblem(folderFacts(self.pgdata));
      if (unmovable !== null) return failed(`not recloned: ${unmovable}`);
    }
    const { databaseBytes, systemIdentifier } = await prepareMaster(config, masterName, configuredSlot(config, node));
    if (folder === 'pgdata') {
      // A folder of another cluster (a wrong address, a bootstrap that should not have happened) is
      // never replaced by a copy of this one, even kept aside: an operator must look.
      const own = await localSystemIdentifier(env, self);
      if (own === null || own !== systemIdentifier) {
        return failed(`not recloned: this node's data ${own === null ? 'has no readable system identifier' : `belongs to another cluster (system identifier ${own}, ${masterName}'s is ${systemIdentifier})`}`);
      }
    }
    const free = await freeBytes(self.pgdata);
    const needed = spaceNeededBytes(databaseBytes);
    // Data emptied first frees its room: only a copy next to kept data must fit beside it.
    if (free < needed && !(deleteOld && folder === 'pgdata')) {
      return failed(`not enough free space for a copy of ${masterName} next to the data kept: ${Math.floor(free / 1048576)} MB free under ${dirname(self.pgdata)}, ${Math.ceil(needed / 1048576)} MB needed`);
    }
    if (signal.aborted) return failed('the agent is stopping: no copy started');
    const saved = folder === 'pgdata' || folder === 'config_only' ? await saveConfigFiles(env, self) : null;
    touched = true;
    deletedOldData = folder === 'pgdata' && deleteOld;
    if (folder === 'pgdata' && !deleteOld) oldData = await moveFolderAside(env, self, stamp(new Date()), 'handyrep-old');
    else if (folder === 'config_only' || folder === 'pgdata') await emptyFolder(env, self);
    const copied = await env.plugins
      .get('clone', self.clone_method)
      .clone(env.ctx, { target: self, source: master, signal, progress: options.progress ?? (() => undefined), writeStandbySignal: true })
      .catch((err: unknown) => ({ ok: false, details: describeError(err) }));
    if (!copied.ok) {
      // Back to a new node (configuration files only): the next attempt copies again.
      await emptyFolder(env, self).catch(() => undefined);
      if (saved !== null) await restoreConfigFiles(env, self, saved).catch(() => undefined);
      return failed(`copy from ${master.name} failed, partial copy removed: ${copied.details}`);
    }
    if (saved !== null) await restoreConfigFiles(env, self, saved);
    await writeStandbyConfig(env, self, { ...standbySettingsFor(config, node, masterName), ...options.extraSettings });
    return { ok: true, details: `${copied.details}${oldData !== null ? `; old data folder kept at ${oldData}` : ''}`, oldData, touched, deletedOldData };
  } catch (err) {
    return failed(describeError(err));
  }
}
