/**
 * clone_rsync: a low-level, non-exclusive base backup. One SQL session on the source holds it
 * open: a temporary physical replication slot (so the source keeps the WAL the copy needs), then
 * pg_backup_start (PostgreSQL 15; pg_start_backup(..., exclusive => false) before). rsync, run on
 * the target node, pulls the data folder from the source over ssh (the exclusions of the
 * PostgreSQL manual's "Making a Base Backup Using the Low Level API"); pg_backup_stop ends the
 * backup, the WAL from the backup's start onwards is pulled the same way, and the backup_label
 * (and tablespace_map) it returned are written into the copy. Cancelling or any failure ends the
 * session, which aborts the backup and drops the slot.
 *
 * The target node's OS user must be able to ssh to the source (keys set up by the operator:
 * HandyRep does not do rsync/ssh configuration on nodes, seed 001). No tablespaces.
 */
import { z } from 'zod';
import { nameSchema } from '../../config/validators.js';
import { describeError } from '../../model/errors.js';
import type { SqlSession } from '../../nodes/ports.js';
import { pluginSettings } from '../settings.js';
import type { ClonePlugin, CloneRequest, PluginContext, ServerRef } from '../types.js';
import { runNodeJob } from './node-job.js';
import { parseRsyncProgress } from './progress.js';
import { cloneTimeoutSchema, extraArgsSchema, progressIntervalSchema } from './settings.js';

/** ssh options go into rsync's -e string, which rsync splits on blanks: keep them plain. */
const plainArg = z.string().regex(/^[A-Za-z0-9_./:=@%+,~-]+$/, 'must be a plain word (letters, digits and _ . / : = @ % + , ~ -)');

const settingsSchema = z
  .object({
    rsync_path: z.string().regex(/^[A-Za-z0-9_./-]+$/).default('rsync'),
    ssh_path: z.string().regex(/^[A-Za-z0-9_./-]+$/).default('ssh'),
    /** Options for the ssh the target node runs to reach the source, e.g. ["-i", "/var/lib/postgresql/.ssh/id_clone"]. */
    ssh_options: z.array(plainArg).default(['-o', 'BatchMode=yes']),
    /** Login on the source; null = the source's ssh_user. */
    ssh_user: nameSchema.nullable().default(null),
    /** Port of the source's sshd; null = the source's ssh_port. */
    ssh_port: z.number().int().min(1).max(65535).nullable().default(null),
    compress: z.boolean().default(false),
    extra_parameters: extraArgsSchema,
    timeout_seconds: cloneTimeoutSchema,
    progress_interval_seconds: progressIntervalSchema,
  })
  .strict();

type Settings = z.output<typeof settingsSchema>;

/** Left out of the copy (PostgreSQL manual, "Backing Up the Data Directory"); anchored at the data folder. */
export const RSYNC_EXCLUDES = [
  '/postmaster.pid',
  '/postmaster.opts',
  '/pg_wal/*',
  '/pg_replslot/*',
  '/pg_dynshmem/*',
  '/pg_notify/*',
  '/pg_serial/*',
  '/pg_snapshots/*',
  '/pg_stat_tmp/*',
  '/pg_subtrans/*',
  'pgsql_tmp*',
  '/backup_label',
  '/backup_label.old',
  '/tablespace_map',
  '/standby.signal',
  '/recovery.signal',
  '/recovery.conf',
  '/postgresql.auto.conf.tmp',
  '/current_logfiles',
];

function sshCommand(settings: Settings, source: ServerRef): string {
  return [settings.ssh_path, '-p', String(settings.ssh_port ?? source.ssh_port), '-l', settings.ssh_user ?? source.ssh_user, ...settings.ssh_options].join(' ');
}

/** The rsync argv copying the data folder (exported for unit tests). */
export function rsyncDataArgv(settings: Settings, request: Pick<CloneRequest, 'target' | 'source'>): string[] {
  const { target, source } = request;
  return [
    settings.rsync_path,
    '-a',
    '--info=progress2',
    '--no-inc-recursive',
    '-e', sshCommand(settings, source),
    ...RSYNC_EXCLUDES.flatMap((x) => ['--exclude', x]),
    ...(settings.compress ? ['-z'] : []),
    ...settings.extra_parameters,
    `${source.hostname}:${source.pgdata}/`,
    `${target.pgdata}/`,
  ];
}

/** The WAL segment named in a backup label's START WAL LOCATION line. */
export function labelStartFile(labelfile: string): string | null {
  return /START WAL LOCATION: [0-9A-F]+\/[0-9A-F]+ \(file ([0-9A-F]{24})\)/.exec(labelfile)?.[1] ?? null;
}

