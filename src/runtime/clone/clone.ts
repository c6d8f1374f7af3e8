/**
 * clone and reclone (seed 004 "clone"): copy a server's data onto a node with the target's clone
 * plugin, make it a streaming replica of the CURRENT master, start it, wait until it streams,
 * then enable it.
 *
 * Runs as a long action (src/runtime/long-actions/tracker.ts): the checks happen first and
 * change nothing; the HandyRep action queue is held only for the two moments that change server
 * definitions (claiming the target at the start, enabling it at the end), never during the copy,
 * so polls, verifications and failovers go on meanwhile. The target stays disabled (and so out
 * of every failover decision) until it streams.
 *
 * Failover during a clone: the copy from a master that fails breaks off (or ends with data of the
 * old timeline); a clone that copied from the master by default waits for the new master and
 * copies again from it, once. Whoever is master when the copy has finished is the one the clone
 * is configured for; if that changes before the clone is enabled, it is remastered to the next
 * one. A clone that cannot finish leaves the target disabled with a status message saying why.
 */
import { planClone, shouldRecopy, type CloneRefusal, type TargetFolder } from '../../engine/clone-plan.js';
import { describeError } from '../../model/errors.js';
import { failure, success, type Rd } from '../../model/rd.js';
import { isDatabaseRole } from '../../model/server.js';
import type { ServerRef } from '../../plugins/types.js';
import { observeRunning } from '../observe.js';
import { ref, withSession, type TopologyEnv } from '../topology/env.js';
import { primaryConninfo, remasterReplica, slotName } from '../topology/remaster.js';
import { describeProgress, type ActionHandle, type ActionOutcome, type LongActionTracker } from '../long-actions/tracker.js';
import {
  emptyFolder,
  inspectFolder,
  moveFolderAside,
  probeRunning,
  restoreConfigFiles,
  saveConfigFiles,
  writeStandbyConfig,
  type NodeEnv,
} from './target-node.js';
import { FolderBusyError } from './folder-guard.js';
import { copiesThroughAgent, copyThroughAgent, oldDataForAttempt } from './clone-through-agent.js';

export interface CloneEnv extends TopologyEnv {
  tracker: LongActionTracker;
  /** Run a short change of server definitions in the HandyRep action queue. */
  mutate: <T>(fn: () => Promise<T>) => Promise<T>;
}

export interface CloneOptions {
  target: string;
  reclone: boolean;
  /** null: the master. */
  clonefrom: string | null;
  /** null: keep the old data folder only for a fenced (diverged) old master. */
  keepOldData: boolean | null;
}

export type CloneRd = Rd<{ reason_code?: CloneRefusal; source?: string; upstream?: string; old_data?: string | null }>;

/** How many copies a clone makes at most (the second only after a failover during the first). */
const MAX_COPIES = 2;

class CloneFailure extends Error {}

function nodeEnv(env: CloneEnv): NodeEnv {
  return { ctx: env.ctx(), plugins: env.plugins };
}

/**
 * Check the request against probed facts and, when allowed, start the clone. A refusal comes
 * back at once and has changed nothing anywhere; otherwise `done` resolves when the clone ends.
 */
