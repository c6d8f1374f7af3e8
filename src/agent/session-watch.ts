/**
 * When a round runs because the agent's SQL session to its own PostgreSQL was ended by the server
 * (local-postgres.ts onSessionLost), as a pure function. That session is kept open over the unix
 * socket anyway (one query per round); its backend exits the moment its postmaster dies (Linux
 * signals every child of a dead postmaster, and an idle backend waits with the postmaster's death
 * among its wake-up events), so the socket's close starts the round that sees the crash and
 * releases the master lease, instead of the next one a loop_wait later, and without any polling
 * between rounds. It is armed whenever PostgreSQL answered a round: on the master from the round
 * that takes the lease on.
 *
 * Only a close with the postmaster killed wakes a round (a dead pid in postmaster.pid: a clean stop
 * removes the file); other ends of the session (idle_session_timeout, pg_terminate_backend, a stop
 * under way) leave the next round to reconnect, so they cost nothing. A close the agent asked for
 * (its own stop, kill or restart) never wakes it, nor one during a command that changes PostgreSQL
 * (the command runs its own round after it). Wakes are at least `minGapMs` apart, so nothing can
 * make the agent spin.
 */
export interface WakeSnapshot {
  /** The agent is stopping: no more rounds. */
  readonly stopped: boolean;
  /**
   * postmaster.pid and its pid: 'died' (the file names a dead process: what a killed postmaster
   * leaves), 'alive', or 'no_file' (stopped, or between a restart's stop and start).
   */
  readonly postmaster: 'died' | 'alive' | 'no_file';
  /**
   * Looks left for a postmaster still seen alive: Linux tells its children (PR_SET_PDEATHSIG) while
   * it exits, before /proc shows it dead, so the session can end a moment before the death shows.
   */
  readonly rechecksLeft: number;
  /** A controller command that stops or restarts PostgreSQL is under way (commands/executor.ts). */
  readonly commandRunning: boolean;
  /** A round is under way: it may have observed PostgreSQL before the close. */
  readonly roundRunning: boolean;
  /** Monotonic ms since the last round woken this way started (Infinity when never; negative: it is still due). */
  readonly sinceLastWakeMs: number;
  readonly minGapMs: number;
}

export type WakePlan =
  | { readonly kind: 'none' }
  /** Another round as soon as the running one ends. */
  | { readonly kind: 'after_round' }
  /** A round in `ms` (0: at once). */
  | { readonly kind: 'in'; readonly ms: number }
  /** Look at postmaster.pid again in `ms`. */
  | { readonly kind: 'recheck'; readonly ms: number };

export const RECHECK_MS = 50;
export const RECHECKS = 4;

export function wakePlan(s: WakeSnapshot): WakePlan {
  if (s.stopped || s.commandRunning || s.postmaster === 'no_file') return { kind: 'none' };
  if (s.postmaster === 'alive') return s.rechecksLeft > 0 ? { kind: 'recheck', ms: RECHECK_MS } : { kind: 'none' };
  if (s.roundRunning) return { kind: 'after_round' };
  if (s.sinceLastWakeMs < 0) return { kind: 'none' }; // the woken round is still to come
  return { kind: 'in', ms: Math.max(0, Math.ceil(s.minGapMs - s.sinceLastWakeMs)) };
}
