/**
 * The whole copy verified against pg_basebackup's manifest (issue 14, gap "the copy's end is checked
 * by a few files"): pg_verifybackup (PostgreSQL 13 and later) reads every file of the finished copy,
 * compares its size and checksum with `backup_manifest`, and parses the WAL the copy needs (from the
 * backup's start to its end) with pg_waldump. Run by clone_basebackup on the target node right after
 * pg_basebackup, before anything else touches the folder: the node's configuration files put back
 * and the standby settings would otherwise differ from the manifest. (pg_verifybackup itself skips
 * postgresql.auto.conf and standby.signal, which `-R` writes.) A copy that fails it is a failed copy.
 *
 * WAL: parsed (the default) when pg_basebackup copied it (`-X stream`, HandyRep's choice, or
 * `-X fetch`): a copy whose WAL is damaged cannot reach consistency. Skipped (`--no-parse-wal`) only
 * when extra_parameters say `-X none`: the WAL then comes later (restore_command, streaming), and
 * pg_verifybackup would report it missing.
 *
 * No manifest (extra_parameters `--no-manifest`, or a pg_basebackup before 13): not verified, said so
 * in the result; the marker's file checks (copy-marker.ts) still run.
 */
import type { NodeShell } from '../../nodes/ports.js';
import type { ServerRef } from '../types.js';
import { runNodeJob } from './node-job.js';

/** What pg_basebackup's extra parameters say of the manifest and the WAL (the last -X wins, as in pg_basebackup). Pure. */
export function basebackupOutputs(extra: readonly string[]): { readonly manifest: boolean; readonly walCopied: boolean } {
  let walMethod = 'stream';
  let manifest = true;
  extra.forEach((arg, i) => {
    if (arg === '--no-manifest') manifest = false;
    const joined = /^(?:-X|--wal-method=)(.+)$/.exec(arg);
    if (joined) walMethod = joined[1] as string;
    else if ((arg === '-X' || arg === '--wal-method') && extra[i + 1] !== undefined) walMethod = extra[i + 1] as string;
  });
  return { manifest, walCopied: walMethod !== 'none' && walMethod !== 'n' };
}

/**
 * A pg_basebackup argument this module could misread, or null: getopt reads `-vXn` as `-v -X n`, and
 * getopt_long takes an unambiguous prefix (`--wal-m=none`, `--no-man`). Read wrongly, the WAL
 * method or the manifest would be guessed wrong and every copy fail its checks (copied again,
 * endlessly): so such spellings are refused in extra_parameters. Conservative: an X anywhere in a
 * bundle of short options is refused (also as another option's value, e.g. `-lXmas`). Pure.
 */
export function misreadBasebackupOption(arg: string): string | null {
  if (/^-[^-]/.test(arg) && arg.indexOf('X') > 1) return `"${arg}": write -X apart ("-X", "none" or "-Xnone")`;
  const long = /^--([^=]+)/.exec(arg)?.[1];
  for (const full of ['wal-method', 'no-manifest']) {
    if (long !== undefined && long !== full && full.startsWith(long)) return `"${arg}": write --${full} in full`;
  }
  return null;
}

/** The line the verification job prints when the copy holds no manifest (then nothing is verified). */
export const NO_MANIFEST = 'handyrep-verify: no backup_manifest';

/**
 * The job's argv: pg_verifybackup on the copy when it holds a manifest, else the NO_MANIFEST line
 * (exit 0). Exported for unit tests; paths are argv elements, never parsed by a shell.
 */
export function verifyArgv(target: Pick<ServerRef, 'pgdata' | 'pg_bin_dir'>, walCopied: boolean): string[] {
  const script = `if [ -f "$1/backup_manifest" ]; then shift; exec "$@"; fi; echo '${NO_MANIFEST}'`;
  return ['sh', '-c', script, 'verify_copy', target.pgdata, `${target.pg_bin_dir}/pg_verifybackup`, ...(walCopied ? [] : ['--no-parse-wal']), target.pgdata];
}

