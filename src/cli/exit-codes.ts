/**
 * Exit codes of the `handyrep` command, distinct so scripts and service managers can tell why.
 *
 * Client commands (issue 5): 0 success, 1 the function ran and answered FAIL (or was refused:
 * authentication, 409, internal error), 2 usage (unknown command, bad flag or value, unknown server,
 * a configuration problem), 3 cannot reach the daemon. `handyrep daemon` keeps its own two: 4 the
 * state file is locked by another HandyRep (also `--local` while a daemon runs), 5 cannot listen.
 */
export const EXIT = {
  OK: 0,
  /** A FAIL result, a refused call, or an unexpected error. */
  FAILURE: 1,
  /** Wrong command line: unknown command, bad flag, bad value, unknown server. */
  USAGE: 2,
  /**
   * The configuration file is unreadable or invalid, or names a missing or misconfigured plugin:
   * a usage problem too (same code), so 3 always means "cannot reach the daemon".
   */
  CONFIG: 2,
  /** A client command could not reach the daemon (refused, no answer, not a HandyRep daemon). */
  UNREACHABLE: 3,
  /** Another HandyRep process owns the state file (server_file). */
  LOCKED: 4,
  /** The REST API could not listen (address in use, not permitted). */
  LISTEN: 5,
} as const;

/** One of the EXIT values. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
