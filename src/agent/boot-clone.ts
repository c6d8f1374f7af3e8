/**
 * The agent's copy of the recorded master onto its own node, with the controller's clone pieces
 * (runtime/clone/target-node.ts for the folder, the server's clone plugin for the copy) run
 * locally: for a new node (folder missing, empty, or only its configuration files) and for a
 * reclone after pg_rewind could not join the timelines.
 *
 * The boot's reclone never deletes data: the old folder is renamed to `<pgdata>.handyrep-old-<time>`
 * and stays there until an operator removes it (the clone command may ask for it deleted). Because
 * of that the copy needs room of its own: the free space of the folder's file system is checked
 * against the size of the master's databases (plus a margin; data to be deleted counted as room)
 * before anything is moved, and again right before the copy starts; so is that no postmaster runs
 * on the folder or the old data kept aside (copy-checks.ts). A copy that fails is removed again (the
 * node's own configuration files are put back), so the next attempt finds a new node and copies
 * again; the old data stays aside. Only when a postmaster appeared on the emptied or moved folder
 * is nothing removed (never under a live instance): the folder stays marked, a start there refused.
 * The rename and the delete refuse in their own shell step when PostgreSQL works in the folder right
 * before they act (runtime/clone/folder-guard.ts): nothing moved or deleted, answered postgres_running.
 */
import type { HandyRepConfig } from '../config/schema.js';
import { describeError } from '../model/errors.js';
import { stamp } from '../runtime/clone/clone.js';
import type { CloneRequest, ServerRef } from '../plugins/types.js';
import { checkCopy, readPartialCopy, removeCopyMarker, writeCopyMarker, type CopyMarker } from './copy-marker.js';
import { emptyFolder, inspectFolder, moveFolderAside, restoreConfigFiles, runOnNode, saveConfigFiles, writeStandbyConfig, type NodeEnv } from '../runtime/clone/target-node.js';
import { serverRef } from './agent-plugin-context.js';
import { configuredSlot, prepareMaster, standbySettingsFor } from './boot-standby.js';
import { folderFacts, folderMoveProblem } from './folder-move.js';
import { FolderBusyError } from '../runtime/clone/folder-guard.js';
import { copyRefusal, localCopyChecks, refuseCopy, type CopyCheckPoint, type CopyCheckPort, type CopyRefusal, type OldDataFate } from './copy-checks.js';
import { basebackupOutputs } from '../plugins/clone/verify-copy.js';

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
  /** What the copy's checks read (copy-checks.ts) and the master's preparation (boot-standby.ts); replaced in tests. */
  readonly ports?: Partial<ClonePorts>;
}

