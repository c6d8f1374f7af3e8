/**
 * Promotion through the server's promotion plugin, confirmed independently: the server must
 * leave recovery and commit a write before it counts as the new master.
 */
import { describeError } from '../../model/errors.js';
import { ref, withSession, type TopologyEnv } from './env.js';

export async function promoteAndConfirm(env: TopologyEnv, name: string): Promise<{ ok: boolean; details: string }> {
  const server = ref(env, name);
  let pluginDetails: string;
  try {
    const outcome = await env.plugins.get('promote', server.promotion_method).promote(env.ctx(), server);
    pluginDetails = outcome.details;
    if (!outcome.ok) return { ok: false, details: `${name}: ${outcome.details}` };
  } catch (err) {
    return { ok: false, details: `${name}: promotion plugin failed: ${describeError(err)}` };
  }
  const failover = env.ctx().config.failover;
  const deadline = Date.now() + failover.promote_timeout_seconds * 1000;
  let last = 'not checked';
  for (;;) {
    try {
      const confirmed = await withSession(env, server, async (s) => {
        const rows = await s.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
        if (rows[0]?.r !== false) return false;
        await s.query('SELECT txid_current()');
        return true;
      });
      if (confirmed) return { ok: true, details: `${name} promoted (${pluginDetails}) and accepted a write` };
      last = 'still in recovery';
    } catch (err) {
      last = describeError(err);
    }
    if (Date.now() >= deadline) return { ok: false, details: `${name}: promotion not confirmed: ${last}` };
    await env.sleep(100);
  }
}
