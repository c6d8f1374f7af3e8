/** promote_pg_ctl: `pg_ctl promote -w` on the node, over its control channel. */
import { describeError } from '../../model/errors.js';
import type { PromotePlugin } from '../types.js';

export const promotePgCtl: PromotePlugin = {
  name: 'promote_pg_ctl',
  kind: 'promote',
  description: 'Promotes with pg_ctl promote on the node.',
  async promote(ctx, server) {
    const waitSeconds = Math.max(1, Math.round(ctx.config.failover.promote_timeout_seconds));
    const argv = [`${server.pg_bin_dir}/pg_ctl`, '-D', server.pgconf ?? server.pgdata, '-w', '-t', String(waitSeconds), 'promote'];
    try {
      const result = await ctx.shellFor(server).run(argv, { timeoutMs: (waitSeconds + 5) * 1000 });
      if (result.exitCode === 0) return { ok: true, details: 'pg_ctl promote succeeded' };
      return { ok: false, details: `pg_ctl promote exited ${String(result.exitCode)}: ${(result.stdout + result.stderr).trim()}` };
    } catch (err) {
      return { ok: false, details: `pg_ctl promote could not be run: ${describeError(err)}` };
    }
  },
};