export async function beginClone(env: CloneEnv, opts: CloneOptions): Promise<{ refused: CloneRd } | { done: Promise<CloneRd> }> {
  const { book } = env;
  const target = opts.target;
  const master = book.masterName();
  const source = opts.clonefrom ?? master;
  const targetRecord = book.get(target);
  const sourceRecord = source !== null && book.has(source) ? book.get(source) : null;
  const pollable = source !== null && source !== target && sourceRecord !== null && sourceRecord.enabled && !sourceRecord.fenced && isDatabaseRole(sourceRecord.role);
  const probeTarget = target !== master && !env.tracker.isRunning(target);
  const [poll, running, folder] = await Promise.all([
    pollable ? env.checks.pollServer(source) : null,
    probeTarget ? probeRunning(nodeEnv(env), ref(env, target)) : { running: null, detail: 'not probed' },
    probeTarget ? inspectFolder(nodeEnv(env), ref(env, target)) : { folder: null, detail: 'not inspected' },
  ]);
  const plan = planClone({
    target,
    targetRole: targetRecord.role,
    targetFenced: targetRecord.fenced,
    master,
    source: source ?? '(none)',
    sourceRecord: sourceRecord && { enabled: sourceRecord.enabled, role: sourceRecord.role, fenced: sourceRecord.fenced },
    sourcePollFailure: poll === null || poll.result === 'SUCCESS' ? null : poll.details,
    targetRunning: running.running,
    targetRunningDetail: running.detail,
    targetFolder: folder.folder,
    targetFolderDetail: folder.detail,
    reclone: opts.reclone,
    keepOldData: opts.keepOldData,
    busy: env.tracker.isRunning(target),
  });
  if (!plan.ok) {
    env.log.warn('CLONE', `clone of ${target} refused: ${plan.reason}`, target);
    return { refused: failure(plan.reason, { reason_code: plan.code }) };
  }

  // Claim the target in the action queue, re-checking what may have changed since the probes.
  return env.mutate(async () => {
    if (book.masterName() === target) return { refused: failure<{ reason_code: CloneRefusal }>(`you may not clone over the master (${target})`, { reason_code: 'target_is_master' }) };
    if (env.tracker.isRunning(target)) return { refused: failure<{ reason_code: CloneRefusal }>(`a clone of ${target} is already running; cancel it first (cancel_clone)`, { reason_code: 'busy' }) };
    const record = book.get(target);
    const wasFenced = record.fenced;
    // Disabled until it streams: out of polls, verifications and failover candidates. The fenced
    // flag goes now, or auto_rejoin could try to rewind the folder being copied into.
    book.putServer(target, { ...record, role: 'replica', enabled: false, fenced: false, fence_unconfirmed: false }, `clone from ${plan.source} starting (reclone ${opts.reclone ? 'yes' : 'no'}); disabled until it streams`);
    book.applyStatus(target, { status: 'down', message: `being cloned from ${plan.source}` });
    const probed = { ...plan, folder: folder.folder as TargetFolder };
    // Cannot be null: the action queue serialises claims and the tracker was checked above.
    const done = env.tracker.start(target, 'clone', (handle) => runClone(env, handle, opts, probed, wasFenced)) as Promise<CloneRd>;
    return { done };
  });
}

interface CloneState {
  target: string;
  source: string;
  savedConfig: string | null;
  oldData: string | null;
  /** The data folder has been changed (old data moved or deleted). */
  folderTouched: boolean;
  copyComplete: boolean;
  started: boolean;
  wasFenced: boolean;
  /** Copied by the node's agent (clone-through-agent.ts): it wrote the standby configuration for this upstream. */
  agentStandbyFor: string | null;
}

