/**
 * A rollback brings the old master back after the `master` key may already name a candidate
 * (promote.ts writes it before pg_promote). The node agents stop any writable PostgreSQL the key
 * does not name, so the key must name the old master again BEFORE it is started or kept, with
 * the same guards as any master write (term, mod revision, every other server's master lease
 * absent, the failed candidate's included). When that write fails the old master is not started:
 * its agent would stop it, or another server may be writable.
 */
import type { TopologyEnv } from './env.js';

export async function nameOldMasterAgain(env: Pick<TopologyEnv, 'recordMaster'>, oldMaster: string): Promise<{ ok: boolean; details: string }> {
  if (!env.recordMaster) return { ok: true, details: '' };
  const written = await env.recordMaster(oldMaster);
  return written.ok
    ? { ok: true, details: `${written.details}; ` }
    : { ok: false, details: `not bringing ${oldMaster} back: the master key cannot name it again (its agent would stop it): ${written.details}` };
}
