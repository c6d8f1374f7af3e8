/**
 * promote_sql (default): `pg_promote(wait => false)` on HandyRep's monitoring session to the
 * server, so promotion needs no control channel and no new connection. It only asks; the runtime
 * confirms the promotion independently (out of recovery, a write commits) and waits for it up to
 * promote_timeout_seconds, looking more often than pg_promote's own 100 ms wait would.
 */
import { describeError } from '../../model/errors.js';
import { monitoringSessionAsSql } from '../../nodes/monitor-sessions.js';
import type { PromotePlugin } from '../types.js';

export const promoteSql: PromotePlugin = {
  name: 'promote_sql',
  kind: 'promote',
  description: 'Promotes with SELECT pg_promote(false); HandyRep then confirms the promotion.',
  async promote(ctx, server) {
    try {
      const session = monitoringSessionAsSql(ctx.monitorSessions, ctx.sqlTarget(server));
      const rows = await session.query<{ asked: boolean }>('SELECT pg_promote(false) AS asked');
      return rows[0]?.asked ? { ok: true, details: 'pg_promote requested' } : { ok: false, details: 'pg_promote was refused' };
    } catch (err) {
      return { ok: false, details: `pg_promote failed: ${describeError(err)}` };
    }
  },
};