/** Runs the verification needs: pg_verifybackup, and pg_waldump when it parses WAL. Pure. */
export function verifyTools(target: Pick<ServerRef, 'pg_bin_dir'>, walCopied: boolean): string[] {
  return [`${target.pg_bin_dir}/pg_verifybackup`, ...(walCopied ? [`${target.pg_bin_dir}/pg_waldump`] : [])];
}

/** Prints the first argument that is not an executable file, exit 1; exit 0 when all are. */
const TOOLS_SCRIPT = 'for p in "$@"; do [ -x "$p" ] || { echo "$p"; exit 1; }; done';

/**
 * Checked before pg_basebackup starts: a missing (or not executable) pg_verifybackup or pg_waldump
 * would fail every finished copy, and each failed copy is emptied and copied again — a whole copy
 * of the master for nothing, forever. Null when both run; else the sentence to refuse with.
 */
export async function missingVerifyTool(shell: NodeShell, target: Pick<ServerRef, 'pg_bin_dir'>, walCopied: boolean, timeoutMs: number): Promise<string | null> {
  const r = await shell.run(['sh', '-c', TOOLS_SCRIPT, 'verify_tools', ...verifyTools(target, walCopied)], { timeoutMs });
  if (r.exitCode === 0) return null;
  const missing = r.stdout.trim() || `(check exited ${String(r.exitCode)}: ${r.stderr.trim()})`;
  return `nothing copied: the copy could not be verified, ${missing} is not an executable file on the node (install it — PostgreSQL 13 or later — or set pg_bin_dir, or pass --no-manifest in extra_parameters to copy unverified)`;
}

export interface VerifyOutcome {
  readonly ok: boolean;
  /** One sentence: verified (WAL parsed or not), not verifiable (no manifest), or pg_verifybackup's own words. */
  readonly details: string;
}

/**
 * pg_verifybackup on `target`'s finished copy, within `timeoutMs`, cancelled with `signal`.
 * `manifestExpected`: pg_basebackup was not told --no-manifest. It then always writes one (13 and
 * later, as pg_verifybackup in the same pg_bin_dir is; source and target share the major version),
 * so a copy without one is a failed copy, not an unverified one: the controller's clone over ssh
 * checks nothing else before it starts the copy (review s8 N1).
 */
export async function verifyCopy(shell: NodeShell, target: ServerRef, walCopied: boolean, timeoutMs: number, signal: AbortSignal, manifestExpected: boolean): Promise<VerifyOutcome> {
  const job = await runNodeJob(shell, verifyArgv(target, walCopied), { timeoutMs, signal });
  const output = job.output.trim();
  if (job.cancelled) return { ok: false, details: `pg_verifybackup cancelled: ${output}` };
  if (job.timedOut) return { ok: false, details: `pg_verifybackup timed out: ${output}` };
  // The shell's own codes: the program (or what it runs) could not be started — not a verdict on the copy.
  if (job.exitCode === 126 || job.exitCode === 127) return { ok: false, details: `pg_verifybackup could not be run (exit ${String(job.exitCode)}): ${output}` };
  if (job.exitCode !== 0) return { ok: false, details: `the copy failed verification (pg_verifybackup exited ${String(job.exitCode)}): ${output}` };
  if (output.includes(NO_MANIFEST) && manifestExpected) return { ok: false, details: 'the copy holds no backup_manifest although pg_basebackup was asked for one (not verified: a failed copy)' };
  if (output.includes(NO_MANIFEST)) return { ok: true, details: 'not verified whole: the copy holds no backup_manifest (its end is checked by a few files only)' };
  return { ok: true, details: `verified whole by pg_verifybackup against backup_manifest${walCopied ? ', WAL parsed' : ' (WAL not parsed: -X none, it comes later)'}` };
}
