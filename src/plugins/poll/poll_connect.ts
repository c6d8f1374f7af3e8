/**
 * poll_connect: ask `pg_is_in_recovery()` and, of a master, its current WAL position, on HandyRep's
 * long-lived monitoring session to the server (opened when there is none: that connect tells
 * refused (not running) from no answer (unreachable) from starting up).
 */
import { SqlConnectError } from '../../nodes/sql-client.js';
import { describeError } from '../../model/errors.js';
import type { SqlTarget } from '../../nodes/ports.js';
import type { PluginContext, PollPlugin } from '../types.js';
import type { PollOutcome } from '../../engine/observations.js';

export const pollConnect: PollPlugin = {
  name: 'poll_connect',
  kind: 'poll',
  description: "Asks pg_is_in_recovery() (and a master's WAL position) on HandyRep's long-lived session to the server, as the handyrep user.",
  poll: (ctx, server) => pollMonitoringSession(ctx, ctx.sqlTarget(server)),
};

// A master's WAL position comes in the same round trip: failover candidates' lag is judged against it.
const POLL_QUERY = 'SELECT pg_is_in_recovery() AS in_recovery, CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS wal_position';

/**
 * One query on the server's monitoring session (opened when there is none). A server silent for
 * the connect timeout fails the poll as unreachable, whether connecting or answering.
 */
async function pollMonitoringSession(ctx: PluginContext, target: SqlTarget): Promise<PollOutcome> {
  const started = Date.now();
  try {
    const rows = await connectOnceMore(() => ctx.monitorSessions.query<{ in_recovery: boolean; wal_position: string | null }>(target, POLL_QUERY, ctx.timeouts.connectMs));
    return { ok: true, inRecovery: rows[0]?.in_recovery ?? null, walPosition: rows[0]?.wal_position ?? null, latencyMs: Date.now() - started };
  } catch (err) {
    const kind = err instanceof SqlConnectError ? err.kind : 'other';
    return { ok: false, kind, reason: describeError(err), latencyMs: Date.now() - started };
  }
}

/** Opens a new session to `target` (a proxy: not kept) and asks pg_is_in_recovery() (and a master's WAL position); never throws. */
export async function pollSession(ctx: PluginContext, target: SqlTarget): Promise<PollOutcome> {
  const started = Date.now();
  let session;
  try {
    session = await connectOnceMore(() => ctx.sql.connect(target));
  } catch (err) {
    const kind = err instanceof SqlConnectError ? err.kind : 'other';
    return { ok: false, kind, reason: describeError(err), latencyMs: Date.now() - started };
  }
  try {
    const rows = await session.query<{ in_recovery: boolean; wal_position: string | null }>(POLL_QUERY);
    return { ok: true, inRecovery: rows[0]?.in_recovery ?? null, walPosition: rows[0]?.wal_position ?? null, latencyMs: Date.now() - started };
  } catch (err) {
    return { ok: false, kind: 'other', reason: describeError(err), latencyMs: Date.now() - started };
  } finally {
    await session.end();
  }
}

/** Pause before the second attempt: long enough for a dying postmaster's sockets to close. */
const RETRY_AFTER_MS = 100;

/**
 * A connect that fails with neither a clear answer (refused, starting, auth) nor a timeout, e.g.
 * a reset from a postmaster dying that instant, is tried once more: the second look tells down
 * from unreachable. A timeout is never retried, so a dead host still costs one connect timeout.
 */
async function connectOnceMore<T>(connect: () => Promise<T>): Promise<T> {
  try {
    return await connect();
  } catch (err) {
    if (!(err instanceof SqlConnectError) || err.kind !== 'other') throw err;
    await new Promise((resolve) => setTimeout(resolve, RETRY_AFTER_MS));
    return connect();
  }
}
