/**
 * The timeline of a server that answers as a writable master (from the WAL file name of its
 * current insert position: exact on a primary, unlike the last checkpoint's), or null.
 */
import { describeError } from '../../model/errors.js';
import { ref, withSession, type TopologyEnv } from './env.js';

export async function masterTimeline(env: TopologyEnv, name: string): Promise<number | null> {
  try {
    const rows = await withSession(env, ref(env, name), (s) =>
      s.query<{ r: boolean; w: string | null }>('SELECT pg_is_in_recovery() AS r, CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) END AS w'),
    );
    const row = rows[0];
    if (!row || row.r !== false || typeof row.w !== 'string') return null;
    const timeline = Number.parseInt(row.w.slice(0, 8), 16);
    return Number.isInteger(timeline) && timeline >= 1 ? timeline : null;
  } catch (err) {
    env.log.debug('LEADERSHIP', `timeline of ${name} not read: ${describeError(err)}`);
    return null;
  }
}
