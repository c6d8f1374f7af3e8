/**
 * What a clone does to the target node besides the copy itself: probe whether PostgreSQL runs
 * there, inspect its data folder, keep its own configuration files across the copy (as rejoin
 * does), move the old folder aside or empty it, and write the standby configuration. Every
 * command is an argv run over the node's control channel; values reach scripts as positional
 * parameters, secrets only over stdin.
 */
import { randomBytes } from 'node:crypto';
import type { TargetFolder } from '../../engine/clone-plan.js';
import { describeError } from '../../model/errors.js';
import { confLines } from '../../nodes/pg-conf-quote.js';
import { SqlConnectError } from '../../nodes/sql-client.js';
import type { PluginContext, ServerRef } from '../../plugins/types.js';
import { observeRunning } from '../observe.js';
import type { PluginRegistry } from '../../plugins/registry.js';
import { emptyFolderArgv, FolderBusyError, folderBusyOf, moveFolderArgv } from './folder-guard.js';

/** Configuration files that belong to the node, not to the cluster's data (kept across a clone). */
export const NODE_CONFIG_FILES = ['postgresql.conf', 'postgresql.auto.conf', 'pg_hba.conf', 'pg_ident.conf'] as const;

export interface NodeEnv {
  ctx: PluginContext;
  plugins: PluginRegistry;
}

const SHORT_MS = 30000;

/**
 * Run a short command on the node. Every script here is idempotent, so a command whose exit status
 * never arrived (the channel closed without one: a lost status, not a failure of the command) is
 * run again, at most twice.
 */
export async function runOnNode(env: NodeEnv, server: ServerRef, argv: string[], timeoutMs = SHORT_MS, stdin?: string): Promise<{ ok: boolean; output: string; attempts?: number }> {
  let output = '';
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    try {
      const result = await env.ctx.shellFor(server).run(argv, stdin === undefined ? { timeoutMs } : { timeoutMs, stdin });
      output = `${result.stdout}${result.stderr}`.trim().split('\n').slice(-4).join(' | ');
      if (result.exitCode === null && !result.timedOut) continue;
      return { ok: result.exitCode === 0 && !result.timedOut, output: result.timedOut ? `timed out: ${output}` : output, attempts: attempt };
    } catch (err) {
      return { ok: false, output: describeError(err) };
    }
  }
  return { ok: false, output: `no exit status: ${output}` };
}

/**
 * Does PostgreSQL run on the target? Asked twice, never from the cached status: the restart
 * plugin's status, and a connection attempt (something answering at the server's address counts
 * as running even when the plugin says otherwise). null: neither can tell.
 */
export async function probeRunning(env: NodeEnv, server: ServerRef): Promise<{ running: boolean | null; detail: string }> {
  const [status, sql] = await Promise.all([
    observeRunning(env, server),
    (async (): Promise<{ answer: 'accepts' | 'refused' | 'answers' | 'silent'; detail: string }> => {
      try {
        const session = await env.ctx.sql.connect(env.ctx.sqlTarget(server));
        await session.end();
        return { answer: 'accepts', detail: 'accepts connections' };
      } catch (err) {
        if (err instanceof SqlConnectError) {
          if (err.kind === 'refused') return { answer: 'refused', detail: 'connection refused' };
          if (err.kind === 'starting' || err.kind === 'auth') return { answer: 'answers', detail: `answers at its address (${err.kind})` };
        }
        return { answer: 'silent', detail: describeError(err) };
      }
    })(),
  ]);
  const statusText = status === null ? 'restart plugin cannot tell' : status ? 'restart plugin: running' : 'restart plugin: not running';
  const detail = `${statusText}; ${sql.detail}`;
  if (status === true || sql.answer === 'accepts' || sql.answer === 'answers') return { running: true, detail };
  if (status === false || sql.answer === 'refused') return { running: false, detail };
  return { running: null, detail };
}

const INSPECT_SCRIPT = [
  'd=$1; shift',
  'if [ ! -e "$d" ]; then echo missing; exit 0; fi',
  'if [ ! -d "$d" ]; then echo "other not a folder"; exit 0; fi',
  'if [ -f "$d/PG_VERSION" ]; then echo "pgdata PostgreSQL $(cat "$d/PG_VERSION")"; exit 0; fi',
  'extra=""',
  'for f in "$d"/* "$d"/.[!.]* "$d"/..?*; do',
  '  [ -e "$f" ] || continue',
  '  b=$(basename "$f"); ok=no',
  '  for c in "$@"; do [ "$b" = "$c" ] && ok=yes; done',
  '  [ $ok = yes ] || extra="$extra $b"',
  'done',
  'if [ -n "$extra" ]; then echo "other holds:$extra" | cut -c1-300; exit 0; fi',
  'if [ -n "$(ls -A "$d")" ]; then echo "config_only configuration files only"; else echo empty; fi',
].join('\n');

/** The argv that prints what the data folder `pgdata` holds (also rebuilt by an agent: command-plan.ts). */
export function inspectFolderArgv(pgdata: string): string[] {
  return ['sh', '-c', INSPECT_SCRIPT, 'inspect_pgdata', pgdata, ...NODE_CONFIG_FILES];
}

