/**
 * Plugin capability contracts. One interface per way of touching a node; the registry checks a
 * plugin against its contract when it is loaded. Plugins observe and act; they never decide
 * statuses or failovers (the engine does).
 */
import type { HandyRepConfig } from '../config/schema.js';
import type { ServerRecord } from '../model/server.js';
import type { MonitoringSessions, NodeShell, SqlClient, SqlTarget } from '../nodes/ports.js';
import type { PollOutcome, ReplicationObservation } from '../engine/observations.js';
import type { SelectionInput, SelectionResult } from '../engine/selection.js';
import type { ArchiveFile } from '../engine/archive-cleanup.js';

/** A server as plugins see it: its record plus its name. */
export type ServerRef = Readonly<ServerRecord> & { readonly name: string };

export interface PluginLog {
  debug(message: string, server?: string): void;
  info(message: string, server?: string): void;
  warn(message: string, server?: string): void;
  error(message: string, server?: string): void;
}

/** What a plugin may use. Handed in on every call; plugins keep no references to it. */
export interface PluginContext {
  readonly config: Readonly<HandyRepConfig>;
  readonly log: PluginLog;
  readonly sql: SqlClient;
  /** HandyRep's long-lived monitoring session per server (polls; a dropped one wakes the monitor). */
  readonly monitorSessions: MonitoringSessions;
  /** The control channel of a server (ssh or local, per its control_method). */
  shellFor(server: ServerRef): NodeShell;
  /** A shell on the controller itself, running as the controller's user. */
  readonly controllerShell: NodeShell;
  /** Connection parameters of a server for HandyRep's own user and database. */
  sqlTarget(server: ServerRef): SqlTarget;
  /** This plugin's settings from the `plugins` section (empty when none). */
  settings(pluginName: string): Readonly<Record<string, unknown>>;
  readonly timeouts: { readonly connectMs: number; readonly statementMs: number; readonly commandMs: number };
}

export type PluginKind =
  | 'poll'
  | 'replication_status'
  | 'restart'
  | 'promote'
  | 'select'
  | 'auth'
  | 'command'
  | 'clone'
  | 'archive'
  | 'archive_delete'
  | 'connection'
  | 'alert';

interface PluginBase {
  readonly name: string;
  readonly kind: PluginKind;
  readonly description: string;
}

/** `poll_method`: a lightweight up/down check of one server. Never throws for an unreachable server. */
export interface PollPlugin extends PluginBase {
  readonly kind: 'poll';
  poll(ctx: PluginContext, server: ServerRef): Promise<PollOutcome>;
}

/** `replication_status_method`: streaming state and lag of a replica. Throws when it cannot tell. */
export interface ReplicationStatusPlugin extends PluginBase {
  readonly kind: 'replication_status';
  replicationStatus(ctx: PluginContext, replica: ServerRef, master: ServerRef | null): Promise<ReplicationObservation>;
}

/** `kill`: SIGKILL every process of the instance, for fencing a master that ignores a stop (frozen). */
export const CONTROL_ACTIONS = ['start', 'stop', 'faststop', 'restart', 'reload', 'status', 'kill'] as const;
export type ControlAction = (typeof CONTROL_ACTIONS)[number];

/** Outcome of a restart-plugin action. For `status`, `running` says whether PostgreSQL runs. */
export interface ControlOutcome {
  ok: boolean;
  running?: boolean;
  details: string;
}

/** `restart_method`: start, stop, restart, reload and status of PostgreSQL on a node. */
export interface RestartPlugin extends PluginBase {
  readonly kind: 'restart';
  /** `waitSeconds` bounds how long a start/stop may wait (fencing uses short waits). */
  control(ctx: PluginContext, server: ServerRef, action: ControlAction, options?: { waitSeconds?: number }): Promise<ControlOutcome>;
}

/**
 * `promotion_method`: make a replica leave recovery. Resolves when the plugin's action is done;
 * the runtime then confirms the promotion itself (pg_is_in_recovery() false and a committed write).
 */
export interface PromotePlugin extends PluginBase {
  readonly kind: 'promote';
  promote(ctx: PluginContext, server: ServerRef): Promise<ControlOutcome>;
}

/** `selection_method`: order failover candidates. Pure and synchronous: facts in, order out. */
export interface SelectPlugin extends PluginBase {
  readonly kind: 'select';
  select(input: SelectionInput): SelectionResult;
}

/** What an HTTP request presents to an auth plugin (the password is never logged). */
export interface AuthRequest {
  username: string | null;
  password: string | null;
  /** The API function called. */
  functionName: string;
  /** Access level the function needs. */
  access: 'read' | 'admin';
  remoteAddress: string;
}

export type AuthOutcome = { ok: true; user: string } | { ok: false; status: 401 | 403; reason: string };

/** `authentication_method`: decide whether a web API call may run. */
export interface AuthPlugin extends PluginBase {
  readonly kind: 'auth';
  authenticate(ctx: PluginContext, request: AuthRequest): Promise<AuthOutcome>;
}

/** What a post-failover command is told. */
export interface FailoverCommandContext {
  newMaster: ServerRef;
  oldMaster: string | null;
}

