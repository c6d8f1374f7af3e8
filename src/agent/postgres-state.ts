/**
 * How the agent tells a crash from a stop on purpose, as a pure function. PostgreSQL removes
 * postmaster.pid whenever its postmaster exits by itself (smart, fast and immediate shutdowns,
 * whoever asked: the agent, the controller or an operator's `pg_ctl stop`); a postmaster that was
 * killed leaves the file behind with a dead pid. A kill the agent did itself (the last step of a
 * demotion) is on purpose too, and only a death the agent saw happen (running before) counts.
 */
import type { PostgresView } from './decide.js';

export interface PostgresObservation {
  /** The pid in postmaster.pid, or null when there is no such file. */
  readonly pidFilePid: number | null;
  /** Whether that pid is a live process. */
  readonly pidAlive: boolean;
  /** The SQL probe's answer: writable or not, or null when it did not answer. */
  readonly writable: boolean | null;
}

export interface PostgresMemory {
  /** Whether the previous round saw the postmaster alive. */
  readonly wasRunning: boolean;
  /** Whether the agent itself stopped or killed it since it last ran. */
  readonly stoppedByAgent: boolean;
}

export function classifyPostgres(obs: PostgresObservation, memory: PostgresMemory): PostgresView {
  if (obs.pidFilePid !== null && obs.pidAlive) {
    return obs.writable === null ? { state: 'unresponsive' } : { state: 'running', writable: obs.writable };
  }
  const killed = obs.pidFilePid !== null; // file left behind by a postmaster that did not exit by itself
  if (killed && memory.wasRunning && !memory.stoppedByAgent) return { state: 'crashed' };
  return { state: 'stopped' };
}
