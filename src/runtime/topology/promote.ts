/**
 * Promotion through the server's promotion plugin, confirmed independently: the server must
 * leave recovery and commit a write before it counts as the new master.
 */
import { describeError } from '../../model/errors.js';
import { assertMayAct, ref, withMonitoringSession, type TopologyEnv } from './env.js';
import { acceptsWrites, fenceServer } from './fence.js';
import { prepareSyncForPromotion, recordPromotedSync, restoreSyncAfterFailedPromotion } from '../sync/promotion-sync.js';

/**
 * Promote `name` and confirm it. Under synchronous_mode the new master's set is recorded first;
 * when the promotion is not confirmed the set in force before is restored (a settlement that
 * finds it promoted after all records the new one again).
 */
export async function promoteAndConfirm(env: TopologyEnv, name: string): Promise<{ ok: boolean; details: string }> {
  const before = env.book.syncRecord();
  const result = await promoteAndConfirmOnce(env, name);
  if (!result.ok) await restoreSyncAfterFailedPromotion(env, name, before);
  return result;
}

async function promoteAndConfirmOnce(env: TopologyEnv, name: string): Promise<{ ok: boolean; details: string }> {
  const server = ref(env, name);
  const sync = await prepareSyncForPromotion(env, name);
  if (!sync.ok) return sync;
  // The consensus store names the new master first (agents undo any promotion it does not name),
  // then leadership is checked once more: the last irreversible moment is pg_promote itself.
  const recorded = env.recordMaster ? await env.recordMaster(name) : { ok: true, details: '' };
  if (!recorded.ok) return { ok: false, details: `${name}: not promoted: ${recorded.details}` };
  let pluginDetails: string;
  try {
    assertMayAct(env, `promotion of ${name}`);
    const outcome = await env.plugins.get('promote', server.promotion_method).promote(env.ctx(), server);
    pluginDetails = outcome.details;
    if (!outcome.ok) return { ok: false, details: `${name}: ${outcome.details}` };
  } catch (err) {
    return { ok: false, details: `${name}: promotion plugin failed: ${describeError(err)}` };
  }
  const failover = env.ctx().config.failover;
  const deadline = env.clock().getTime() + failover.promote_timeout_seconds * 1000;
  let last = 'not checked';
  for (;;) {
    try {
      const confirmed = await withMonitoringSession(env, server, async (s) => {
        const rows = await s.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
        if (rows[0]?.r !== false) return false;
        // Under synchronous_mode HandyRep's sessions commit locally (sqlTargetFor): its standbys are pointed at it only after this.
        await s.query('SELECT txid_current()');
        return true;
      });
      if (confirmed) return { ok: true, details: `${sync.details}${recorded.details ? `${recorded.details}; ` : ''}${name} promoted (${pluginDetails}) and accepted a write` };
      last = 'still in recovery';
    } catch (err) {
      last = describeError(err);
    }
    if (env.clock().getTime() >= deadline) return { ok: false, details: `${name}: promotion not confirmed: ${last}` };
    // Promotion takes tens of milliseconds once asked: look often (one query on an open session).
    await env.sleep(20);
  }
}

export type PromotionSettlement = 'promoted' | 'cancelled' | 'uncertain';

/**
 * A promotion that was not confirmed may still complete later (pg_promote timed out, the
 * controller died): PostgreSQL keeps the request. Before anyone else is promoted or the old
 * master restarted, settle it: wait up to `waitMs` for it to finish; otherwise stop the server
 * so it cannot finish behind our back (a promote request not yet acted on is discarded at its
 * next start; one that got past the end of recovery is not — the writable-server check before
 * any later promotion or restart catches that). 'uncertain' means it could be neither confirmed
 * nor stopped: promote nobody else.
 */
export async function settlePromotion(env: TopologyEnv, name: string, waitMs: number): Promise<{ outcome: PromotionSettlement; details: string }> {
  const deadline = env.clock().getTime() + waitMs;
  for (;;) {
    if ((await acceptsWrites(env, name)) === true) {
      await recordPromotedSync(env, name);
      return { outcome: 'promoted', details: `${name} finished its promotion` };
    }
    if (env.clock().getTime() >= deadline) break;
    await env.sleep(200);
  }
  const fence = await fenceServer(env, name);
  const writable = await acceptsWrites(env, name);
  if (writable === true) {
    await recordPromotedSync(env, name);
    return { outcome: 'promoted', details: `${name} finished its promotion while being stopped` };
  }
  if (fence.fenced) return { outcome: 'cancelled', details: `${name}'s unfinished promotion cancelled: ${fence.details}` };
  return { outcome: 'uncertain', details: `${name}'s promotion is neither confirmed nor stoppable: ${fence.details}` };
}
