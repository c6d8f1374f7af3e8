/**
 * Observation: the effects half of poll and verify. Each function asks a node something through a
 * plugin or the SQL client and returns plain data (engine/observations.ts); none decides a status.
 */
import type { Check, PollOutcome, SqlFacts, VerifyObservation } from '../engine/observations.js';
import { describeError } from '../model/errors.js';
import { SqlConnectError } from '../nodes/sql-client.js';
import { monitoringSessionAsSql } from '../nodes/monitor-sessions.js';
import type { PluginRegistry } from '../plugins/registry.js';
import type { PluginContext, ServerRef } from '../plugins/types.js';

export interface ObserveEnv {
  ctx: PluginContext;
  plugins: PluginRegistry;
}

/** A poll through the configured poll plugin; a plugin that throws counts as "other" failure. */
export async function observePoll(env: ObserveEnv, server: ServerRef): Promise<PollOutcome> {
  const plugin = env.plugins.get('poll', env.ctx.config.failover.poll_method);
  const started = Date.now();
  try {
    return await plugin.poll(env.ctx, server);
  } catch (err) {
    return { ok: false, kind: 'other', reason: `poll plugin ${plugin.name} failed: ${describeError(err)}`, latencyMs: Date.now() - started };
  }
}

/** Run the configured test command over the server's control channel. */
export async function observeControl(env: ObserveEnv, server: ServerRef): Promise<Check> {
  const argv = env.ctx.config.handyrep.test_ssh_command;
  try {
    const shell = env.ctx.shellFor(server);
    const result = await shell.run(argv, { timeoutMs: env.ctx.timeouts.connectMs + env.ctx.timeouts.commandMs });
    if (result.timedOut) return { ok: false, reason: `${shell.description}: test command timed out` };
    if (result.exitCode !== 0) {
      return { ok: false, reason: `${shell.description}: test command exited ${String(result.exitCode)} ${result.stderr.trim()}`.trim() };
    }
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: describeError(err) };
  }
}

const FACTS_QUERY = `
SELECT pg_is_in_recovery() AS in_recovery,
       current_setting('server_version_num')::int AS version_num,
       CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text ELSE pg_current_wal_lsn()::text END AS wal_position,
       (SELECT timeline_id FROM pg_control_checkpoint()) AS timeline`;

type SqlObservation = VerifyObservation['sql'];

/**
 * Read the server's facts and (for a master) try a write that must commit, on HandyRep's
 * monitoring session to it (opened when there is none, so a verification also starts the
 * watching of a server's session).
 */
export async function observeSql(env: ObserveEnv, server: ServerRef, testWrite: boolean): Promise<{ sql: SqlObservation; write?: Check }> {
  const session = monitoringSessionAsSql(env.ctx.monitorSessions, env.ctx.sqlTarget(server));
  const query = <Row extends Record<string, unknown>>(text: string): Promise<Row[]> => session.query<Row>(text);
  let row;
  try {
    row = (await query<{ in_recovery: boolean; version_num: number; wal_position: string | null; timeline: number | null }>(FACTS_QUERY))[0];
  } catch (err) {
    const kind = err instanceof SqlConnectError ? err.kind : 'other';
    return { sql: { ok: false, kind, reason: describeError(err) } };
  }
  if (!row) return { sql: { ok: false, kind: 'other', reason: 'facts query returned no row' } };
  const facts: SqlFacts = {
    inRecovery: row.in_recovery,
    versionNum: row.version_num,
    walPosition: row.wal_position,
    timeline: row.timeline === null ? null : Number(row.timeline),
  };
  if (!testWrite || facts.inRecovery) return { sql: { ok: true, ...facts } };
  // txid_current() assigns a transaction id, so the statement's commit writes and flushes WAL
  // (and waits for synchronous standbys, except under synchronous_mode, where HandyRep's sessions
  // commit locally: the maintainer, not a failover, deals with a lost standby): a master that
  // cannot write fails here.
  try {
    await query('SELECT txid_current()');
    return { sql: { ok: true, ...facts }, write: { ok: true } };
  } catch (err) {
    return { sql: { ok: true, ...facts }, write: { ok: false, reason: describeError(err) } };
  }
}

const MASTER_POSITION_QUERY = 'SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS lsn';

/** A master's current WAL position (what replicas' lag is measured against); null when it cannot be read. */
export async function observeMasterPosition(env: ObserveEnv, server: ServerRef): Promise<string | null> {
  try {
    const session = await env.ctx.sql.connect(env.ctx.sqlTarget(server));
    try {
      return (await session.query<{ lsn: string | null }>(MASTER_POSITION_QUERY))[0]?.lsn ?? null;
    } finally {
      await session.end();
    }
  } catch {
    return null;
  }
}

/** Ask the restart plugin whether PostgreSQL runs (null when it cannot tell). */
export async function observeRunning(env: ObserveEnv, server: ServerRef): Promise<boolean | null> {
  try {
    const plugin = env.plugins.get('restart', server.restart_method);
    const outcome = await plugin.control(env.ctx, server, 'status');
    return outcome.ok ? (outcome.running ?? null) : null;
  } catch {
    return null;
  }
}

/** Everything a verification needs, channels observed in parallel. */
export async function observeVerify(
  env: ObserveEnv,
  server: ServerRef,
  master: ServerRef | null,
): Promise<VerifyObservation> {
  const isMaster = server.role === 'master';
  const [control, sqlPart] = await Promise.all([observeControl(env, server), observeSql(env, server, isMaster)]);
  const observation: VerifyObservation = { control, sql: sqlPart.sql };
  if (sqlPart.write) observation.write = sqlPart.write;
  if (!sqlPart.sql.ok && control.ok) observation.running = await observeRunning(env, server);
  if (!isMaster && sqlPart.sql.ok && sqlPart.sql.inRecovery) {
    const plugin = env.plugins.get('replication_status', env.ctx.config.failover.replication_status_method);
    try {
      observation.replication = { ok: true, value: await plugin.replicationStatus(env.ctx, server, master) };
    } catch (err) {
      observation.replication = { ok: false, reason: describeError(err) };
    }
  }
  return observation;
}
