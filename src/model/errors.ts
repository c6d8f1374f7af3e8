/**
 * Coded errors. Every error HandyRep raises on purpose is a `HandyRepError` with a stable `code`
 * (documented in docs/errors.md); anything else reaching the API boundary is a bug.
 */

export const ERROR_CODES = {
  CONFIG_INVALID: 'the configuration file is invalid',
  CONFIG_UNREADABLE: 'the configuration file cannot be read',
  INVALID_PARAMETER: 'a parameter of an API call is missing or invalid',
  UNKNOWN_SERVER: 'no server of that name is configured',
  UNKNOWN_FUNCTION: 'no API function of that name exists',
  STATE_FILE: 'the server state file cannot be read or written',
  STATE_TABLE: 'the handyrep table cannot be read or written',
  CONTROL_CHANNEL: 'a command could not be run on a node (ssh or local execution failed, or the node\'s agent did not take or refused it)',
  COMMAND_TIMEOUT: 'a command on a node did not finish within its timeout',
  SQL: 'a query failed or could not connect',
  PLUGIN_LOAD: 'a plugin could not be loaded or does not fulfil its contract',
  PLUGIN_FAILED: 'a plugin raised an error',
  LOCKED: 'another HandyRep process owns the server state file',
  REFUSED: 'the action is not allowed in the current cluster state',
  NOT_LEADER: 'this controller does not hold the leadership (lost, never won, or another controller leads): it must not act',
  STORE_UNREACHABLE: 'the consensus store (etcd) did not answer within its deadline or has no quorum',
  STORE_DATA: 'the consensus store (etcd) holds a value that cannot be read or understood',
  FORBIDDEN: 'the web API may not do this: a setting or parameter that only the configuration file or the controller\'s command line may give',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class HandyRepError extends Error {
  override readonly name = 'HandyRepError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * NOT_LEADER raised BEFORE a mutating call did anything (the leadership pre-checks): the only
 * refusal a follower may forward to the leader. A NOT_LEADER from inside an action that partly
 * ran is answered 503 as it is (running it again on the leader could repeat a step).
 */
export class NotLeaderRefusal extends HandyRepError {
  constructor(message: string) {
    super('NOT_LEADER', message);
  }
}

/** A short, single-line description of any thrown value, for logs and RD details. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.message;
  return String(err);
}
