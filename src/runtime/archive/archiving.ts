/**
 * WAL archiving managed by HandyRep (seed 004 start_archiving, stop_archiving, cleanup_archive;
 * reference §1.3 push_archive_script / poll_archiving): the archive script on the servers, its
 * no-archiving flag, replicas' restore_command, the archiver's health on the master (folded into
 * the master's verification as a warning), and the cleanup of expired WAL.
 *
 * The archive plugins act; the decisions are the engine's (engine/archive-status.ts for the
 * warning, engine/archive-cleanup.ts for which files go).
 */
import { archiveWarning, withArchiveWarning, type ArchiverObservation } from '../../engine/archive-status.js';
import { planArchiveCleanup, type CleanupPlan, type WalNeed } from '../../engine/archive-cleanup.js';
import type { VerifyVerdict } from '../../engine/server-status.js';
import { walSegmentName } from '../../engine/wal-names.js';
import type { EventLog } from '../../log/event-log.js';
import { describeError } from '../../model/errors.js';
import { parseLsn } from '../../model/lsn.js';
import { failure, success, type Rd } from '../../model/rd.js';
import { isDatabaseRole } from '../../model/server.js';
import type { PluginRegistry } from '../../plugins/registry.js';
import type { ArchivePlugin, PluginContext, ServerRef } from '../../plugins/types.js';
import type { ServerBook } from '../server-book.js';

export interface ArchiveEnv {
  book: ServerBook;
  plugins: PluginRegistry;
  ctx: () => PluginContext;
  log: EventLog;
  clock: () => Date;
}

export type ArchiveRd = Rd<{ archiver?: ArchiverObservation; warning?: string | null; notes?: string[] }>;
export type CleanupRd = Rd<{ deleted?: number; kept?: number; boundary?: CleanupPlan['boundary']; to_delete?: string[] }>;

function ref(env: Pick<ArchiveEnv, 'book'>, name: string): ServerRef {
  return { ...env.book.get(name), name };
}

function enabledDatabaseServers(env: ArchiveEnv): string[] {
  return env.book.names().filter((n) => {
    const s = env.book.get(n);
    return s.enabled && isDatabaseRole(s.role);
  });
}

/** The archive plugin, or why archiving cannot be acted on. */
function archivePlugin(env: ArchiveEnv, verb: string): { plugin: ArchivePlugin } | { problem: string } {
  const archive = env.ctx().config.archive;
  if (!archive.archiving || archive.archive_script_method === null) return { problem: `Cannot ${verb} archiving because it is not configured.` };
  try {
    return { plugin: env.plugins.get('archive', archive.archive_script_method) };
  } catch (err) {
    return { problem: describeError(err) };
  }
}

async function withSession<T>(ctx: PluginContext, server: ServerRef, fn: (q: <R extends Record<string, unknown>>(text: string, params?: readonly (string | null)[]) => Promise<R[]>) => Promise<T>): Promise<T> {
  const session = await ctx.sql.connect(ctx.sqlTarget(server));
  try {
    return await fn((text, params) => session.query(text, params));
  } finally {
    await session.end();
  }
}

const ARCHIVER_QUERY = `
SELECT current_setting('archive_mode') AS archive_mode,
       current_setting('archive_command') AS archive_command,
       a.archived_count, a.failed_count, a.last_archived_wal, a.last_failed_wal,
       extract(epoch FROM now() - a.last_archived_time)::float8 AS last_archived_age,
       extract(epoch FROM now() - a.last_failed_time)::float8 AS last_failed_age,
       r.ready_count, r.oldest_ready_age
FROM pg_stat_archiver AS a,
     (SELECT count(*) AS ready_count, extract(epoch FROM now() - min(modification))::float8 AS oldest_ready_age
        FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready') AS r`;

interface ArchiverRow extends Record<string, unknown> {
  archive_mode: string;
  archive_command: string;
  archived_count: string | number;
  failed_count: string | number;
  last_archived_wal: string | null;
  last_failed_wal: string | null;
  last_archived_age: number | null;
  last_failed_age: number | null;
  ready_count: string | number;
  oldest_ready_age: number | null;
}

/** pg_stat_archiver and the .ready backlog of one server. */
export async function observeArchiver(ctx: PluginContext, server: ServerRef): Promise<ArchiverObservation & { archiveCommand: string }> {
  const row = await withSession(ctx, server, async (q) => (await q<ArchiverRow>(ARCHIVER_QUERY))[0]);
  if (!row) throw new Error('pg_stat_archiver returned no row');
  const num = (v: number | null): number | null => (v === null ? null : Number(v));
  return {
    archiveMode: row.archive_mode,
    archiveCommand: row.archive_command,
    archivedCount: Number(row.archived_count),
    failedCount: Number(row.failed_count),
    lastArchivedWal: row.last_archived_wal,
    lastArchivedAgeSeconds: num(row.last_archived_age),
    lastFailedWal: row.last_failed_wal,
    lastFailedAgeSeconds: num(row.last_failed_age),
    readyCount: Number(row.ready_count),
    oldestReadyAgeSeconds: num(row.oldest_ready_age),
  };
}