async function runClone(
  env: CloneEnv,
  handle: ActionHandle,
  opts: CloneOptions,
  plan: { source: string; stopFirst: boolean; oldData: 'none' | 'move' | 'delete'; folder: TargetFolder },
  wasFenced: boolean,
): Promise<ActionOutcome> {
  const target = opts.target;
  const state: CloneState = { target, source: plan.source, savedConfig: null, oldData: null, folderTouched: false, copyComplete: false, started: false, wasFenced, agentStandbyFor: null };
  const tref = (): ServerRef => ref(env, target);
  const cancelled = (): boolean => handle.signal.aborted;
  try {
    if (plan.stopFirst) {
      handle.phase('stopping PostgreSQL');
      await stopTarget(env, target);
    }
    if (cancelled()) return await abandon(env, handle, state, 'cancelled before the copy started', true);

    // control_method agent: the agent prepares the folder and copies (one command), and removes a failed copy itself.
    const viaAgent = copiesThroughAgent(env.ctx(), tref());
    if (!viaAgent) {
      handle.phase('preparing the data folder');
      // Looked at again only after a stop (the probe's answer still holds otherwise).
      let folder = plan.folder;
      if (plan.stopFirst) {
        const again = await inspectFolder(nodeEnv(env), tref());
        if (again.folder === null) throw new CloneFailure(`cannot inspect the data folder: ${again.detail}`);
        folder = again.folder;
      }
      if (folder === 'other') throw new CloneFailure(`the data folder is not a PostgreSQL data folder`);
      if (folder === 'pgdata' || folder === 'config_only') state.savedConfig = await saveConfigFiles(nodeEnv(env), tref());
      state.folderTouched = true;
      try {
        if (folder === 'pgdata' && plan.oldData === 'move') {
          state.oldData = await moveFolderAside(nodeEnv(env), tref(), stamp(env.clock()));
          env.log.info('CLONE', `${target}: old data folder kept at ${state.oldData}`, target);
        } else if (folder === 'pgdata' || folder === 'config_only') {
          await emptyFolder(nodeEnv(env), tref());
          if (folder === 'pgdata') state.oldData = 'deleted';
        }
      } catch (err) {
        if (!(err instanceof FolderBusyError)) throw err;
        // The step's own guard (folder-guard.ts): PostgreSQL started on the folder after the stop, nothing moved
        // or deleted; the folder is as it was (a fenced old master stays fenced, no clean-up under it).
        state.folderTouched = false;
        throw new CloneFailure(err.message);
      }
    }
    // The plugin gets an empty or missing folder (pg_basebackup and rsync create it, mode 0700).

    const plugin = env.plugins.get('clone', tref().clone_method);
    const byDefault = opts.clonefrom === null;
    for (let attempt = 1; ; attempt += 1) {
      const masterAtStart = env.book.masterName();
      handle.phase(`copying from ${state.source}${attempt > 1 ? ' (again)' : ''} ${viaAgent ? `by the agent of ${target} (its ${plugin.name})` : `with ${plugin.name}`}`);
      handle.progress(null, null);
      const upstream = masterAtStart ?? state.source;
      const outcome = viaAgent
        ? await copyThroughAgent(env.ctx(), tref(), { source: state.source, upstream, oldData: oldDataForAttempt(attempt, plan.oldData, state.oldData === 'deleted' ? null : state.oldData), restoreCommand: wantsRestoreCommand(env) }, (done, total) => handle.progress(done, total), handle.signal)
        : await plugin.clone(env.ctx(), {
            target: tref(),
            source: ref(env, state.source),
            signal: handle.signal,
            progress: (p) => handle.progress(p.bytesDone, p.bytesTotal),
          });
      if (viaAgent && 'touched' in outcome) {
        state.oldData = state.oldData !== null && state.oldData !== 'deleted' ? state.oldData : (outcome.oldData ?? state.oldData);
        state.agentStandbyFor = outcome.ok ? upstream : null;
        // Only when the agent says it changed the folder (or cannot say): a refusal leaves a fenced old master fenced.
        state.folderTouched ||= outcome.touched;
      }
      if (cancelled()) return await abandon(env, handle, state, 'cancelled during the copy', true);
      if (!outcome.ok) {
        const next = byDefault && attempt < MAX_COPIES ? await waitForMaster(env, masterAtStart, handle) : null;
        if (next === null) throw new CloneFailure(`copy from ${state.source} failed: ${outcome.details}`);
        env.log.warn('CLONE', `${target}: copy from ${state.source} failed (${outcome.details}); copying again from ${next}`, target);
        state.source = next;
        if (!viaAgent) await emptyFolder(nodeEnv(env), tref());
        continue;
      }
      const masterNow = env.book.masterName();
      if (masterAtStart !== null && shouldRecopy({ sourceWasDefaultMaster: byDefault, masterAtStart, masterNow, attempts: attempt, maxAttempts: MAX_COPIES })) {
        env.log.warn('CLONE', `${target}: the master changed from ${masterAtStart} to ${String(masterNow)} during the copy; copying again from ${String(masterNow)}`, target);
        state.source = masterNow as string;
        if (!viaAgent) await emptyFolder(nodeEnv(env), tref());
        continue;
      }
      break;
    }
    state.copyComplete = true;

    handle.phase('configuring the standby');
    if (state.savedConfig !== null) {
      await restoreConfigFiles(nodeEnv(env), tref(), state.savedConfig);
      state.savedConfig = null;
    }
    const archive = await prepareArchiving(env, target);

    for (let round = 1; round <= 3; round += 1) {
      const upstream = env.book.masterName();
      if (upstream === null) throw new CloneFailure('there is no master to stream from');
      if (!state.started) {
        if (state.agentStandbyFor === null) await writeStandbyConfig(nodeEnv(env), tref(), await standbySettings(env, tref(), upstream, archive.restoreCommand));
        handle.phase('starting PostgreSQL');
        state.started = true;
        await startTarget(env, target);
        if (state.agentStandbyFor !== null && state.agentStandbyFor !== upstream) {
          // The master changed since the agent wrote its standby configuration.
          handle.phase(`remastering to ${upstream}`);
          const remastered = await remasterReplica(env, target, upstream);
          if (!remastered.ok) throw new CloneFailure(`the master changed to ${upstream} and the clone cannot follow it: ${remastered.details}`);
        }
      } else {
        handle.phase(`remastering to ${upstream}`);
        const remastered = await remasterReplica(env, target, upstream);
        if (!remastered.ok) throw new CloneFailure(`the master changed to ${upstream} and the clone cannot follow it: ${remastered.details}`);
      }
      handle.phase(`waiting for streaming from ${upstream}`);
      await waitStreaming(env, target, ref(env, upstream), handle.signal);
      if (cancelled()) return await abandon(env, handle, state, 'cancelled while starting', true);
      const enabled = await env.mutate(async () => {
        if (env.book.masterName() !== upstream) return false;
        env.book.putServer(target, { ...env.book.get(target), role: 'replica', enabled: true, fenced: false, fence_unconfirmed: false }, `cloned from ${state.source}; streaming from ${upstream}; enabled`);
        return true;
      });
      if (!enabled) continue;
      const verify = await env.checks.verifyServer(target);
      const kept = state.oldData !== null && state.oldData !== 'deleted' ? `; old data folder kept at ${state.oldData}` : '';
      const notes = archive.notes.length > 0 ? `; ${archive.notes.join('; ')}` : '';
      return success(`${target} cloned from ${state.source} and streaming from ${upstream}${kept}${notes} (${verify.details})`, {
        source: state.source,
        upstream,
        old_data: state.oldData,
      });
    }
    throw new CloneFailure('the master kept changing while the clone started');
  } catch (err) {
    if (cancelled()) return abandon(env, handle, state, 'cancelled', true);
    return abandon(env, handle, state, err instanceof CloneFailure ? err.message : `unexpected error: ${describeError(err)}`, false);
  }
}

