/**
 * The fixed table of node actions a controller may ask an agent to run (`control_method: agent`,
 * design §9 `commands/<node>/<id>`). A command record names an action and a few typed parameters
 * (enumerations, bounded numbers, server names); it never carries an argv, a path or a shell
 * string. The agent rebuilds what to run from the action and ITS OWN configuration (command-plan.ts),
 * so whatever etcd holds, only these actions with the agent's own paths can run.
 *
 * Two directions, both pure:
 *   - `identifyCommand` (controller): the argv a plugin or the runtime asked a NodeShell to run →
 *     the action it is, or why it is not one of the table's (then nothing is sent);
 *   - `parseCommandRequest` (agent): a request read from etcd → a validated request, or a clear
 *     error naming the bad parameter (then nothing runs).
 */
import { z } from 'zod';
import { NAME_PATTERN } from '../../config/validators.js';
import { CONTROL_ACTIONS } from '../../plugins/types.js';
import { KILL_INSTANCE_SCRIPT } from '../../plugins/restart/kill-instance.js';
import { PG_STATUS_LABEL, PG_STATUS_SCRIPT } from '../../plugins/restart/status-script.js';
import { STOP_AND_WAIT_SCRIPT } from '../../plugins/restart/stop-and-wait.js';
import { atomicWriteArgv } from '../../plugins/node-file.js';
import { systemctlArgv } from '../../plugins/restart/restart_systemd.js';
import { BATCH, listArchiveArgv, SAFE_NAME } from '../../plugins/archive/archive_delete_find.js';
import { inspectFolderArgv } from '../../runtime/clone/target-node.js';
import { classifyArchiveFile } from '../../engine/wal-names.js';

const seconds = z.number().int().min(1).max(86_400);
const serverName = z.string().regex(NAME_PATTERN, 'must be a server name (1-63 letters, digits, "_", "." or "-")');

/**
 * What the controller believes of the node (its own configuration's values, as in the argv it built):
 * COMPARED by the agent with its own configuration, never used. A node whose agent's configuration
 * differs refuses instead of answering for another folder or host (a `pg_ctl status` of a wrong folder
 * would say "not running", a probe of a stale address "does not see").
 */
const expectSchema = z
  .object({
    pgdata: z.string().max(4096).optional(),
    pg_ctl_dir: z.string().max(4096).optional(),
    host: z.string().max(255).optional(),
    port: z.number().int().min(1).max(65535).optional(),
  })
  .strict();
export type Expectations = z.output<typeof expectSchema>;
const expectation = { expect: expectSchema.optional() };

/**
 * A file archive_delete may remove: a plain name that is an archived WAL file (a segment, .partial,
 * a base-backup label or a timeline history file, compressed or not: engine/wal-names.ts), never
 * anything else that may live in the archive folder (the archive script, an operator's notes).
 */
const archivedName = z
  .string()
  .max(255)
  .regex(SAFE_NAME, 'must be a plain file name (letters, digits, "_", "." or "-", not starting with "." or "-")')
  .refine((name) => isArchivedWalName(name), 'must be the name of an archived WAL file (segment, .partial, .backup label or .history)');

/** Whether archive_delete takes `name` (archivedName's rule, for the controller's side too). */
export function isArchivedWalName(name: string): boolean {
  return SAFE_NAME.test(name) && classifyArchiveFile(name).kind !== 'unknown';
}