/** `extra_failover_commands.<name>.command`: run after a successful failover with its parameters. */
export interface CommandPlugin extends PluginBase {
  readonly kind: 'command';
  run(ctx: PluginContext, failover: FailoverCommandContext, parameters: readonly string[]): Promise<ControlOutcome>;
}

/** Progress a clone plugin reports while it copies. */
export interface CloneProgress {
  bytesDone: number | null;
  bytesTotal: number | null;
}

/** What a clone plugin is asked to do. */
export interface CloneRequest {
  /** Where to copy to: `target.pgdata` is empty (or missing) when the plugin is called. */
  target: ServerRef;
  /** Where to copy from (the master, or the clonefrom server). */
  source: ServerRef;
  /** Aborted when the clone is cancelled: stop the copy on the node and return promptly. */
  signal: AbortSignal;
  progress(update: CloneProgress): void;
  /**
   * Leave standby.signal in the copy as soon as it is complete (pg_basebackup -R), so that a copy
   * started before the runtime configured it is never writable (the node agent asks for it).
   * Plugins that cannot simply ignore it.
   */
  writeStandbySignal?: boolean;
}

/**
 * `clone_method`: copy a server's data folder onto another node. Only the copy: the runtime
 * prepares the target folder, then writes the standby configuration, starts and checks the clone.
 */
export interface ClonePlugin extends PluginBase {
  readonly kind: 'clone';
  clone(ctx: PluginContext, request: CloneRequest): Promise<ControlOutcome>;
}

/**
 * `archive.archive_script_method`: the WAL archive script on the database servers and its
 * no-archiving flag file. `pushScript` installs it on one server (and makes the archive folder);
 * `start`/`stop` remove/create the flag file there.
 */
export interface ArchivePlugin extends PluginBase {
  readonly kind: 'archive';
  pushScript(ctx: PluginContext, server: ServerRef): Promise<ControlOutcome>;
  start(ctx: PluginContext, server: ServerRef): Promise<ControlOutcome>;
  stop(ctx: PluginContext, server: ServerRef): Promise<ControlOutcome>;
  /** The restore_command replicas get, or null when this method offers none. */
  restoreCommand(ctx: PluginContext): string | null;
}

/** The archive folder and the server whose control channel reaches it. */
export interface ArchiveLocation {
  server: ServerRef;
  directory: string;
}

/**
 * `archive.archive_delete_method`: lists and deletes archived files. Which files to delete is
 * decided by the engine (src/engine/archive-cleanup.ts), never by the plugin.
 */
export interface ArchiveDeletePlugin extends PluginBase {
  readonly kind: 'archive_delete';
  listFiles(ctx: PluginContext, location: ArchiveLocation): Promise<ArchiveFile[]>;
  deleteFiles(ctx: PluginContext, location: ArchiveLocation, names: readonly string[]): Promise<ControlOutcome>;
}

/** Where client connections should go: the master, and the replicas for read-only traffic. */
export interface ConnectionRouting {
  master: ServerRef;
  /** Enabled, healthy or lagged replicas, best first (failover priority order). */
  replicas: readonly ServerRef[];
}

/** What a connection plugin did to one proxy. */
export interface ProxyOutcome {
  ok: boolean;
  details: string;
}

/**
 * `failover.connection_failover_method`: points the connection proxies (servers of role
 * `pgbouncer` or `proxy`) at the current master. `run` after a failover, `init` to set them up
 * the first time, `poll` to check that one proxy lets clients through.
 */
export interface ConnectionPlugin extends PluginBase {
  readonly kind: 'connection';
  /** The proxy roles this plugin manages. */
  readonly proxyRoles: readonly string[];
  run(ctx: PluginContext, routing: ConnectionRouting, proxy: ServerRef): Promise<ProxyOutcome>;
  init(ctx: PluginContext, routing: ConnectionRouting, proxy: ServerRef): Promise<ProxyOutcome>;
  poll(ctx: PluginContext, proxy: ServerRef): Promise<PollOutcome>;
}

/** One alert: a log entry that an operator must hear about (seed 004 push_alert). */
export interface Alert {
  type: 'WARNING' | 'CRITICAL';
  category: string;
  message: string;
  server: string | null;
  cluster: string;
  ts: string;
}

/** `handyrep.push_alert_method`: deliver an alert (mail, webhook, command). */
export interface AlertPlugin extends PluginBase {
  readonly kind: 'alert';
  push(ctx: PluginContext, alert: Alert): Promise<ControlOutcome>;
}

export type Plugin =
  | PollPlugin
  | ReplicationStatusPlugin
  | RestartPlugin
  | PromotePlugin
  | SelectPlugin
  | AuthPlugin
  | CommandPlugin
  | ClonePlugin
  | ArchivePlugin
  | ArchiveDeletePlugin
  | ConnectionPlugin
  | AlertPlugin;
export type PluginOfKind<K extends PluginKind> = Extract<Plugin, { kind: K }>;

/** The method each kind must implement, checked at load time. */
export const REQUIRED_METHOD: Readonly<Record<PluginKind, string>> = {
  poll: 'poll',
  replication_status: 'replicationStatus',
  restart: 'control',
  promote: 'promote',
  select: 'select',
  auth: 'authenticate',
  command: 'run',
  clone: 'clone',
  archive: 'pushScript',
  archive_delete: 'listFiles',
  connection: 'run',
  alert: 'push',
};
