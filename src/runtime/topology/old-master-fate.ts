/**
 * The fate of an old master that does not answer writable, seen now, by a fence's rule
 * (engine/agents-master-adoption.ts oldMasterFateByFence; fence.ts): read-only →
 * rejoined; its master lease gone under `unreachable_master: agent_lease` (the same proof a
 * failover's fence counts) while its port refuses or does not answer → confirmed; else confirmed
 * only when its control channel says stopped (a refusal alone proves nothing). Used by the
 * roll-forward of an interrupted change (recovery.ts), so a lost host whose agent's lease is gone
 * is not left `fence_unconfirmed` — which would refuse every later failover
 * (unconfirmed_fence_refused) until an operator acts.
 */
import { oldMasterFateByFence, type OldMasterFate } from '../../engine/agents-master-adoption.js';
import { observeRunning } from '../observe.js';
import { ref, type TopologyEnv } from './env.js';
import { databaseAnswer, fencedByAgentLease } from './fence.js';

export async function oldMasterFateNow(env: TopologyEnv, name: string): Promise<OldMasterFate> {
  const answer = await databaseAnswer(env, name);
  // Asked only of a port that says nothing conclusive: a writable answer is never fenced by a lease.
  const leaseGone = (answer === 'no_answer' || answer === 'starting' || answer === 'refused') && (await fencedByAgentLease(env, name)) !== null;
  const fate = oldMasterFateByFence(answer, leaseGone);
  if (fate !== 'unconfirmed') return fate;
  return (await observeRunning({ ctx: env.ctx(), plugins: env.plugins }, ref(env, name))) === false ? 'confirmed' : 'unconfirmed';
}