/** The actions and their parameters; `.strict()`: an unknown parameter (a path, a flag) is refused. */
const requestSchema = z.discriminatedUnion('action', [
  /** restart_pg_ctl's actions (start, stop, faststop, restart, reload, status, kill). */
  z.object({ action: z.literal('pg_ctl'), op: z.enum(CONTROL_ACTIONS), wait_s: seconds, ...expectation }).strict(),
  /** restart_systemd's actions (systemctl on the node's unit). */
  z.object({ action: z.literal('systemctl'), op: z.enum(CONTROL_ACTIONS), ...expectation }).strict(),
  /** promote_pg_ctl. */
  z.object({ action: z.literal('promote'), wait_s: seconds, ...expectation }).strict(),
  /** pg_controldata of the node's data folder (switchover: the final checkpoint). */
  z.object({ action: z.literal('controldata'), ...expectation }).strict(),
  /** pg_isready from this node to a configured server (failover vantage probe). */
  z.object({ action: z.literal('isready'), server: serverName, timeout_s: seconds, ...expectation }).strict(),
  /** handyrep.test_ssh_command (verify: the control channel works). */
  z.object({ action: z.literal('test'), ...expectation }).strict(),
  /** Remove standby.signal from the data folder. */
  z.object({ action: z.literal('clear_standby_signal'), ...expectation }).strict(),
  /** Create standby.signal in the data folder. */
  z.object({ action: z.literal('standby_signal'), ...expectation }).strict(),
  /**
   * Append primary_conninfo for this upstream server to postgresql.auto.conf, built by the agent from
   * its own configuration (the replication password never travels through etcd).
   */
  z.object({ action: z.literal('set_upstream'), upstream: serverName, ...expectation }).strict(),
  /** pg_rewind of the stopped node onto a configured server, keeping its configuration files. */
  z.object({ action: z.literal('rewind'), source: serverName, ...expectation }).strict(),
  /** archive_local_dir: make archive.archive_directory (mode 700). */
  z.object({ action: z.literal('archive_dir'), ...expectation }).strict(),
  /** archive_local_dir: install the archive script, rendered by the agent from its own configuration. */
  z.object({ action: z.literal('archive_push'), ...expectation }).strict(),
  /** archive_local_dir: remove the no-archiving flag file (start_archiving). */
  z.object({ action: z.literal('archive_start'), ...expectation }).strict(),
  /** archive_local_dir: create the no-archiving flag file (stop_archiving). */
  z.object({ action: z.literal('archive_stop'), ...expectation }).strict(),
  /** archive_delete_find: list archive.archive_directory (name, mtime, size of each file). */
  z.object({ action: z.literal('archive_list'), ...expectation }).strict(),
  /** archive_delete_find: delete these files (plain names, no path) from archive.archive_directory. */
  z
    .object({
      action: z.literal('archive_delete'),
      files: z.array(archivedName).min(1).max(BATCH),
      ...expectation,
    })
    .strict(),
  /** clone: what the data folder holds (missing, empty, configuration files only, data, other). */
  z.object({ action: z.literal('inspect_folder'), ...expectation }).strict(),
  /**
   * clone: copy `source` into the stopped node's data folder with the agent's own clone plugin
   * (boot-clone.ts), keeping its configuration files, and configure it as a standby of `upstream`
   * (not started). `old_data`: what to do with a folder holding data (none: refuse).
   * `restore_command`: add the agent's archive plugin's restore_command.
   */
  z
    .object({
      action: z.literal('clone'),
      source: serverName,
      upstream: serverName,
      old_data: z.enum(['none', 'move', 'delete']),
      restore_command: z.boolean(),
      ...expectation,
    })
    .strict(),
]);

export type CommandRequest = z.output<typeof requestSchema>;
export type CommandAction = CommandRequest['action'];

/** The request as the agent may run it, or an error naming what is wrong (nothing runs then). */
export function parseCommandRequest(raw: unknown, stdin: string | null): { ok: true; request: CommandRequest } | { ok: false; problem: string } {
  const parsed = requestSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const where = issue.path.length > 0 ? issue.path.join('.') : 'request';
      const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')}: paths and flags come from the agent's own configuration)` : '';
      return `${where}: ${issue.message}${keys}`;
    });
    return { ok: false, problem: `invalid command: ${problems.join('; ')}` };
  }
  const request = parsed.data;
  if (stdin !== null) return { ok: false, problem: `invalid command: ${request.action} takes no input (what it needs comes from the agent's own configuration)` };
  return { ok: true, request };
}

/** What the controller wants run: the request and the input it sends with it. */
export interface IdentifiedCommand {
  readonly request: CommandRequest;
  readonly stdin: string | null;
}

/** What identification needs besides the argv: settings of the configuration in force. */
export interface IdentifyContext {
  /** handyrep.test_ssh_command. */
  readonly testCommand: readonly string[];
  /** archive.archive_directory and archive.no_archive_file. */
  readonly archiveDirectory: string | null;
  readonly noArchiveFile: string;
  /** The configured server listening at host:port (the probe's target), or null. */
  serverAt(host: string, port: number): string | null;
}

const ATOMIC_WRITE_SCRIPT = atomicWriteArgv('', { umask: '077', mode: '700' }, '')[2];

const basename = (path: string | undefined): string => (path ?? '').slice((path ?? '').lastIndexOf('/') + 1);

/** The number after `flag` in argv, or null. */
function numberAfter(argv: readonly string[], flag: string): number | null {
  const index = argv.indexOf(flag);
  const value = index >= 0 ? argv[index + 1] : undefined;
  return value !== undefined && /^\d{1,6}$/.test(value) ? Number(value) : null;
}