/**
 * The master's verification verdict with archiving taken into account (called by verify when
 * archiving is on): a failing archiver or an old backlog turns a healthy master into `warning`.
 * Records failed_count so the next verification sees it grow.
 */
export async function archiveVerdict(env: Pick<ArchiveEnv, 'book' | 'ctx'>, master: ServerRef, verdict: VerifyVerdict): Promise<VerifyVerdict> {
  const ctx = env.ctx();
  const archive = ctx.config.archive;
  if (!archive.archiving) return verdict;
  let warning: string | null;
  try {
    const obs = await observeArchiver(ctx, master);
    warning = archiveWarning(obs, env.book.get(master.name).archive_failed_count, archive.archive_warn_seconds);
    env.book.applyFacts(master.name, { archive_failed_count: obs.failedCount });
  } catch (err) {
    warning = `cannot read pg_stat_archiver: ${describeError(err)}`;
  }
  return withArchiveWarning(verdict, warning);
}

/**
 * start_archiving: push the archive script to the master and remove its no-archiving flag, then
 * the same on every other enabled database server (so a promoted replica archives too), and give
 * the enabled replicas the plugin's restore_command.
 */
export async function startArchiving(env: ArchiveEnv): Promise<ArchiveRd> {
  const found = archivePlugin(env, 'start');
  if ('problem' in found) return failure(found.problem);
  const master = env.book.masterName();
  if (master === null) return failure('Cannot start archiving: there is no single enabled master');
  const ctx = env.ctx();
  const plugin = found.plugin;
  const pushed = await plugin.pushScript(ctx, ref(env, master));
  if (!pushed.ok) return failure(`Cannot start archiving on ${master}: ${pushed.details}`);
  const started = await plugin.start(ctx, ref(env, master));
  if (!started.ok) return failure(`Cannot start archiving on ${master}: ${started.details}`);
  const notes: string[] = [];
  const others = enabledDatabaseServers(env).filter((n) => n !== master);
  await Promise.all(
    others.map(async (name) => {
      const p = await plugin.pushScript(ctx, ref(env, name));
      const s = p.ok ? await plugin.start(ctx, ref(env, name)) : p;
      if (!s.ok) notes.push(`${name}: ${s.details}`);
    }),
  );
  const restore = ctx.config.archive.set_restore_command ? plugin.restoreCommand(ctx) : null;
  if (restore !== null) {
    const replicas = others.filter((n) => env.book.get(n).role === 'replica');
    await Promise.all(
      replicas.map(async (name) => {
        try {
          await withSession(ctx, ref(env, name), async (q) => {
            const rows = await q<{ stmt: string }>('SELECT format($1, $2::text) AS stmt', ['ALTER SYSTEM SET restore_command = %L', restore]);
            await q(String(rows[0]?.stmt));
            await q('SELECT pg_reload_conf()');
          });
        } catch (err) {
          notes.push(`${name}: restore_command not set: ${describeError(err)}`);
        }
      }),
    );
  }
  let archiver: ArchiverObservation | undefined;
  try {
    const obs = await observeArchiver(ctx, ref(env, master));
    archiver = obs;
    if (obs.archiveMode === 'off') notes.push(`archive_mode is off on ${master}: set archive_mode = on and archive_command = '${ctx.config.archive.archive_script_path} %p %f' (needs a restart)`);
    else if (!obs.archiveCommand.includes(ctx.config.archive.archive_script_path)) notes.push(`archive_command on ${master} does not call ${ctx.config.archive.archive_script_path}: '${obs.archiveCommand}'`);
  } catch (err) {
    notes.push(`cannot read the archiver state of ${master}: ${describeError(err)}`);
  }
  const details = `archiving started on ${master} (${pushed.details}; ${started.details})${notes.length ? `; notes: ${notes.join('; ')}` : ''}`;
  env.log.info('ARCHIVE', details, master);
  return success(details, { notes, ...(archiver ? { archiver } : {}) });
}

/** stop_archiving: create the no-archiving flag on the master (required) and the other servers. */
export async function stopArchiving(env: ArchiveEnv): Promise<ArchiveRd> {
  const found = archivePlugin(env, 'stop');
  if ('problem' in found) return failure(found.problem);
  const master = env.book.masterName();
  if (master === null) return failure('Cannot stop archiving: there is no single enabled master');
  const ctx = env.ctx();
  const stopped = await found.plugin.stop(ctx, ref(env, master));
  if (!stopped.ok) return failure(`Cannot stop archiving on ${master}: ${stopped.details}`);
  const notes: string[] = [];
  await Promise.all(
    enabledDatabaseServers(env)
      .filter((n) => n !== master)
      .map(async (name) => {
        const s = await found.plugin.stop(ctx, ref(env, name));
        if (!s.ok) notes.push(`${name}: ${s.details}`);
      }),
  );
  const details = `archiving stopped on ${master} (${stopped.details})${notes.length ? `; notes: ${notes.join('; ')}` : ''}`;
  env.log.warn('ARCHIVE', details, master);
  return success(details, { notes });
}

