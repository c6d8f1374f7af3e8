/**
 * select_replica_furthest_ahead: the candidate that received the most WAL loses the least;
 * failover_priority breaks ties, then the name (so the order is total and repeatable).
 */
import { byName, byPriority, byReceivedDesc, screenCandidates } from '../../engine/candidates.js';
import type { SelectPlugin } from '../types.js';

export const selectReplicaFurthestAhead: SelectPlugin = {
  name: 'select_replica_furthest_ahead',
  kind: 'select',
  description: 'Most WAL received first; failover_priority breaks ties.',
  select(input) {
    const { viable, refusals } = screenCandidates(input);
    const order = [...viable].sort((a, b) => byReceivedDesc(a, b) || byPriority(a, b) || byName(a, b)).map((c) => c.name);
    return { order, refusals };
  },
};