/**
 * The table's action for an argv built by a plugin or the runtime (restart_pg_ctl, promote_pg_ctl,
 * rejoin, switchover, vantage probes, verify), with the stdin it carries; an error sentence when
 * the argv is none of them. A clone's copy is no argv: the controller sends it whole (clone-through-agent.ts).
 */
export function identifyCommand(argv: readonly string[], stdin: string | undefined, context: IdentifyContext): IdentifiedCommand | { refused: string } {
  const bare = identifyRequest(argv, context);
  const expect = bare === null ? {} : expectationsOf(argv, bare);
  const found = bare === null || Object.keys(expect).length === 0 ? bare : { ...bare, expect };
  if (found === null) return { refused: `${basename(argv[0]) || 'an empty command'}${argv[0] === 'sh' ? ` (${argv[3] ?? 'script'})` : ''} is not a node action an agent runs (control_method agent runs only the actions of src/agent/commands/command-table.ts)` };
  if (found.action === 'set_upstream') {
    // The settings the controller built (with the password) stay here: the record names the upstream.
    const upstream = upstreamOf(stdin ?? '', context.serverAt);
    if (upstream === null) return { refused: 'set_upstream: the upstream is none of the configured servers' };
    return { request: { action: 'set_upstream', upstream, ...(found.expect ? { expect: found.expect } : {}) }, stdin: null };
  }
  // The script the controller rendered is not sent: the agent renders it from its own configuration.
  if (found.action === 'archive_push') return { request: found, stdin: null };
  if (stdin !== undefined) return { refused: `${found.action}: no input is sent to an agent` };
  return { request: found, stdin: null };
}

function identifyRequest(argv: readonly string[], context: IdentifyContext): CommandRequest | null {
  if (argv.length === context.testCommand.length && argv.every((arg, i) => arg === context.testCommand[i])) return { action: 'test' };
  if (argv[0] === 'sh' && argv[1] === '-c') {
    if (argv[2] === STOP_AND_WAIT_SCRIPT && argv[3] === 'stop-and-wait') {
      const wait = /^\d{1,6}$/.test(argv[8] ?? '') ? Number(argv[8]) : null;
      if (wait === null) return null;
      if (argv[7] === 'fast') return { action: 'pg_ctl', op: 'stop', wait_s: wait };
      if (argv[7] === 'immediate') return { action: 'pg_ctl', op: 'faststop', wait_s: wait };
      return null;
    }
    if (argv[2] === PG_STATUS_SCRIPT && argv[3] === PG_STATUS_LABEL) return { action: 'pg_ctl', op: 'status', wait_s: 60 };
    if (argv[2] === KILL_INSTANCE_SCRIPT && argv[3] === 'handyrep-kill') return { action: 'pg_ctl', op: 'kill', wait_s: 1 };
    if (argv[2] === 'cat >> "$1"' && argv[3] === 'set_upstream' && basename(argv[4]) === 'postgresql.auto.conf') return { action: 'set_upstream', upstream: '?' };
    if (argv[2] === ATOMIC_WRITE_SCRIPT && argv[3] === 'push_archive_script') return { action: 'archive_push' };
    if (argv[3] === 'inspect_pgdata' && argv[4] !== undefined && inspectFolderArgv(argv[4]).join('\0') === argv.join('\0')) return { action: 'inspect_folder' };
    if (argv[2] === 'mkdir -p "$(dirname "$1")" && touch "$1"' && argv[3] === 'stop_archiving' && argv[4] === context.noArchiveFile) return { action: 'archive_stop' };
    return null;
  }
  if (argv.length === 3 && argv[0] === 'rm' && argv[1] === '-f' && argv[2] === context.noArchiveFile) return { action: 'archive_start' };
  if (context.archiveDirectory !== null) {
    const directory = context.archiveDirectory;
    if (listArchiveArgv(directory).join('\0') === argv.join('\0')) return { action: 'archive_list' };
    const files = argv.slice(3).map((path) => (path.startsWith(`${directory}/`) ? path.slice(directory.length + 1) : ''));
    if (argv[0] === 'rm' && argv[1] === '-f' && argv[2] === '--' && files.length > 0 && files.length <= BATCH && files.every(isArchivedWalName)) return { action: 'archive_delete', files };
  }
  if (argv.length === 5 && argv.slice(0, 4).join(' ') === 'mkdir -p -m 700' && argv[4] === context.archiveDirectory) return { action: 'archive_dir' };
  if (argv.length === 3 && argv[0] === 'rm' && argv[1] === '-f' && basename(argv[2]) === 'standby.signal') return { action: 'clear_standby_signal' };
  if (argv.length === 2 && argv[0] === 'touch' && basename(argv[1]) === 'standby.signal') return { action: 'standby_signal' };
  const systemctl = systemctlRequest(argv);
  if (systemctl !== null) return systemctl;
  switch (basename(argv[0])) {
    case 'pg_isready':
      return isreadyRequest(argv, context.serverAt);
    case 'pg_controldata':
      return argv.length === 3 && argv[1] === '-D' ? { action: 'controldata' } : null;
    case 'pg_ctl': {
      const op = argv[argv.length - 1];
      const wait = numberAfter(argv, '-t') ?? 60;
      if (op === 'promote') return { action: 'promote', wait_s: wait };
      if (op === 'start' || op === 'restart' || op === 'reload' || op === 'status') return { action: 'pg_ctl', op, wait_s: wait };
      return null;
    }
    default:
      return null;
  }
}

