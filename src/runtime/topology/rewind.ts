/**
 * pg_rewind of a stopped node onto a master, keeping the node's own configuration files, through a
 * NodeShell: the controller's rejoin (ssh or local shell) and the node agent's boot (its own
 * local shell) share it. The rewind's password travels through a temporary passfile written over
 * stdin, never on a command line (nodes/passfile.ts). The caller makes the master CHECKPOINT
 * first: pg_rewind reads the source's timeline from its control file, which a just-promoted master
 * updates only at its next checkpoint.
 */
import { randomBytes } from 'node:crypto';
import type { HandyRepConfig } from '../../config/schema.js';
import { describeError } from '../../model/errors.js';
import { passfileLine, withPassfile } from '../../nodes/passfile.js';
import { conninfoString } from '../../nodes/pg-conf-quote.js';
import type { NodeShell } from '../../nodes/ports.js';
import type { ServerRef } from '../../plugins/types.js';
import { stopCrashedStandbyCleanly } from './standby-clean-stop.js';

/** What the rewind needs of the node rewound and of its source (ServerRefs qualify). */
export type RewindTarget = Pick<ServerRef, 'name' | 'pgdata' | 'pg_bin_dir'> & { readonly pgconf?: string | null };
export type RewindSource = Pick<ServerRef, 'name' | 'hostname' | 'port'>;

/** Configuration files that belong to the node, not to the cluster's data. */
function configFiles(server: RewindTarget): string[] {
  return ['postgresql.conf', 'postgresql.auto.conf', 'pg_hba.conf', 'pg_ident.conf'].map((f) => `${server.pgdata}/${f}`);
}

export async function runOn(shell: NodeShell, argv: string[], timeoutMs: number, stdin?: string): Promise<{ ok: boolean; output: string }> {
  const result = await shell.run(argv, stdin === undefined ? { timeoutMs } : { timeoutMs, stdin });
  const output = `${result.stdout}${result.stderr}`.trim().split('\n').slice(-4).join(' | ');
  return { ok: result.exitCode === 0 && !result.timedOut, output: result.timedOut ? `timed out: ${output}` : output };
}

async function rewind(shell: NodeShell, config: Readonly<HandyRepConfig>, old: RewindTarget, master: RewindSource, timeoutMs: number): Promise<{ ok: boolean; details: string; ran: boolean }> {
  const conninfo = conninfoString([
    { key: 'host', value: master.hostname, setting: `servers.${master.name}.hostname` },
    { key: 'port', value: String(master.port), setting: `servers.${master.name}.port` },
    { key: 'user', value: config.handyrep.handyrep_user, setting: 'handyrep.handyrep_user' },
    { key: 'dbname', value: config.handyrep.handyrep_db, setting: 'handyrep.handyrep_db' },
  ]);
  const rewindArgv = [`${old.pg_bin_dir}/pg_rewind`, '-D', old.pgdata, '--source-server', conninfo];
  const password = config.passwords.handyrep_db_pass;
  const line = password ? passfileLine(master.hostname, master.port, config.handyrep.handyrep_user, password) : null;
  try {
    const result = await withPassfile(shell, line, (passfile) => runOn(shell, passfile === null ? rewindArgv : ['env', `PGPASSFILE=${passfile}`, ...rewindArgv], timeoutMs));
    return { ok: result.ok, details: `pg_rewind: ${result.output}`, ran: true };
  } catch (err) {
    // Returned, not thrown: the caller must still restore the node's configuration files.
    return { ok: false, details: `pg_rewind not run: ${describeError(err)}`, ran: false };
  }
}

/**
 * Rewinds the stopped node `old` onto `master` (pg_rewind itself says "no rewind required" when
 * the timelines did not fork). `beforeRewind` runs after the files are saved (the controller's
 * term check). ok false with the reason when it could not; `rewindFailed` when pg_rewind itself ran
 * and failed (it could not join the timelines: a reclone is what is left), not when it never ran.
 */
export async function rewindKeepingConfig(
  shell: NodeShell,
  config: Readonly<HandyRepConfig>,
  old: RewindTarget,
  master: RewindSource,
  timeoutMs: number,
  beforeRewind: () => void = () => undefined,
  /** Where the server's output goes if it must run in standby mode first (standby-clean-stop.ts). */
  serverLog: string | null = null,
): Promise<{ ok: boolean; details: string; rewindFailed?: boolean }> {
  if (shell.runAction) {
    // control_method agent: the node's agent runs this whole sequence with its own files and passwords.
    beforeRewind();
    const result = await shell.runAction({ action: 'rewind', source: master.name }, timeoutMs);
    const output = `${result.stdout}${result.stderr}`.trim();
    return result.exitCode === 0 ? { ok: true, details: output } : { ok: false, details: `${old.name}: ${output || 'pg_rewind failed'}` };
  }
  // A crashed standby recovers in standby mode first: pg_rewind's own recovery would write WAL the master never had.
  const standby = await stopCrashedStandbyCleanly(shell, old, Math.min(timeoutMs, 120_000), serverLog);
  if (!standby.ok) return { ok: false, details: standby.details };
  const recovered = standby.ran ? `${standby.details}; ` : '';
  // A leftover standby.signal (an earlier attempt) would stop pg_rewind's crash recovery run.
  await runOn(shell, ['rm', '-f', `${old.pgdata}/standby.signal`], 10000);
  // pg_rewind copies the source's configuration files; the node keeps its own (listen address, ...).
  // The copies live outside the data folder: pg_rewind deletes files the source does not have.
  const keep = `/tmp/handyrep-rewind-${randomBytes(6).toString('hex')}`;
  const saved = await runOn(shell, ['sh', '-c', 'd=$1; shift; mkdir -m 700 "$d" && for f in "$@"; do if [ -f "$f" ]; then cp -p "$f" "$d/"; fi; done', 'keep_config', keep, ...configFiles(old)], 10000);
  if (!saved.ok) return { ok: false, details: `${old.name}: cannot save its configuration files before pg_rewind: ${saved.output}` };
  beforeRewind();
  const rewound = await rewind(shell, config, old, master, timeoutMs);
  const restored = await runOn(shell, ['sh', '-c', 'd=$1; p=$2; cp -p "$d"/* "$p"/ && rm -rf "$d"', 'restore_config', keep, old.pgdata], 10000);
  if (!restored.ok) return { ok: false, details: `${old.name}: cannot restore its configuration files after pg_rewind (saved in ${keep}): ${restored.output}` };
  if (!rewound.ok) return { ok: false, details: `${recovered}${old.name}: rewind failed, reclone needed: ${rewound.details}`, rewindFailed: rewound.ran };
  return { ok: true, details: `${recovered}${rewound.details}` };
}
