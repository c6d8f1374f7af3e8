/**
 * What replica selection works on: facts collected about each replica before a failover, as
 * plain data. Selection plugins are pure functions of these (no I/O): they order the viable
 * candidates and give every other replica a coded reason.
 */
import type { ServerStatusName } from '../model/status.js';

export interface CandidateFacts {
  name: string;
  enabled: boolean;
  role: string;
  status: ServerStatusName;
  failoverPriority: number;
  nofailover: boolean;
  /** A database session could be opened just now. */
  reachable: boolean;
  inRecovery: boolean | null;
  /** Last WAL position received (flushed) by the replica; null when unknown. */
  receiveLsn: string | null;
  replayLsn: string | null;
  /** Received but not yet replayed WAL, in bytes. */
  replayLagBytes: number | null;
  /** Lag behind the master at the last verification, in MB (for the lag limit). */
  lagMb: number | null;
  lagLimitMb: number;
}

export const REFUSAL_CODES = [
  'disabled',
  'not_replica',
  'nofailover',
  'priority_zero',
  'unreachable',
  'not_in_recovery',
  'status',
  'replay_lag',
  'lag_limit',
  'no_wal_position',
  'not_sync_member',
  'sync_behind',
  'sync_quorum',
  'sync_record_stale',
] as const;
export type RefusalCode = (typeof REFUSAL_CODES)[number];

export interface Refusal {
  name: string;
  code: RefusalCode;
  reason: string;
}

export interface SelectionInput {
  candidates: readonly CandidateFacts[];
  /** failover.max_replay_lag, MB. */
  maxReplayLagMb: number;
}

export interface SelectionResult {
  /** Viable candidates, best first. */
  order: string[];
  /** Every replica not in `order`, with why. */
  refusals: Refusal[];
}
