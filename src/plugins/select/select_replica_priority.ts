/**
 * select_replica_priority: the operator's failover_priority leads (lower first); among equal
 * priorities the one furthest ahead wins.
 */
import { byName, byPriority, byReceivedDesc, screenCandidates } from '../../engine/candidates.js';
import type { SelectPlugin } from '../types.js';

export const selectReplicaPriority: SelectPlugin = {
  name: 'select_replica_priority',
  kind: 'select',
  description: 'Lowest failover_priority first; most WAL received breaks ties.',
  select(input) {
    const { viable, refusals } = screenCandidates(input);
    const order = [...viable].sort((a, b) => byPriority(a, b) || byReceivedDesc(a, b) || byName(a, b)).map((c) => c.name);
    return { order, refusals };
  },
};
