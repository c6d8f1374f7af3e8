/** Exit codes of the `handyrep` command, distinct so scripts and service managers can tell why. */
export const EXIT = {
  OK: 0,
  /** An unexpected error. */
  FAILURE: 1,
  /** Wrong command line. */
  USAGE: 2,
  /** The configuration file is unreadable or invalid, or names a missing or misconfigured plugin. */
  CONFIG: 3,
  /** Another HandyRep process owns the state file (server_file). */
  LOCKED: 4,
  /** The REST API could not listen (address in use, not permitted). */
  LISTEN: 5,
} as const;

/** One of the EXIT values. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
