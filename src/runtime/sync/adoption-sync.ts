/**
 * Under synchronous_mode, the set a controller records when it adopts the master an agents'
 * election made (topology/adopt-agents-master.ts). The recorded set in force describes the old
 * master (its members may even include the adopted one), so the next failover's rule
 * (engine/sync-promotion.ts) would count members that are no standbys of the new master. What is
 * true right after the election: the agent named '*' in the new master's synchronous_standby_names
 * before promoting it (every commit it acknowledged waits for some standby), but its standbys may
 * not have caught up with it yet, so no member can be promised anything. It is recorded as at the
 * start of a controller's own promotion (sync/promotion-sync.ts): the other failover-eligible
 * replicas, quorum 0; the old master is not among them. The sync maintenance of the next healthy
 * check names the standbys and records a quorum once they caught up.
 */
import { newMasterSync } from './promotion-sync.js';
import { record } from './sync-maintainer.js';
import type { TopologyEnv } from '../topology/env.js';

/** Record the adopted master's starting set, durably; `ok` false when it could not be saved (nothing recorded then). */
export async function recordAdoptedSync(env: TopologyEnv, master: string): Promise<{ ok: boolean; details: string }> {
  // Deployment agents: the master's agent keeps the set (agent/sync/); a controller never writes it there.
  if (env.ctx().config.handyrep.deployment === 'agents') return { ok: true, details: '' };
  const plan = newMasterSync(env, master);
  if (plan === null) return { ok: true, details: '' };
  const members = plan.next.recorded.members;
  const reason = `adopted ${master} after the agents' election: its agent named '*'; [${members.join(', ')}] counted once they caught up`;
  if (await record(env, master, plan.next.recorded, reason)) return { ok: true, details: reason };
  return { ok: false, details: `the synchronous set for ${master} could not be saved to ${env.serverFile}` };
}
