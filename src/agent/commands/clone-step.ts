/**
 * The agent's side of a clone the controller asked for (action `clone`): the boot's own copy
 * (boot-clone.ts: folder checks, configuration files kept, old data moved aside or emptied, the
 * clone plugin, standby configuration) with the plugins and settings of the agent's configuration,
 * the copy killed when the command's timeout is over. PostgreSQL is not started: the controller
 * starts it (a `pg_ctl` command) once it has the result, and waits until it streams.
 */
import { performance } from 'node:perf_hooks';
import type { HandyRepConfig } from '../../config/schema.js';
import { describeError } from '../../model/errors.js';
import type { CommandResult } from '../../nodes/ports.js';
import type { ProcessGroupWatcher } from '../../nodes/run-process.js';
import { agentNodeEnv, serverRef } from '../agent-plugin-context.js';
import { localCopyChecks, refuseCopy } from '../copy-checks.js';
import { cloneFromMaster } from '../boot-clone.js';
import { configuredSlot, dropIdleSlot } from '../boot-standby.js';
import { FOLDER_LINE } from '../../runtime/clone/clone-through-agent.js';
import type { LocalStep } from './command-plan.js';

export async function runCloneStep(
  config: Readonly<HandyRepConfig>,
  step: Extract<LocalStep, { kind: 'clone' }>,
  timeoutMs: number,
  log: (line: string) => void,
  progress: (bytesDone: number | null, bytesTotal: number | null) => void = () => undefined,
  cancel?: AbortSignal,
  /** The agent's copy groups: its stop (and its next start, after a SIGKILL) kills this copy too. */
  groups?: ProcessGroupWatcher,
): Promise<CommandResult> {
  const started = performance.now();
  const env = agentNodeEnv(config, log, groups);
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, timeoutMs);
  const onCancel = (): void => {
    log(`agent ${step.node}: clone from ${step.source}: its record was deleted (cancelled by the controller, or its leader's lease ended): stopping the copy`);
    abort.abort();
  };
  if (cancel?.aborted === true) onCancel();
  else cancel?.addEventListener('abort', onCancel, { once: true });
  try {
    // Before the master is asked for anything; checked again after its CHECKPOINT and right before the copy (boot-clone.ts).
    const refused = await refuseCopy(localCopyChecks, { node: step.node, source: step.source, pgdata: serverRef(config, step.node).pgdata, databaseBytes: null });
    if (refused !== null) {
      return { exitCode: 1, stdout: `${FOLDER_LINE}${JSON.stringify({ touched: false, old_data: null })}`, stderr: refused.message, timedOut: false, durationMs: performance.now() - started };
    }
    const extraSettings: Record<string, string> = {};
    if (step.restoreCommand) {
      const method = config.archive.archive_script_method;
      const restore = method === null ? null : env.plugins.get('archive', method).restoreCommand(env.ctx);
      if (restore !== null) extraSettings['restore_command'] = restore;
    }
    log(`agent ${step.node}: clone from ${step.source} (standby of ${step.upstream}, old data: ${step.oldData}) starting`);
    let result = await cloneFromMaster(env, config, step.node, step.upstream, step.oldData !== 'none', abort.signal, {
      source: step.source,
      deleteOldData: step.oldData === 'delete',
      extraSettings,
      progress: (p) => progress(p.bytesDone, p.bytesTotal),
    });
    // The slot the copy created on the upstream keeps WAL for nobody once the copy failed (as the boot does).
    const slot = configuredSlot(config, step.node);
    const dropped = !result.ok && slot !== null ? `; ${await dropIdleSlot(config, step.upstream, slot).catch((err: unknown) => `slot ${slot} not dropped: ${describeError(err)}`)}` : '';
    if (dropped !== '') result = { ...result, details: `${result.details}${dropped}` };
    // A last line the controller reads (clone-through-agent.ts): what happened to the data folder.
    const folder = `\n${FOLDER_LINE}${JSON.stringify({ touched: result.touched ?? true, old_data: result.oldData ?? (result.deletedOldData === true ? 'deleted' : null) })}`;
    return { exitCode: result.ok ? 0 : 1, stdout: result.ok ? `${result.details}${folder}` : folder.trim(), stderr: result.ok ? '' : result.details, timedOut, durationMs: performance.now() - started };
  } catch (err) {
    return { exitCode: 1, stdout: '', stderr: describeError(err), timedOut, durationMs: performance.now() - started };
  } finally {
    clearTimeout(timer);
    cancel?.removeEventListener('abort', onCancel);
  }
}