/**
 * End a clone that did not finish: stop what was started, remove a partial (or cancelled) copy
 * while keeping the node's own configuration files, and leave the target disabled with a status
 * message saying what happened. Each step is best effort: the message reports what failed.
 */
async function abandon(env: CloneEnv, handle: ActionHandle, state: CloneState, reason: string, isCancel: boolean): Promise<ActionOutcome> {
  const target = state.target;
  const progress = handle.current();
  const where = `${progress.phase}${progress.bytes_done !== null ? ` at ${describeProgress(progress)}` : ''}`;
  const notes: string[] = [];
  const tref = (): ServerRef => ref(env, target);
  if (state.started) {
    const stopped = await stopTarget(env, target).then(
      () => 'stopped',
      (err: unknown) => `could not be stopped: ${describeError(err)}`,
    );
    notes.push(`PostgreSQL ${stopped}`);
  }
  if (state.folderTouched && (isCancel || !state.copyComplete) && copiesThroughAgent(env.ctx(), tref())) {
    notes.push(state.copyComplete ? "the agent's copy is left in place" : 'a failed copy is removed by the agent itself');
  } else if (state.folderTouched && (isCancel || !state.copyComplete)) {
    try {
      await emptyFolder(nodeEnv(env), tref());
      if (state.savedConfig !== null) {
        await restoreConfigFiles(nodeEnv(env), tref(), state.savedConfig);
        state.savedConfig = null;
      }
      notes.push('partial copy removed');
    } catch (err) {
      notes.push(`partial copy NOT removed: ${describeError(err)}`);
    }
  }
  if (state.oldData !== null && state.oldData !== 'deleted') notes.push(`old data folder kept at ${state.oldData}`);
  if (state.oldData === 'deleted') notes.push('old data folder was deleted');
  const why = isCancel ? (handle.cancelReason ?? reason) : reason;
  const details = `clone ${isCancel ? 'cancelled' : 'failed'} (${why}) during ${where}; ${notes.length ? `${notes.join('; ')}; ` : ''}${target} is disabled`;
  await env
    .mutate(async () => {
      if (!env.book.has(target)) return;
      const record = env.book.get(target);
      // Its old data is untouched: it is still the fenced old master it was.
      const fenced = state.wasFenced && !state.folderTouched;
      if (record.enabled || record.fenced !== fenced) env.book.putServer(target, { ...record, enabled: false, fenced }, `clone ${isCancel ? 'cancelled' : 'failed'}; disabled`);
      env.book.applyStatus(target, { status: 'down', message: details });
    })
    .catch(() => undefined);
  return { ...failure(details), cancelled: isCancel };
}

/** Stop PostgreSQL on the target and confirm it; escalates to an immediate stop. */
async function stopTarget(env: CloneEnv, name: string): Promise<void> {
  const server = ref(env, name);
  const plugin = env.plugins.get('restart', server.restart_method);
  const obs = { ctx: env.ctx(), plugins: env.plugins };
  let last = '';
  for (const action of ['stop', 'faststop'] as const) {
    const outcome = await plugin.control(env.ctx(), server, action).catch((err: unknown) => ({ ok: false, details: describeError(err) }));
    last = outcome.details;
    if ((await observeRunning(obs, server)) === false) return;
  }
  throw new CloneFailure(`PostgreSQL on ${name} does not stop: ${last}`);
}

/** Start PostgreSQL on the target (it is disabled, so not through NodeControl.startup). */
async function startTarget(env: CloneEnv, name: string): Promise<void> {
  const server = ref(env, name);
  const outcome = await env.plugins
    .get('restart', server.restart_method)
    .control(env.ctx(), server, 'start')
    .catch((err: unknown) => ({ ok: false, details: describeError(err) }));
  if (outcome.ok) return;
  if ((await observeRunning({ ctx: env.ctx(), plugins: env.plugins }, server)) === true) return;
  throw new CloneFailure(`the clone does not start: ${outcome.details}`);
}