/** restart_systemd's argv ([sudo -n] systemctl <verb…> <unit>): the op whose argv it is. */
function systemctlRequest(argv: readonly string[]): CommandRequest | null {
  const useSudo = argv[0] === 'sudo' && argv[1] === '-n';
  const systemctl = argv[useSudo ? 2 : 0];
  const unit = argv[argv.length - 1];
  if (systemctl === undefined || unit === undefined || basename(systemctl) !== 'systemctl') return null;
  const op = CONTROL_ACTIONS.find((candidate) => systemctlArgv(candidate, unit, useSudo, systemctl).join('\0') === argv.join('\0'));
  return op === undefined ? null : { action: 'systemctl', op };
}

/** The node's values the argv was built with (see expectSchema). */
function expectationsOf(argv: readonly string[], request: CommandRequest): Expectations {
  const after = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const dirOf = (path: string | undefined): string | undefined => (path === undefined ? undefined : path.slice(0, path.lastIndexOf('/')));
  const defined = (e: Expectations): Expectations => Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined)) as Expectations;
  switch (request.action) {
    case 'pg_ctl':
      if (argv[2] === STOP_AND_WAIT_SCRIPT || argv[2] === PG_STATUS_SCRIPT) return defined({ pg_ctl_dir: argv[5], pgdata: argv[6] });
      if (argv[2] === KILL_INSTANCE_SCRIPT) return defined({ pgdata: argv[4] });
      return defined({ pg_ctl_dir: after('-D') });
    case 'promote':
      return defined({ pg_ctl_dir: after('-D') });
    case 'controldata':
      return defined({ pgdata: after('-D') });
    case 'isready': {
      const port = Number(after('-p'));
      return defined({ host: after('-h'), port: Number.isInteger(port) ? port : undefined });
    }
    case 'inspect_folder':
      return defined({ pgdata: argv[4] });
    case 'clear_standby_signal':
    case 'standby_signal':
    case 'set_upstream':
      return defined({ pgdata: dirOf(argv[argv.length - 1]) });
    default:
      return {};
  }
}

/** The server a primary_conninfo line points at (hostnames are validated names or addresses, ports digits). */
function upstreamOf(settings: string, serverAt: IdentifyContext['serverAt']): string | null {
  // Inside the quoted setting each conninfo value is itself quoted ('' … ''): host=''10.0.0.1''.
  const host = /\bhost=(?:'')?([A-Za-z0-9.:-]+)/.exec(settings)?.[1];
  const port = /\bport=(?:'')?(\d{1,5})/.exec(settings)?.[1];
  return host === undefined || port === undefined ? null : serverAt(host, Number(port));
}

/** A pg_isready probe (vantage reports) names its target by host and port; the record names the server. */
function isreadyRequest(argv: readonly string[], serverAt: (host: string, port: number) => string | null): CommandRequest | null {
  if (basename(argv[0]) !== 'pg_isready') return null;
  const hostIndex = argv.indexOf('-h');
  const host = hostIndex >= 0 ? argv[hostIndex + 1] : undefined;
  const port = numberAfter(argv, '-p');
  const timeout = numberAfter(argv, '-t');
  if (host === undefined || port === null || timeout === null) return null;
  const server = serverAt(host, port);
  return server === null ? null : { action: 'isready', server, timeout_s: Math.max(1, timeout) };
}
