/**
 * Which replicas may become the master, and in what order (design.md §5.3): only enabled,
 * reachable replicas in recovery, with a failover priority, within their lag limit and within
 * max_replay_lag. Every other replica gets a coded refusal so an operator reads exactly why
 * ("no candidate: paul lag 40 MB > 16 MB; george disabled").
 */
import { lsnToBigInt, parseLsn } from '../model/lsn.js';
import type { CandidateFacts, Refusal, SelectionInput } from './selection.js';

const CANDIDATE_STATUSES: ReadonlySet<string> = new Set(['healthy', 'lagged', 'warning']);

/** Split replicas into viable candidates and refusals (order not decided here). */
export function screenCandidates(input: SelectionInput, options: { ignoreLag?: boolean } = {}): { viable: CandidateFacts[]; refusals: Refusal[] } {
  const viable: CandidateFacts[] = [];
  const refusals: Refusal[] = [];
  const refuse = (c: CandidateFacts, code: Refusal['code'], reason: string): void => {
    refusals.push({ name: c.name, code, reason: `${c.name} ${reason}` });
  };
  for (const c of input.candidates) {
    if (c.role !== 'replica') refuse(c, 'not_replica', `is not a replica (role ${c.role})`);
    else if (!c.enabled) refuse(c, 'disabled', 'is disabled');
    else if (c.nofailover) refuse(c, 'nofailover', 'has nofailover set');
    else if (c.failoverPriority === 0) refuse(c, 'priority_zero', 'has failover_priority 0 (never)');
    else if (!c.reachable) refuse(c, 'unreachable', 'cannot be reached');
    else if (c.inRecovery === false) refuse(c, 'not_in_recovery', 'is not in recovery (already a master?)');
    else if (!CANDIDATE_STATUSES.has(c.status)) refuse(c, 'status', `is ${c.status}`);
    else if (c.receiveLsn === null || parseLsn(c.receiveLsn) === null) refuse(c, 'no_wal_position', 'reports no received WAL position');
    else if (!options.ignoreLag && c.lagMb !== null && c.lagMb > c.lagLimitMb) {
      refuse(c, 'lag_limit', `lag ${c.lagMb.toFixed(1)} MB > lag_limit ${c.lagLimitMb} MB`);
    } else if (!options.ignoreLag && c.replayLagBytes !== null && c.replayLagBytes / 1048576 > input.maxReplayLagMb) {
      refuse(c, 'replay_lag', `replay lag ${(c.replayLagBytes / 1048576).toFixed(1)} MB > max_replay_lag ${input.maxReplayLagMb} MB`);
    } else viable.push(c);
  }
  return { viable, refusals };
}

/** Compare received WAL positions, furthest ahead first. */
export function byReceivedDesc(a: CandidateFacts, b: CandidateFacts): number {
  const la = lsnToBigInt(parseLsn(a.receiveLsn) ?? ('0/0' as never));
  const lb = lsnToBigInt(parseLsn(b.receiveLsn) ?? ('0/0' as never));
  return la === lb ? 0 : la > lb ? -1 : 1;
}

export function byPriority(a: CandidateFacts, b: CandidateFacts): number {
  return a.failoverPriority - b.failoverPriority;
}

export function byName(a: CandidateFacts, b: CandidateFacts): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** "no candidate: paul lag 40 MB > 16 MB; george is disabled" */
export function describeRefusals(refusals: readonly Refusal[]): string {
  return refusals.length === 0 ? 'no replicas configured' : refusals.map((r) => r.reason).join('; ');
}