/** primary_conninfo for the upstream (the same conninfo remaster uses), slot and restore_command. */
async function standbySettings(env: CloneEnv, target: ServerRef, upstream: string, restoreCommand: string | null): Promise<Record<string, string>> {
  const master = ref(env, upstream);
  const settings: Record<string, string> = { primary_conninfo: primaryConninfo(env, target, master), primary_slot_name: '' };
  if (env.ctx().config.failover.use_replication_slots) {
    const slot = slotName(target.name);
    await withSession(env, master, (s) =>
      s.query('SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)', [slot]),
    );
    settings['primary_slot_name'] = slot;
  }
  if (restoreCommand !== null) settings['restore_command'] = restoreCommand;
  return settings;
}

/** Whether the standby configuration gets the archive plugin's restore_command (as prepareArchiving decides). */
function wantsRestoreCommand(env: CloneEnv): boolean {
  const archive = env.ctx().config.archive;
  return archive.archiving && archive.archive_script_method !== null && archive.set_restore_command;
}

/** With archiving on: push the archive script to the clone (ready should it be promoted) and pick its restore_command. */
async function prepareArchiving(env: CloneEnv, target: string): Promise<{ restoreCommand: string | null; notes: string[] }> {
  const archive = env.ctx().config.archive;
  if (!archive.archiving || archive.archive_script_method === null) return { restoreCommand: null, notes: [] };
  const notes: string[] = [];
  let restoreCommand: string | null = null;
  try {
    const plugin = env.plugins.get('archive', archive.archive_script_method);
    const pushed = await plugin.pushScript(env.ctx(), ref(env, target));
    if (!pushed.ok) notes.push(`archive script not pushed: ${pushed.details}`);
    if (archive.set_restore_command) restoreCommand = plugin.restoreCommand(env.ctx());
  } catch (err) {
    notes.push(`archiving not prepared: ${describeError(err)}`);
  }
  return { restoreCommand, notes };
}

/**
 * After a failed copy from the master: wait (bounded) until a failover names a new master, or
 * the old one answers again after having failed. null: the master never failed (the copy failed
 * for another reason), or nothing settled in time, or the clone was cancelled.
 */
async function waitForMaster(env: CloneEnv, oldMaster: string | null, handle: ActionHandle): Promise<string | null> {
  const f = env.ctx().config.failover;
  const limitMs = Math.max(30, f.poll_interval * 3 + f.fail_retries * f.fail_retry_interval + f.promote_timeout_seconds + 10) * 1000;
  const deadline = Date.now() + limitMs;
  let sawFailure = false;
  while (Date.now() < deadline && !handle.signal.aborted) {
    const now = env.book.masterName();
    if (now !== null && now !== oldMaster) return now;
    if (oldMaster !== null && now === oldMaster) {
      const poll = await env.checks.pollServer(oldMaster).catch(() => null);
      if (poll?.result === 'SUCCESS') return sawFailure ? oldMaster : null;
      sawFailure = true;
    }
    await abortableSleep(500, handle.signal);
  }
  return null;
}

/** Wait until the target's WAL receiver streams from `upstream`. */
async function waitStreaming(env: CloneEnv, target: string, upstream: ServerRef, signal: AbortSignal): Promise<void> {
  const waitMs = Math.max(60000, env.ctx().timeouts.commandMs * 2);
  const started = Date.now();
  const deadline = started + waitMs;
  let last = 'not checked';
  while (!signal.aborted) {
    try {
      const row = await withSession(env, ref(env, target), async (s) =>
        (await s.query<{ status: string | null; sender_host: string | null }>('SELECT status, sender_host FROM pg_stat_wal_receiver'))[0],
      );
      if (row?.status === 'streaming' && row.sender_host === upstream.hostname) return;
      last = row ? `WAL receiver ${String(row.status)} from ${String(row.sender_host)}` : 'no WAL receiver yet';
    } catch (err) {
      last = describeError(err);
    }
    if (Date.now() >= deadline) throw new CloneFailure(`the clone does not stream from ${upstream.name} after ${Math.round(waitMs / 1000)} s: ${last}`);
    // The WAL receiver usually connects within a few hundred ms of the start: look often at first.
    await abortableSleep(Date.now() - started < 3000 ? 50 : 250, signal);
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** 20240131T120000Z (also the node agent's reclone folder names) */
export function stamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}