/** What the data folder holds; folder null when the control channel cannot tell. */
export async function inspectFolder(env: NodeEnv, server: ServerRef): Promise<{ folder: TargetFolder | null; detail: string }> {
  const result = await runOnNode(env, server, inspectFolderArgv(server.pgdata));
  if (!result.ok) return { folder: null, detail: result.output };
  const [kind, ...rest] = result.output.split(' ');
  const detail = `${server.pgdata}${rest.length ? `: ${rest.join(' ')}` : ` is ${kind}`}`;
  if (kind === 'missing' || kind === 'empty' || kind === 'config_only' || kind === 'pgdata' || kind === 'other') return { folder: kind, detail };
  return { folder: null, detail: `unexpected answer: ${result.output}` };
}

/** Copy the node's configuration files out of its data folder; returns where they are (null: none). */
export async function saveConfigFiles(env: NodeEnv, server: ServerRef): Promise<string | null> {
  const keep = `/tmp/handyrep-clone-conf-${randomBytes(6).toString('hex')}`;
  const script = 'k=$1; d=$2; shift 2; rm -rf "$k"; mkdir -m 700 "$k" || exit 1; n=0; for f in "$@"; do if [ -f "$d/$f" ]; then cp -p "$d/$f" "$k/" || exit 1; n=$((n+1)); fi; done; if [ $n = 0 ]; then rmdir "$k"; echo none; fi';
  const result = await runOnNode(env, server, ['sh', '-c', script, 'keep_config', keep, server.pgdata, ...NODE_CONFIG_FILES]);
  if (!result.ok) throw new Error(`cannot save ${server.name}'s configuration files: ${result.output}`);
  return result.output.endsWith('none') ? null : keep;
}

/** Put saved configuration files back into the data folder (and delete the saved copy). */
export async function restoreConfigFiles(env: NodeEnv, server: ServerRef, saved: string): Promise<void> {
  const result = await runOnNode(env, server, ['sh', '-c', 'k=$1; d=$2; [ -d "$k" ] || exit 0; mkdir -p -m 700 "$d" && cp -p "$k"/* "$d"/ && rm -rf "$k"', 'restore_config', saved, server.pgdata]);
  if (!result.ok) throw new Error(`cannot restore ${server.name}'s configuration files (saved in ${saved}): ${result.output}`);
}

/**
 * Rename the data folder to `<pgdata>.<label>-<stamp>` (the node agent's reclone: handyrep-old); returns the new path.
 * FolderBusyError, nothing moved: PostgreSQL (or any process) works in the folder right before the rename (folder-guard.ts).
 */
export async function moveFolderAside(env: NodeEnv, server: ServerRef, stamp: string, label = 'diverged'): Promise<string> {
  const aside = `${server.pgdata}.${label}-${stamp}`;
  const result = await runOnNode(env, server, moveFolderArgv(server.pgdata, aside));
  const busy = result.ok ? null : folderBusyOf(result.output);
  if (busy !== null) throw new FolderBusyError(server.pgdata, busy, 'moved aside');
  if (!result.ok) throw new Error(`cannot move ${server.pgdata} aside to ${aside} (a mount point? use keep_old_data=false): ${result.output}`);
  return aside;
}

/**
 * Delete everything inside the data folder (the folder itself stays: it may be a mount point).
 * FolderBusyError, nothing deleted: PostgreSQL (or any process) works in the folder right before the delete (folder-guard.ts).
 */
export async function emptyFolder(env: NodeEnv, server: ServerRef): Promise<void> {
  const result = await runOnNode(env, server, emptyFolderArgv(server.pgdata), 600000);
  const busy = result.ok ? null : folderBusyOf(result.output);
  // Refused on a second run (the first one's exit status lost): the first may have deleted part already.
  if (busy !== null && result.attempts !== 1) throw new Error(`cannot empty ${server.pgdata} (an earlier run's exit status was lost, it may have deleted part of it): ${new FolderBusyError(server.pgdata, busy, 'emptied').message}`);
  if (busy !== null) throw new FolderBusyError(server.pgdata, busy, 'emptied');
  if (!result.ok) throw new Error(`cannot empty ${server.pgdata}: ${result.output}`);
}

/**
 * Make the copy a standby: append the settings to postgresql.auto.conf (over stdin: the
 * conninfo may hold a password; the last value in the file wins), create standby.signal and
 * drop a recovery.signal.
 */
export async function writeStandbyConfig(env: NodeEnv, server: ServerRef, settings: Readonly<Record<string, string>>): Promise<void> {
  const text = `# written by HandyRep clone\n${confLines(settings)}`;
  const append = await runOnNode(env, server, ['sh', '-c', 'cat >> "$1/postgresql.auto.conf" && touch "$1/standby.signal" && rm -f "$1/recovery.signal"', 'standby_config', server.pgdata], SHORT_MS, text);
  if (!append.ok) throw new Error(`cannot write ${server.name}'s standby configuration: ${append.output}`);
}