export interface ClonePorts {
  readonly checks: CopyCheckPort;
  readonly prepareMaster: typeof prepareMaster;
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
  const ports: ClonePorts = { checks: localCopyChecks, prepareMaster, ...options.ports };
  const check = (databaseBytes: number | null, point: Omit<CopyCheckPoint, 'node' | 'source' | 'pgdata' | 'databaseBytes'> = {}): Promise<CopyRefusal | null> =>
    refuseCopy(ports.checks, { node, source: master.name, pgdata: self.pgdata, databaseBytes, ...point });
  try {
    // A copy an earlier agent process did not finish (killed mid-copy: copy-marker.ts) comes first.
    const partial = readPartialCopy(self.pgdata, node);
    if (partial.kind === 'blocked') return failed(`not copied: ${partial.sentence}`);
    if (partial.kind === 'forget') removeCopyMarker(self.pgdata, node);
    if (partial.kind === 'redo') {
      let marker = partial.marker;
      // The folder holds a partial copy, not the node's data any more (that is aside, or was deleted).
      touched = true;
      oldData = marker.kept_at;
      const redoPoint = { oldData: fateOf(marker), keptAt: marker.kept_at, folderTouched: true };
      // Before the master is asked, and again after its CHECKPOINT (it can take long): nothing started meanwhile.
      const early = await check(null, redoPoint);
      if (early !== null) return failed(early.message);
      const { databaseBytes } = await ports.prepareMaster(config, masterName, configuredSlot(config, node));
      const refused = await check(null, redoPoint);
      if (refused !== null) return failed(refused.message);
      if (marker.phase === 'configuring') {
        // Killed after its configuration files were put back: they are saved again from the folder.
        marker = { ...marker, phase: 'copying', config_saved_at: await saveConfigFiles(env, self) };
        writeCopyMarker(marker);
      }
      // The partial copy is ours to throw away; the kept data and the saved files are left as they are.
      const busy = await emptyFolder(env, self).then(() => null, (err: unknown) => {
        if (err instanceof FolderBusyError) return err;
        throw err;
      });
      // A postmaster started on it after the last check (the step's own guard): nothing removed, still marked.
      if (busy !== null) return failed(`${partial.sentence}; copy from ${master.name} not started: ${busyRefusal(busy, node, master.name, redoPoint.oldData, true)}; ${LEFT_MARKED}`);
      if (signal.aborted) return failed('the agent is stopping: no copy started');
      // The room is checked right before the copy (copyAndConfigure), with the partial copy gone.
      return await copyAndConfigure(env, config, node, masterName, master, signal, options, marker, `${partial.sentence}; `, failed, () => check(databaseBytes, redoPoint));
    }
    const inspected = await inspectFolder(env, self);
    const folder = inspected.folder;
    if (folder === null || folder === 'other') return failed(`data folder not usable: ${inspected.detail}`);
    if (folder === 'pgdata' && !reclone) return failed(`${inspected.detail} holds data: not copied over`);
    // Before anything on the master (checkpoint, slot) or here: a folder that cannot be renamed aside.
    if (folder === 'pgdata') {
      const unmovable = folderMoveProblem(folderFacts(self.pgdata));
      if (unmovable !== null) return failed(`not recloned: ${unmovable}`);
    }
    const plannedOld = folder === 'pgdata' ? (deleteOld ? 'delete' : 'move') : 'none';
    const fate = fateOf({ old_data: plannedOld });
    // Before the master is asked for anything (a CHECKPOINT, a slot): PostgreSQL runs on the folder.
    const early = await check(null, { oldData: fate });
    if (early !== null) return failed(early.message);
    const { databaseBytes, systemIdentifier } = await ports.prepareMaster(config, masterName, configuredSlot(config, node));
    if (folder === 'pgdata') {
      // A folder of another cluster (a wrong address, a bootstrap that should not have happened) is
      // never replaced by a copy of this one, even kept aside: an operator must look.
      const own = await localSystemIdentifier(env, self);
      if (own === null || own !== systemIdentifier) {
        return failed(`not recloned: this node's data ${own === null ? 'has no readable system identifier' : `belongs to another cluster (system identifier ${own}, ${masterName}'s is ${systemIdentifier})`}`);
      }
    }
    // After the master's CHECKPOINT (it can take long), before the folder is touched: nothing started on
    // it meanwhile, and the copy fits (data to be deleted counted as room: checked again before the copy).
    const refused = await check(databaseBytes, { oldData: fate });
    if (refused !== null) return failed(refused.message);
    if (signal.aborted) return failed('the agent is stopping: no copy started');
    const saved = folder === 'pgdata' || folder === 'config_only' ? await saveConfigFiles(env, self) : null;
    const asideStamp = stamp(new Date());
    // Before the folder is touched: a kill from here on leaves the mark (copy-marker.ts).
    let marker: CopyMarker = {
      node,
      pgdata: self.pgdata,
      phase: plannedOld === 'none' ? 'copying' : 'prepared',
      started_at: new Date().toISOString(),
      source: master.name,
      old_data: plannedOld,
      kept_at: plannedOld === 'move' ? `${self.pgdata}.handyrep-old-${asideStamp}` : null,
      config_saved_at: saved,
    };
    writeCopyMarker(marker);
    touched = true;
    deletedOldData = plannedOld === 'delete';
    try {
      if (plannedOld === 'move') oldData = await moveFolderAside(env, self, asideStamp, 'handyrep-old');
      else if (folder === 'config_only' || folder === 'pgdata') await emptyFolder(env, self);
    } catch (err) {
      if (!(err instanceof FolderBusyError)) throw err;
      // The step's own guard found PostgreSQL on the folder right after the last check: nothing was
      // moved or deleted, so this is a refusal before the folder was touched (no marker, nothing changed).
      touched = false;
      deletedOldData = false;
      removeCopyMarker(self.pgdata, node);
      if (saved !== null) await runOnNode(env, self, ['rm', '-rf', '--', saved]);
      return failed(busyRefusal(err, node, master.name, fate, false));
    }
    if (marker.phase === 'prepared') {
      marker = { ...marker, phase: 'copying', kept_at: oldData };
      writeCopyMarker(marker);
    }
    const lastPoint = { oldData: fate, keptAt: marker.kept_at, folderTouched: true };
    return await copyAndConfigure(env, config, node, masterName, master, signal, options, marker, '', failed, () => check(databaseBytes, lastPoint));
  } catch (err) {
    return failed(describeError(err));
  }
}

/**
 * The copy into the (emptied or new) folder, checked, the configuration files put back, the standby
 * settings; the marker removed once all that succeeded, or once a failed copy was removed again
 * (the folder a new node once more). Kept when that removal failed: the next attempt copies again.
 */
async function copyAndConfigure(
  env: NodeEnv,
  config: Readonly<HandyRepConfig>,
  node: string,
  masterName: string,
  master: ServerRef,
  signal: AbortSignal,
  options: CloneOptions,
  marker: CopyMarker,
  said: string,
  failed: (details: string) => CloneResult,
  /** The checks once more, right before the copy program starts (copy-checks.ts). */
  lastCheck: () => Promise<CopyRefusal | null>,
): Promise<CloneResult> {
  const self = serverRef(config, node);
  const saved = marker.config_saved_at;
  const refused = await lastCheck();
  if (refused?.code === 'postgres_running') {
    // A postmaster started on the folder (or the old data) after the last check: nothing is removed under
    // a live instance. The marker stays: a start on the folder is refused, the next attempt checks again.
    return failed(`${said}copy from ${master.name} not started: ${refused.message}; ${LEFT_MARKED}`);
  }
  if (refused !== null) {
    // Back to a new node (configuration files only): the next attempt checks the room again.
    const reset = await resetToNewNode(env, self, node, saved);
    return failed(`${said}copy from ${master.name} not started: ${refused.message}; ${reset.emptied && reset.restored ? 'the folder holds the configuration files only again' : 'the folder could NOT be set back (marked: the next attempt copies again)'}`);
  }
  const copied = await env.plugins
    .get('clone', self.clone_method)
    .clone(env.ctx, { target: self, source: master, signal, progress: options.progress ?? (() => undefined), writeStandbySignal: true })
    .catch((err: unknown) => ({ ok: false, details: describeError(err) }));
  const incomplete = copied.ok ? checkCopy(self.pgdata, basebackupWithManifest(env, self)) : null;
  if (!copied.ok || incomplete !== null) {
    // Back to a new node (configuration files only): the next attempt copies again.
    const { emptied } = await resetToNewNode(env, self, node, saved);
    return failed(`${said}copy from ${master.name} failed, partial copy ${emptied ? 'removed' : 'NOT removed (marked: the next attempt copies again)'}: ${copied.ok ? incomplete : copied.details}`);
  }
  if (saved !== null) {
    await restoreConfigFiles(env, self, saved);
    // Their saved copy is gone now: a kill from here on leaves them to be saved from the folder.
    writeCopyMarker({ ...marker, phase: 'configuring', config_saved_at: null });
  }
  await writeStandbyConfig(env, self, { ...standbySettingsFor(config, node, masterName), ...options.extraSettings });
  removeCopyMarker(self.pgdata, node);
  const kept = marker.kept_at !== null ? `; old data folder kept at ${marker.kept_at}` : '';
  // clone_basebackup verifies its copy whole (plugins/clone/verify-copy.ts); other methods make no manifest.
  const unverified = self.clone_method === 'clone_basebackup' ? '' : `; not verified whole (${self.clone_method} makes no backup_manifest): checked PG_VERSION, global/pg_control and standby.signal only`;
  return { ok: true, details: `${said}${copied.details}${unverified}${kept}`, oldData: marker.kept_at, touched: true, deletedOldData: marker.old_data === 'delete' };
}

/** Empties the folder and puts the configuration files back; the marker removed once both worked. */
async function resetToNewNode(env: NodeEnv, self: ServerRef, node: string, saved: string | null): Promise<{ emptied: boolean; restored: boolean }> {
  const emptied = await emptyFolder(env, self).then(() => true, () => false);
  const restored = saved === null ? true : await restoreConfigFiles(env, self, saved).then(() => true, () => false);
  if (emptied && restored) removeCopyMarker(self.pgdata, node);
  return { emptied, restored };
}

const LEFT_MARKED = 'the folder is left as it is, marked as a partial copy (a start there is refused): stop that PostgreSQL, the next attempt copies again';

/** The refusal of a delete or rename whose guard found PostgreSQL on the folder (folder-guard.ts), in the copy checks' words. */
function busyRefusal(err: FolderBusyError, node: string, source: string, oldData: OldDataFate, folderTouched: boolean): string {
  const postmaster = { pid: err.busy.pid, folder: err.folder, pidFile: err.busy.pidFile };
  return copyRefusal({ node, source, pgdata: err.folder, postmaster, space: null, oldData, folderTouched })?.message ?? err.message;
}

/** The marker's plan for the old data, as the copy checks name it. */
function fateOf(marker: Pick<CopyMarker, 'old_data'>): OldDataFate {
  return marker.old_data === 'move' ? 'kept' : marker.old_data === 'delete' ? 'deleted' : 'none';
}

/** Whether the copy ends with pg_basebackup's manifest: clone_basebackup without --no-manifest. */
function basebackupWithManifest(env: NodeEnv, self: ServerRef): boolean {
  if (self.clone_method !== 'clone_basebackup') return false;
  const extra = env.ctx.settings(self.clone_method)['extra_parameters'];
  return basebackupOutputs(Array.isArray(extra) ? extra.filter((e): e is string => typeof e === 'string') : []).manifest;
}
