/**
 * Ports of the effects layer. Everything that touches a node goes through these narrow
 * interfaces; the engine never sees them and the runtime/plugins only see these.
 *
 * Commands are argv arrays. Nothing is ever run through a shell on the controller; on a remote
 * node the argv is quoted by `shell-quote.ts` (the only place quoting lives) because an SSH exec
 * request is a single string interpreted by the remote user's shell.
 */
import type { PasswordMethod, SqlTls } from './pg-tls.js';

export interface CommandOptions {
  /** Hard limit; on expiry the command is killed and `timedOut` is true. */
  timeoutMs: number;
  /** Written to the command's standard input, then closed (used for secrets, never argv). */
  stdin?: string;
  /** Extra environment variables for local commands (remote: refused, use stdin). */
  env?: Readonly<Record<string, string>>;
}

export interface CommandResult {
  /** Exit code, or null when the command was killed by a signal or timed out. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

/**
 * Runs commands on one node. `run` resolves with the command's result whatever its exit code; it
 * rejects with `HandyRepError('CONTROL_CHANNEL')` only when the command could not be started at all
 * (SSH unreachable, authentication refused, host key mismatch, binary missing locally).
 */
/** The node actions an agent runs whole (see NodeShell.runAction). */
export type WholeNodeAction =
  | { action: 'rewind'; source: string }
  /** runtime/clone/clone-through-agent.ts */
  | { action: 'clone'; source: string; upstream: string; old_data: 'none' | 'move' | 'delete'; restore_command: boolean; expect?: { pgdata: string } };

export interface NodeShell {
  /** Human-readable target, e.g. `ssh postgres@127.0.0.11:22` or `local (postgres)`. */
  readonly description: string;
  run(argv: readonly string[], options: CommandOptions): Promise<CommandResult>;
  /**
   * A whole node action the channel runs as one (control_method agent: the node's agent runs the
   * pg_rewind sequence, or a clone's copy, itself: src/agent/commands/); absent for ssh and local shells.
   */
  runAction?(request: WholeNodeAction, timeoutMs: number, progress?: (bytesDone: number | null, bytesTotal: number | null) => void, signal?: AbortSignal): Promise<CommandResult>;
  /** Release pooled connections. Idempotent. */
  close(): Promise<void>;
}

/** Connection parameters for one PostgreSQL server. */
export interface SqlTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  applicationName?: string;
  /** TLS policy; absent = sslmode prefer, no certificates. */
  tls?: SqlTls;
  /** Password methods answered; absent = scram-sha-256 only. */
  allowedPasswordMethods?: readonly PasswordMethod[];
  /**
   * Commit without waiting for synchronous standbys (synchronous_commit=local for the session):
   * HandyRep's own writes (heartbeat, state table, write checks, promotion confirmation) must not
   * stall with the clients' while synchronous_mode waits for a standby.
   */
  localCommit?: boolean;
}

/** How a connection attempt failed: the difference between "down" and "unavailable". */
export type ConnectFailureKind =
  /** TCP refused: the host answers but nothing listens (PostgreSQL not running). */
  | 'refused'
  /** No answer within the connect timeout (host lost, partition, frozen). */
  | 'timeout'
  /** PostgreSQL answered but is starting up, shutting down or in crash recovery. */
  | 'starting'
  /** PostgreSQL answered but refused our credentials or database. */
  | 'auth'
  /** Anything else (DNS failure, unreachable network, protocol error). */
  | 'other';

export type SqlValue = string | number | boolean | null | bigint;
export type SqlRow = Record<string, unknown>;

/** A short-lived SQL session: connect, run a few statements, end. */
export interface SqlSession {
  query<Row extends SqlRow = SqlRow>(text: string, params?: readonly SqlValue[]): Promise<Row[]>;
  end(): Promise<void>;
  /**
   * Be told once when the connection ends without `end()` having been called (the server crashed,
   * refused, reset, or the session was cut for silence). Sessions that cannot tell need not offer it.
   */
  onLost?(listener: (reason: string) => void): void;
}

/**
 * Opens SQL sessions. `connect` rejects with `SqlConnectError` (which carries the `ConnectFailureKind`);
 * query errors reject with `HandyRepError('SQL')`.
 */
export interface SqlClient {
  connect(target: SqlTarget): Promise<SqlSession>;
}

/**
 * HandyRep's long-lived monitoring sessions, one per server: polls reuse it instead of opening a
 * session (fork, authentication) every time. `query` rejects with `SqlConnectError` when no
 * session can be opened or the server stays silent for `timeoutMs` (kind 'timeout'), otherwise
 * with `HandyRepError('SQL')`.
 */
export interface MonitoringSessions {
  query<Row extends SqlRow = SqlRow>(target: SqlTarget, text: string, timeoutMs: number, params?: readonly SqlValue[]): Promise<Row[]>;
  /** End every session (they reopen on the next query). */
  closeAll(): Promise<void>;
}