/** poll_archiving: the master's archiver state and the warning verify would give. */
export async function pollArchiving(env: ArchiveEnv): Promise<ArchiveRd> {
  const archive = env.ctx().config.archive;
  if (!archive.archiving) return success('archiving is disabled');
  const master = env.book.masterName();
  if (master === null) return failure('no single enabled master to poll archiving on');
  try {
    const obs = await observeArchiver(env.ctx(), ref(env, master));
    const warning = archiveWarning(obs, env.book.get(master).archive_failed_count, archive.archive_warn_seconds);
    const archiver: ArchiverObservation = { ...obs };
    delete (archiver as { archiveCommand?: string }).archiveCommand;
    const state = `${obs.archivedCount} archived, ${obs.failedCount} failed, last ${obs.lastArchivedWal ?? 'none'}, ${obs.readyCount} waiting`;
    return warning === null
      ? success(`archiving on ${master} works: ${state}`, { archiver, warning })
      : failure(`archiving on ${master} needs attention: ${warning} (${state})`, { archiver, warning });
  } catch (err) {
    return failure(`cannot read the archiver state of ${master}: ${describeError(err)}`);
  }
}

interface NeedRow extends Record<string, unknown> {
  tli: number | string;
  redo_lsn: string;
  replay_lsn: string | null;
  seg: number | string;
}

/** The oldest WAL each enabled replica still needs: its restart point's redo position (and replay position). */
export async function replicaNeeds(env: ArchiveEnv): Promise<WalNeed[]> {
  const ctx = env.ctx();
  const replicas = enabledDatabaseServers(env).filter((n) => env.book.get(n).role === 'replica');
  const perReplica = await Promise.all(
    replicas.map(async (name) => {
      let row: NeedRow | undefined;
      try {
        row = await withSession(ctx, ref(env, name), async (q) =>
          (
            await q<NeedRow>(
              `SELECT c.timeline_id AS tli, c.redo_lsn::text AS redo_lsn, pg_last_wal_replay_lsn()::text AS replay_lsn,
                      (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size') AS seg
                 FROM pg_control_checkpoint() AS c`,
            )
          )[0],
        );
      } catch (err) {
        throw new Error(`cannot tell which WAL replica ${name} still needs: ${describeError(err)}`);
      }
      const redo = parseLsn(row?.redo_lsn ?? null);
      if (!row || redo === null) throw new Error(`cannot tell which WAL replica ${name} still needs: no restart point`);
      const tli = Number(row.tli);
      const seg = Number(row.seg);
      const needs: WalNeed[] = [{ who: `replica ${name} (restart point ${redo})`, segment: walSegmentName(tli, redo, seg) }];
      const replay = parseLsn(row.replay_lsn);
      if (replay !== null) needs.push({ who: `replica ${name} (replay position ${replay})`, segment: walSegmentName(tli, replay, seg) });
      return needs;
    }),
  );
  return perReplica.flat();
}

/**
 * cleanup_archive: delete archived WAL older than archive_delete_hours that no enabled replica and
 * not the latest base backup still needs. When any replica's needs cannot be read, nothing is
 * deleted.
 */
export async function cleanupArchive(env: ArchiveEnv, dryRun = false): Promise<CleanupRd> {
  const ctx = env.ctx();
  const archive = ctx.config.archive;
  if (!archive.archiving) return success('archiving is disabled; no archive cleanup');
  if (archive.archive_delete_method === null) return success('archive cleanup is disabled (no archive_delete_method)');
  if (archive.archive_directory === null) return failure('archive.archive_directory is not set');
  const holder = archive.archive_host ?? env.book.masterName();
  if (holder === null) return failure('cannot clean up the archive: no archive_host and no single enabled master');
  if (!env.book.has(holder)) return failure(`archive.archive_host names ${holder}, which is not a configured server`);
  let plugin;
  try {
    plugin = env.plugins.get('archive_delete', archive.archive_delete_method);
  } catch (err) {
    return failure(describeError(err));
  }
  const location = { server: ref(env, holder), directory: archive.archive_directory };
  let needs: WalNeed[];
  let files;
  try {
    [needs, files] = await Promise.all([replicaNeeds(env), plugin.listFiles(ctx, location)]);
  } catch (err) {
    const details = `archive cleanup: nothing deleted: ${describeError(err)}`;
    env.log.error('ARCHIVE', details);
    return failure(details);
  }
  const plan = planArchiveCleanup({ files, needs, nowMs: env.clock().getTime(), deleteAfterHours: archive.archive_delete_hours });
  const extra = { kept: plan.kept.length, boundary: plan.boundary, to_delete: plan.delete };
  if (dryRun || plan.delete.length === 0) {
    return success(`archive cleanup${dryRun ? ' (dry run)' : ''}: ${plan.summary}`, { deleted: 0, ...extra });
  }
  const removed = await plugin.deleteFiles(ctx, location, plan.delete);
  const details = `archive cleanup: ${plan.summary}: ${removed.details}`;
  if (!removed.ok) {
    env.log.error('ARCHIVE', details, holder);
    return failure(details, extra);
  }
  env.log.info('ARCHIVE', details, holder);
  return success(details, { deleted: plan.delete.length, ...extra });
}
