/**
 * The record of one topology change (failover, switchover, promotion, recovery of an interrupted
 * one): written to the journal before each step runs, kept in the failover history when done.
 */
export type StepOutcome = 'running' | 'ok' | 'failed' | 'skipped';

export interface StepRecord {
  name: string;
  server: string | null;
  started: string;
  finished: string | null;
  outcome: StepOutcome;
  details: string;
}

/** `adoption`: a controller took into its book the master an agents' election made (nothing promoted by it). */
export type TopologyChangeKind = 'failover' | 'switchover' | 'promote' | 'recovery' | 'adoption';
export type TopologyOutcome = 'RUNNING' | 'SUCCESS' | 'FAIL' | 'ROLLED_BACK';

export interface FailoverRecord {
  id: string;
  kind: TopologyChangeKind;
  /** Why it started: "master john is down: …" or "manual_failover requested". */
  reason: string;
  started: string;
  finished: string | null;
  duration_ms: number | null;
  from: string | null;
  to: string | null;
  outcome: TopologyOutcome;
  details: string;
  steps: StepRecord[];
  /** The forward path planned when the candidates were known ("fence john", "promote paul", …). */
  plan?: string[];
  /** How the old master was taken out: confirmed stopped or read-only, or unreachable (unconfirmed). */
  fence?: 'confirmed' | 'unconfirmed';
  /** Steps whose outcome could not be journaled after retries (each raised a CRITICAL alert). */
  journal_failures?: string[];
  /** Steps that ran although the plan did not have them (a bug; should stay absent). */
  off_plan?: string[];
  /**
   * A recovery's record only: the kind of change it recovers (a recovery of a recovery: the
   * original kind), so a recovery interrupted in turn keeps that change's rules (engine/roll-forward.ts).
   */
  recovers?: Exclude<TopologyChangeKind, 'recovery'>;
}

/** How many history entries are kept. */
export const HISTORY_LIMIT = 200;
