/**
 * A standby whose postmaster died is brought to a clean stop IN STANDBY MODE before pg_rewind.
 *
 * Why: pg_rewind refuses a folder that was not shut down cleanly, so it first runs crash recovery
 * itself (`postgres --single`), and single-user mode cannot run as a standby (rewind.ts removes
 * standby.signal for it). That recovery runs as a primary: it ends by writing a shutdown checkpoint
 * record into the standby's own WAL, a record the master never wrote, at a position where the master
 * has other records, on the SAME timeline. pg_rewind then says "no rewind required", and the standby
 * streams from the master until replay reaches that position, where the master's bytes do not
 * continue its record ("invalid record length at …: wanted 24, got …", "record with incorrect
 * prev-link"): the WAL receiver is stopped and restarted every wal_retrieve_retry_interval, for good
 * (reproduced on PostgreSQL 15: SIGKILL of a standby under write load, then its agent's boot).
 *
 * In standby mode the same crash recovery writes no WAL: started with standby.signal, no upstream
 * (primary_conninfo, slot and restore_command emptied on the command line) and no TCP listener, the
 * server replays its own WAL up to a consistent state; a fast stop then leaves "shut down in
 * recovery", which pg_rewind takes as it is (no single-user run): "no rewind required" when the
 * node's WAL is a prefix of the master's, a real rewind when it forked.
 */
import type { ServerRef } from '../../plugins/types.js';
import type { NodeShell } from '../../nodes/ports.js';

/** One command; ok and its last output lines (the rewind's own runner lives in rewind.ts, which calls this module). */
async function run(shell: NodeShell, argv: string[], timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  const result = await shell.run(argv, { timeoutMs });
  const output = `${result.stdout}${result.stderr}`.trim().split('\n').slice(-3).join(' | ');
  return { ok: result.exitCode === 0 && !result.timedOut, output: result.timedOut ? `timed out: ${output}` : output };
}

export type StandbyStopTarget = Pick<ServerRef, 'name' | 'pgdata' | 'pg_bin_dir'> & { readonly pgconf?: string | null };

/** The "Database cluster state" of pg_controldata's output, or null when absent. Pure. */
export function clusterStateOf(controldata: string): string | null {
  const line = controldata.split('\n').find((l) => l.startsWith('Database cluster state:'));
  return line === undefined ? null : line.slice('Database cluster state:'.length).trim();
}

/**
 * Whether the folder is a standby that stopped without a clean shutdown (its postmaster killed or
 * crashed while in recovery): pg_rewind's own crash recovery would write WAL into it. A crashed
 * primary ("in production") has its own WAL to recover, as a primary, and is left to pg_rewind. Pure.
 */
export function isCrashedStandby(state: string | null): boolean {
  return state === 'in archive recovery';
}

/**
 * `pg_ctl start` of the standby with nothing to stream from and nobody to serve: every setting is a
 * constant (the paths are argv elements of their own). hot_standby on: pg_ctl -w returns once the
 * replay is consistent.
 */
export function standbyRecoveryStartArgv(target: StandbyStopTarget, logFile: string, waitSeconds: number): string[] {
  const options = "-c listen_addresses='' -c primary_conninfo='' -c primary_slot_name='' -c restore_command='' -c hot_standby=on";
  return [`${target.pg_bin_dir}/pg_ctl`, 'start', '-D', target.pgconf ?? target.pgdata, '-w', '-t', String(waitSeconds), '-l', logFile, '-o', options];
}

export interface StandbyCleanStop {
  /** Whether the folder was a crashed standby and this ran. */
  readonly ran: boolean;
  readonly ok: boolean;
  readonly details: string;
}

/**
 * When `target`'s stopped folder is a crashed standby: start it in standby mode without upstream,
 * stop it fast, and check it is "shut down in recovery". Otherwise nothing (ran false). `logFile`
 * receives the server's output while it runs (the agent's pg_log_file; /dev/null for the
 * controller, whose log of the node is not known).
 */
export async function stopCrashedStandbyCleanly(shell: NodeShell, target: StandbyStopTarget, timeoutMs: number, logFile: string | null = null): Promise<StandbyCleanStop> {
  const controldata = [`${target.pg_bin_dir}/pg_controldata`, '-D', target.pgdata];
  const before = await shell.run(controldata, { timeoutMs: 15_000 });
  // An unreadable control file is pg_rewind's to report (it reads the same file).
  if (before.exitCode !== 0) return { ran: false, ok: true, details: '' };
  const state = clusterStateOf(before.stdout);
  if (!isCrashedStandby(state)) return { ran: false, ok: true, details: '' };
  const signal = await run(shell, ['touch', `${target.pgdata}/standby.signal`], 10_000);
  if (!signal.ok) return { ran: true, ok: false, details: `${target.name}: cannot write standby.signal: ${signal.output}` };
  const waitSeconds = Math.max(5, Math.floor(timeoutMs / 2000));
  const started = await run(shell, standbyRecoveryStartArgv(target, logFile ?? '/dev/null', waitSeconds), timeoutMs / 2);
  // Stopped whether or not pg_ctl saw it ready: a server still replaying must not stay up.
  const stopped = await run(shell, [`${target.pg_bin_dir}/pg_ctl`, 'stop', '-D', target.pgconf ?? target.pgdata, '-m', 'fast', '-w', '-t', String(waitSeconds)], timeoutMs / 2);
  const after = await shell.run(controldata, { timeoutMs: 15_000 });
  const now = after.exitCode === 0 ? clusterStateOf(after.stdout) : null;
  const crashed = `${target.name} was a crashed standby (${state})`;
  if (now !== 'shut down in recovery') {
    return { ran: true, ok: false, details: `${crashed}: its recovery in standby mode did not end in a clean stop (${now ?? 'state unknown'}), pg_rewind not run (start: ${started.output || 'ok'}; stop: ${stopped.output || 'ok'})` };
  }
  return { ran: true, ok: true, details: `${crashed}: recovered in standby mode, stopped (${now})` };
}