async function writeFileOnNode(ctx: PluginContext, server: ServerRef, path: string, content: string): Promise<void> {
  const result = await ctx.shellFor(server).run(['sh', '-c', 'umask 077 && cat > "$1"', 'write_file', path], { timeoutMs: 15000, stdin: content });
  if (result.exitCode !== 0) throw new Error(`cannot write ${path}: ${(result.stderr || result.stdout).trim()}`);
}

export const cloneRsync: ClonePlugin = {
  name: 'clone_rsync',
  kind: 'clone',
  description: 'Copies the source with rsync over ssh (run on the target) inside a non-exclusive pg_backup_start/pg_backup_stop.',
  async clone(ctx, request) {
    const settings = pluginSettings(ctx, 'clone_rsync', settingsSchema);
    const { target, source } = request;
    const shell = ctx.shellFor(target);
    const timeoutMs = settings.timeout_seconds * 1000;
    // pg_backup_start with a fast checkpoint and pg_backup_stop may take a while on a busy server.
    const longMs = Math.max(ctx.timeouts.statementMs, 600000);
    let session: SqlSession;
    try {
      session = await ctx.sql.connect({ ...ctx.sqlTarget(source), statementTimeoutMs: longMs });
    } catch (err) {
      return { ok: false, details: `cannot connect to ${source.name}: ${describeError(err)}` };
    }
    try {
      const version = Number((await session.query<{ v: number }>("SELECT current_setting('server_version_num')::int AS v"))[0]?.v ?? 0);
      const slot = `handyrep_clone_${target.name.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
      await session.query('SELECT pg_create_physical_replication_slot($1, true, true)', [slot]);
      const label = `handyrep clone of ${target.name}`;
      await session.query(version >= 150000 ? 'SELECT pg_backup_start($1, true)' : 'SELECT pg_start_backup($1, true, false)', [label]);
      if (request.signal.aborted) return { ok: false, details: 'clone cancelled' };

      const data = await runNodeJob(shell, rsyncDataArgv(settings, request), {
        timeoutMs,
        signal: request.signal,
        pollMs: settings.progress_interval_seconds * 1000,
        onOutput: (tail) => {
          const progress = parseRsyncProgress(tail);
          if (progress) request.progress(progress);
        },
      });
      if (data.cancelled) return { ok: false, details: `rsync cancelled: ${data.output}` };
      if (data.timedOut || data.exitCode !== 0) return { ok: false, details: `rsync of the data folder ${data.timedOut ? 'timed out' : `exited ${String(data.exitCode)}`}: ${data.output}` };

      const stop = (
        await session.query<{ lsn: string; labelfile: string; spcmapfile: string | null }>(
          version >= 150000
            ? 'SELECT lsn::text AS lsn, labelfile, spcmapfile FROM pg_backup_stop(false)'
            : 'SELECT lsn::text AS lsn, labelfile, spcmapfile FROM pg_stop_backup(false, false)',
        )
      )[0];
      if (!stop) return { ok: false, details: 'pg_backup_stop returned nothing' };
      const startFile = labelStartFile(stop.labelfile);
      if (!startFile) return { ok: false, details: `unexpected backup label: ${stop.labelfile.split('\n')[0] ?? ''}` };

      // The WAL from the backup's start on (kept by the slot) and the timeline history files.
      const wal = await session.query<{ name: string }>(
        "SELECT name FROM pg_ls_waldir() WHERE (name ~ '^[0-9A-F]{24}$' AND substr(name, 9) >= substr($1, 9)) OR name ~ '^[0-9A-F]{8}[.]history$' ORDER BY name",
        [startFile],
      );
      const walArgv = [
        settings.rsync_path, '-a', '--files-from=-', '-e', sshCommand(settings, source),
        `${source.hostname}:${source.pgdata}/pg_wal/`, `${target.pgdata}/pg_wal/`,
      ];
      const walCopy = await runNodeJob(shell, walArgv, { timeoutMs, signal: request.signal, stdin: wal.map((w) => w.name).join('\n') + '\n' });
      if (walCopy.cancelled) return { ok: false, details: 'clone cancelled' };
      if (walCopy.timedOut || walCopy.exitCode !== 0) return { ok: false, details: `rsync of the WAL exited ${String(walCopy.exitCode)}: ${walCopy.output}` };

      await writeFileOnNode(ctx, target, `${target.pgdata}/backup_label`, stop.labelfile);
      if (stop.spcmapfile) await writeFileOnNode(ctx, target, `${target.pgdata}/tablespace_map`, stop.spcmapfile);
      return { ok: true, details: `rsync from ${source.name} finished (backup ends at ${stop.lsn}, ${wal.length} WAL file(s))` };
    } catch (err) {
      return { ok: false, details: `clone_rsync from ${source.name} failed: ${describeError(err)}` };
    } finally {
      // Ends a backup still in progress and drops the temporary slot.
      await session.end();
    }
  },
};
