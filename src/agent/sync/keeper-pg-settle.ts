/**
 * What the keeper must know about its master's PostgreSQL before it writes anything (review s8 M1,
 * S1), read on the keeper's own session (a superuser: pg_file_settings needs superuser or
 * pg_read_all_settings, which the controller's monitoring user may lack, so this is not part of
 * the shared readMasterReplication).
 *
 * - `inFile`: the synchronous_standby_names the next reload (or restart) would apply. A keeper
 *   statement dropped at its deadline can still take effect later (ALTER SYSTEM finishing after a
 *   stalled fsync, or an ALTER that landed while its reload timed out): the file then differs from
 *   what current_setting says is loaded, and any reload, restart or pending SIGHUP puts it in force.
 * - `earlier`: backends of an earlier keeper session still alive (application_name below, not
 *   this one): a statement of theirs may still land, so the file is not final while they exist.
 */
import type { SqlSession } from '../../nodes/ports.js';

/** The keeper session's application_name (keeper-session.ts sets it). */
export const KEEPER_APPLICATION_NAME = 'handyrep-agent-sync-keeper';

export interface KeeperSettleState {
  /** The file's value (the last valid entry); null: no entry, the loaded value is the default. */
  readonly inFile: string | null;
  /** Pids of earlier keeper backends still alive. */
  readonly earlier: readonly number[];
}

export async function readKeeperSettleState(session: SqlSession): Promise<KeeperSettleState> {
  const rows = await session.query<{ in_file: string | null; earlier: string | null }>(
    `SELECT (SELECT setting FROM pg_file_settings WHERE name = 'synchronous_standby_names' AND error IS NULL ORDER BY seqno DESC LIMIT 1) AS in_file,
            (SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()) AS earlier`,
    [KEEPER_APPLICATION_NAME],
  );
  const earlier = rows[0]?.earlier ?? null;
  return { inFile: rows[0]?.in_file ?? null, earlier: earlier === null || earlier === '' ? [] : earlier.split(',').map(Number) };
}

/**
 * Asks the earlier keeper backends to end (a dropped session's backend otherwise stays until its
 * statement returns, and one more would pile up per pass: review S1). They end when they next
 * run; until then the keeper writes nothing.
 */
export async function endEarlierKeepers(session: SqlSession, pids: readonly number[]): Promise<void> {
  await session.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid() AND pid = ANY($2::int[])`, [KEEPER_APPLICATION_NAME, `{${pids.join(',')}}`]);
}
