/**
 * Candidate order for a promotion: the selection plugin over fresh facts, with an operator's
 * preferred replica moved first when it is viable.
 */
import type { Refusal } from '../../engine/selection.js';
import type { TopologyEnv } from './env.js';
import { candidateFacts, type ReplicaSnapshot } from './facts.js';

export async function selectCandidates(
  env: TopologyEnv,
  snapshots: readonly ReplicaSnapshot[],
  options: { preferred: string | null; ignoreLag: boolean },
): Promise<{ order: string[]; refusals: Refusal[] }> {
  const config = env.ctx().config;
  const plugin = env.plugins.get('select', config.failover.selection_method);
  const facts = candidateFacts(env, snapshots).map((c) => (options.ignoreLag ? { ...c, lagMb: null, replayLagBytes: null } : c));
  const result = plugin.select({ candidates: facts, maxReplayLagMb: config.failover.max_replay_lag });
  if (options.preferred === null) return result;
  if (result.order.includes(options.preferred)) {
    return { order: [options.preferred, ...result.order.filter((n) => n !== options.preferred)], refusals: result.refusals };
  }
  return { order: [], refusals: result.refusals.filter((r) => r.name === options.preferred) };
}

/** Enabled replicas, less `except`. */
export function enabledReplicas(env: TopologyEnv, except: readonly string[] = []): string[] {
  return env.book.names().filter((n) => {
    const s = env.book.get(n);
    return s.role === 'replica' && s.enabled && !except.includes(n);
  });
}
