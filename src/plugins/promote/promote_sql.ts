/**
 * promote_sql (default): `pg_promote(wait => true)` over HandyRep's own connection, so promotion
 * needs no control channel. The runtime confirms the result independently.
 */
import { describeError } from '../../model/errors.js';
import type { PromotePlugin } from '../types.js';

export const promoteSql: PromotePlugin = {
  name: 'promote_sql',
  kind: 'promote',
  description: 'Promotes with SELECT pg_promote(true, <timeout>).',
  async promote(ctx, server) {
    const waitSeconds = Math.max(1, Math.round(ctx.config.failover.promote_timeout_seconds));
    let session;
    try {
      session = await ctx.sql.connect({ ...ctx.sqlTarget(server), statementTimeoutMs: (waitSeconds + 5) * 1000 });
    } catch (err) {
      return { ok: false, details: `cannot connect to promote: ${describeError(err)}` };
    }
    try {
      const rows = await session.query<{ promoted: boolean }>('SELECT pg_promote(true, $1) AS promoted', [waitSeconds]);
      return rows[0]?.promoted
        ? { ok: true, details: 'pg_promote succeeded' }
        : { ok: false, details: `pg_promote did not finish within ${waitSeconds} s` };
    } catch (err) {
      return { ok: false, details: `pg_promote failed: ${describeError(err)}` };
    } finally {
      await session.end();
    }
  },
};
