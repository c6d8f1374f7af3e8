/**
 * A clone's copy on a node under `control_method: agent`: instead of the folder scripts and the
 * plugin's pg_basebackup job over ssh, one `clone` command (src/agent/commands/) that the node's
 * agent runs with its own configuration (its clone plugin, passwords and files): folder checked,
 * configuration files kept, old data moved aside or emptied, copy, standby configuration for
 * `upstream`. It answers when the copy has ended (the record's `started` and `result` say when it
 * ran and how it ended; its `progress`, written by the agent every second, how far the copy is);
 * PostgreSQL is not started. A failed copy has been removed by the agent
 * (the node's configuration files put back), so nothing is left for the controller to clean.
 */
import type { PluginContext, ServerRef } from '../../plugins/types.js';
import { cloneTimeoutSchema, verifyTimeoutSchema } from '../../plugins/clone/settings.js';
import { describeError } from '../../model/errors.js';

/** The clone step's last stdout line (src/agent/commands/clone-step.ts): `handyrep-folder: {"touched":…,"old_data":…}`. */
export const FOLDER_LINE = 'handyrep-folder: ';

/** The longest a command record allows (command-record.ts). */
const MAX_COMMAND_MS = 86_400_000;
/** Besides the copy: the master's checkpoint and size, emptying a data folder (up to 10 min), the files. */
const MARGIN_MS = 15 * 60_000;

export interface AgentCopy {
  readonly source: string;
  readonly upstream: string;
  readonly oldData: 'none' | 'move' | 'delete';
  readonly restoreCommand: boolean;
}

/** Whether the target's channel runs whole actions (an agent); the copy then goes through copyThroughAgent. */
export function copiesThroughAgent(ctx: PluginContext, target: ServerRef): boolean {
  return ctx.shellFor(target).runAction !== undefined;
}

/**
 * The command's time limit: the clone plugin's timeout (its setting in this configuration), for
 * clone_basebackup plus its verification's own (verify_timeout_seconds, default the same), and a margin.
 */
export function agentCopyTimeoutMs(ctx: PluginContext, target: ServerRef): number {
  const settings = ctx.settings(target.clone_method);
  const parsed = cloneTimeoutSchema.safeParse(settings['timeout_seconds']);
  const copy = parsed.success ? parsed.data : 86_400;
  const verify = verifyTimeoutSchema.safeParse(settings['verify_timeout_seconds']);
  const seconds = copy + (target.clone_method === 'clone_basebackup' ? ((verify.success ? verify.data : undefined) ?? copy) : 0);
  // The margin is kept even at the largest plugin timeout: the agent must not stop the copy exactly when the plugin would.
  return Math.min(seconds * 1000, MAX_COMMAND_MS - MARGIN_MS) + MARGIN_MS;
}

/**
 * The copy's outcome; `oldData`: where the agent moved the old data folder ('deleted': emptied; null:
 * neither); `touched`: whether the agent changed the data folder at all (unknown, e.g. no answer: true).
 */
export async function copyThroughAgent(
  ctx: PluginContext,
  target: ServerRef,
  copy: AgentCopy,
  progress: (bytesDone: number | null, bytesTotal: number | null) => void = () => undefined,
  signal?: AbortSignal,
): Promise<{ ok: boolean; details: string; oldData: string | null; touched: boolean }> {
  const shell = ctx.shellFor(target);
  if (shell.runAction === undefined) return { ok: false, details: `${target.name} has no agent channel`, oldData: null, touched: false };
  try {
    const result = await shell.runAction(
      // The folder this controller means: an agent configured with another one refuses (command-plan.ts configurationDiffers).
      { action: 'clone', source: copy.source, upstream: copy.upstream, old_data: copy.oldData, restore_command: copy.restoreCommand, expect: { pgdata: target.pgdata } },
      agentCopyTimeoutMs(ctx, target),
      progress,
      signal,
    );
    const { folder, rest } = folderLine(result.stdout);
    const output = `${rest}${result.stderr}`.trim();
    const oldData = folder?.old_data ?? null;
    const touched = folder?.touched ?? true;
    if (result.exitCode === 0 && !result.timedOut) return { ok: true, details: `by the agent of ${target.name}: ${output}`, oldData, touched };
    return { ok: false, details: `by the agent of ${target.name}${result.timedOut ? ' (timed out)' : ''}: ${output || `exit ${String(result.exitCode)}`}`, oldData, touched };
  } catch (err) {
    // No answer (agent gone, cancelled): the folder may have been changed.
    return { ok: false, details: describeError(err), oldData: null, touched: true };
  }
}

/** The clone step's last line (clone-step.ts FOLDER_LINE) parsed, and the output without it; folder null when absent. */
export function folderLine(stdout: string): { folder: { touched: boolean; old_data: string | null } | null; rest: string } {
  const at = stdout.lastIndexOf(FOLDER_LINE);
  if (at < 0) return { folder: null, rest: stdout };
  try {
    const parsed = JSON.parse(stdout.slice(at + FOLDER_LINE.length).trim()) as { touched?: unknown; old_data?: unknown };
    const folder = { touched: parsed.touched !== false, old_data: typeof parsed.old_data === 'string' ? parsed.old_data : null };
    return { folder, rest: stdout.slice(0, at) };
  } catch {
    return { folder: null, rest: stdout };
  }
}

/**
 * What a copy attempt through the agent does with a folder holding data: the plan's choice first;
 * later (a retry after a failover) 'move' again while the kept data is not known to be aside —
 * never 'delete' a folder the operator asked to keep — else 'delete' (the earlier attempt's copy).
 */
export function oldDataForAttempt(attempt: number, planned: 'none' | 'move' | 'delete', keptAt: string | null): 'none' | 'move' | 'delete' {
  if (attempt === 1) return planned;
  return planned === 'move' && keptAt === null ? 'move' : 'delete';
}
