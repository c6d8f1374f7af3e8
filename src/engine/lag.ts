/**
 * Replication lag from WAL positions (design.md §5.3, "never promote past the lag limit"). A
 * failover candidate is judged by what it has received against the master's last known position,
 * both fresh facts, not by the lag its last verification wrote down: a verification while the
 * master is unreachable can only measure received − replayed (≈ 0) and must not make a replica
 * far behind look caught up.
 */
import { lsnDiff, parseLsn } from '../model/lsn.js';

export const BYTES_PER_MB = 1048576;

/** Bytes from `behind` to `ahead` (0 when `behind` is not behind); null when either is unknown. */
export function bytesBehind(ahead: string | null, behind: string | null): number | null {
  const a = parseLsn(ahead);
  const b = parseLsn(behind);
  return a === null || b === null ? null : Math.max(0, lsnDiff(a, b));
}

/** Bytes as MB rounded to the kB (the unit of lag_limit and max_replay_lag). */
export function bytesToMb(bytes: number): number {
  return Math.round((bytes / BYTES_PER_MB) * 1000) / 1000;
}

/**
 * A failover candidate's lag in MB: the master's last known WAL position minus the WAL the
 * candidate received. Without a known master position, the lag its last verification recorded.
 */
export function candidateLagMb(masterPosition: string | null, candidateReceived: string | null, recordedLagMb: number | null): number | null {
  const bytes = parseLsn(masterPosition) === null ? null : bytesBehind(masterPosition, candidateReceived);
  return bytes === null ? recordedLagMb : bytesToMb(bytes);
}

export interface ReplicaLagInput {
  /** What the replication status plugin measured, in bytes. */
  measuredBytes: number | null;
  /** The plugin measured against the master's current position (it reached the master). */
  measuredAgainstMaster: boolean;
  /** The lag recorded by earlier checks, in bytes. */
  recordedBytes: number | null;
  /** The master's last known WAL position (recorded at its last successful poll or verification). */
  masterPosition: string | null;
  /** The replica's replayed WAL position now. */
  replicaReplayed: string | null;
}

/**
 * The lag to record after a replica verification. Measured against the live master, it stands.
 * Otherwise the master may have written more since it was last seen: the lag is at least its last
 * known position minus what the replica replayed, and never lower than what was recorded.
 */
export function replicaLagToRecord(input: ReplicaLagInput): number | null {
  if (input.measuredAgainstMaster) return input.measuredBytes;
  const known = [input.measuredBytes, input.recordedBytes, bytesBehind(input.masterPosition, input.replicaReplayed)].filter((b): b is number => b !== null);
  return known.length === 0 ? null : Math.max(...known);
}
