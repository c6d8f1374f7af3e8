/**
 * The one table of operations. Each entry names a HandyRep API function, its parameters (one zod
 * schema: types, defaults, validation, docs), its access level and whether the web API exposes
 * it. The library validates its arguments through it; the daemon's routes, the CLI and the API
 * docs are generated from it.
 */
import { z } from 'zod';
import { nameSchema, pathSchema } from '../config/validators.js';
import { HandyRepError } from '../model/errors.js';

export type Access = 'read' | 'admin';

export interface OperationSpec {
  readonly name: string;
  readonly summary: string;
  readonly access: Access;
  /** Exposed over HTTP (seed 004 marks a few functions as library-only). */
  readonly web: boolean;
  /** Parameter names in the library's positional order. */
  readonly positional: readonly string[];
  readonly params: z.ZodObject;
  /**
   * Called without parameters, it answers from server and cluster state alone (no node is
   * touched, no configuration read), so an answer stays valid while HandyRep.stateRevision()
   * does not change: the daemon serves it again instead of recomputing it.
   */
  readonly stateOnly?: true;
  /**
   * Parameters only the controller's own command line or the library may give; the web API
   * refuses them (403) because they would let a caller choose what runs (web-guard.ts).
   */
  readonly localOnly?: readonly string[];
  /**
   * The parameter holding server settings: over the web, settings the schema marks
   * configuration-file-only (what runs where) are refused with 403 naming the key.
   */
  readonly serverSettings?: string;
}

const servername = nameSchema.describe('Name of the server.');
const verify = z.boolean().default(false).describe('Verify before answering instead of using cached status.');
const serverprops = z
  .record(z.string(), z.unknown())
  .describe('Server settings to set: hostname, role, port, pgdata, failover_priority, ... (over the web, not the settings marked "configuration file only" in docs/configuration.md).');

type NoParams = Record<never, never>;

/** An operation entry that keeps its name and parameter shape in its type (OperationParams). */
function op<const N extends string, S extends z.ZodRawShape = NoParams>(
  spec: Omit<OperationSpec, 'params' | 'positional' | 'name'> & { name: N; params?: S },
): OperationSpec & { readonly name: N; readonly params: z.ZodObject<S, z.core.$strict> } {
  const shape = (spec.params ?? {}) as S;
  return { ...spec, positional: Object.keys(shape), params: z.object(shape).strict() };
}

export const OPERATIONS = [
  op({ name: 'get_status', summary: 'Status of the cluster and of every server.', access: 'read', web: true, stateOnly: true,
    params: { check_type: z.enum(['cached', 'poll', 'verify']).default('cached').describe('cached, poll or verify first.') } }),
  op({ name: 'get_cluster_status', summary: 'Status of the cluster only.', access: 'read', web: true, stateOnly: true, params: { verify } }),
  op({ name: 'get_master_name', summary: 'Name of the current enabled master, or null.', access: 'read', web: true, stateOnly: true }),
  op({ name: 'get_server_info', summary: 'Full definition and status of one server or of all.', access: 'read', web: true,
    params: { servername: servername.nullable().default(null).describe('The server; null for all servers.'), verify } }),
  op({ name: 'get_servers_by_role', summary: 'Enabled servers of one role.', access: 'read', web: true,
    params: { serverrole: nameSchema.default('replica').describe('Role: master, replica, ...'), verify } }),
  op({ name: 'read_log', summary: 'The newest log entries, newest first.', access: 'read', web: true,
    params: { numlines: z.number().int().min(1).max(100000).default(20).describe('How many entries.') } }),
  op({ name: 'get_setting', summary: 'One configuration setting (never a password).', access: 'read', web: true,
    params: {
      setting_name: z
        .union([nameSchema, z.array(nameSchema).min(1).max(4)])
        .describe('A key of the handyrep section, or the full path as a list.'),
    } }),
  op({ name: 'set_verbose', summary: 'Turn verbose logging on or off.', access: 'admin', web: true,
    params: { verbose: z.boolean().default(true).describe('Log informational entries.') } }),
  op({ name: 'poll', summary: 'Poll one server.', access: 'admin', web: true, params: { servername } }),
  op({ name: 'poll_master', summary: 'Poll the current master.', access: 'admin', web: true }),
  op({ name: 'poll_all', summary: 'Poll every enabled master and replica in parallel.', access: 'admin', web: true }),
  op({ name: 'verify_master', summary: 'Fully verify the master.', access: 'admin', web: false }),
  op({ name: 'verify_replica', summary: 'Fully verify one replica.', access: 'admin', web: false,
    params: { replicaserver: servername } }),
  op({ name: 'verify_server', summary: 'Fully verify one server by its role.', access: 'admin', web: true, params: { servername } }),
  op({ name: 'verify_all', summary: 'Fully verify every enabled server.', access: 'admin', web: true }),
  op({ name: 'init_handyrep_db', summary: 'Create the handyrep schema and table on the master.', access: 'admin', web: true }),
  op({ name: 'reload_conf', summary: 'Re-read the configuration file (over the web: always the file the daemon was started with).', access: 'admin', web: true,
    localOnly: ['config_file'],
    params: { config_file: pathSchema.nullable().default(null).describe('Another configuration file; default the current one. Command line on the controller only: the web API refuses it.') } }),
  op({ name: 'shutdown', summary: 'Stop PostgreSQL on a server and confirm it is down.', access: 'admin', web: true, params: { servername } }),
  op({ name: 'startup', summary: 'Start PostgreSQL on a server and confirm it is up.', access: 'admin', web: true, params: { servername } }),
  op({ name: 'restart', summary: 'Restart PostgreSQL on a server and confirm it is up.', access: 'admin', web: true, params: { servername } }),
  op({ name: 'add_server', summary: 'Add a server definition (added disabled).', access: 'admin', web: true, serverSettings: 'serverprops',
    params: { servername, serverprops } }),
  op({ name: 'alter_server_def', summary: 'Change settings of a server.', access: 'admin', web: true, serverSettings: 'serverprops',
    params: { servername, serverprops } }),
  op({ name: 'enable', summary: 'Enable a server and verify it.', access: 'admin', web: true, params: { servername } }),
  op({ name: 'disable', summary: 'Disable a server (it is shut down and no longer checked).', access: 'admin', web: true,
    params: { servername } }),
  op({ name: 'remove', summary: 'Delete the definition of a disabled server.', access: 'admin', web: true, params: { servername } }),
  op({ name: 'manual_failover', summary: 'Fail over to a new master: a lossless switchover when the master is healthy, a failover when it is not.',
    access: 'admin', web: true,
    params: {
      newmaster: nameSchema.nullable().default(null).describe('Target replica; null = the selection plugin chooses.'),
      remaster: z.boolean().nullable().default(null).describe('Point the other replicas at the new master; null = failover.remaster.'),
      dry_run: z.boolean().default(false).describe('Only return the plan and the reasons, do nothing.'),
    } }),
  op({ name: 'promote', summary: 'Promote one replica (refused while the master runs; the old master is fenced; under synchronous_mode on/strict only a recorded synchronous member sure to hold every acknowledged commit, judged again after the fence).', access: 'admin', web: true,
    params: { newmaster: servername } }),
  op({ name: 'restart_master', summary: 'Restart the master (or the named old master).', access: 'admin', web: true,
    params: { whichmaster: nameSchema.nullable().default(null).describe('Server to restart; null = the current master.') } }),
  op({ name: 'remaster', summary: 'Point a replica at the master (or another server).', access: 'admin', web: true,
    params: { replicaserver: servername, newmaster: nameSchema.nullable().default(null).describe('Upstream; null = the current master.') } }),
  op({ name: 'rejoin', summary: 'Rewind a fenced old master with pg_rewind and start it as a replica.', access: 'admin', web: true,
    params: { servername } }),
  op({ name: 'pause', summary: 'Pause automatic failover (maintenance): checks and statuses go on; nothing fails over, restarts or is fenced automatically until resume. Persists across controller restarts.',
    access: 'admin', web: true,
    params: {
      by: z.string().regex(/^[\w.@+-]{1,100}$/, 'must be 1-100 letters, digits, "_", ".", "@", "+" or "-" (a user name)').nullable().default(null).describe('Who pauses (shown in get_status).'),
      reason: z.string().trim().min(1).max(500).regex(/^[^\p{Cc}]*$/u, 'must be one line of text').nullable().default(null).describe('Why (shown in get_status).'),
    } }),
  op({ name: 'resume', summary: 'Resume automatic failover after pause.', access: 'admin', web: true }),
  op({ name: 'get_controller_history', summary: 'Leadership changes of the controllers (etcd_lease: who led from when, why a term ended), newest first.', access: 'read', web: true,
    params: { numentries: z.number().int().min(1).max(200).default(20).describe('How many entries.') } }),
  op({ name: 'get_agents', summary: "What each node's agent reports in its member record in etcd: role, PostgreSQL, boot step, timeline, WAL positions and lag, whether it sees the master, versions; a server without a record, a stale record and a record under an unknown name are flagged (deployments with etcd).", access: 'read', web: true }),
  op({ name: 'failover_history', summary: 'The newest failovers, switchovers and promotions, newest first.', access: 'read', web: true,
    params: { numentries: z.number().int().min(1).max(200).default(20).describe('How many entries.') } }),
  op({ name: 'clone', summary: 'Clone (or reclone) a replica from the master or another server; it streams from the current master and is enabled.',
    access: 'admin', web: true,
    params: {
      replicaserver: servername,
      reclone: z.boolean().default(false).describe('Clone over a server that runs or has a data folder (it is stopped and its data replaced).'),
      clonefrom: nameSchema.nullable().default(null).describe('Server to copy from; null = the master.'),
      keep_old_data: z.boolean().nullable().default(null).describe('Rename the old data folder to <pgdata>.diverged-<time> instead of deleting it; null = only for a fenced old master.'),
      wait: z.boolean().default(true).describe('Answer when the clone has finished; false = as soon as it has started.'),
    } }),
  op({ name: 'cancel_clone', summary: 'Cancel a running clone; the target is left disabled.', access: 'admin', web: true, params: { servername } }),
  op({ name: 'start_archiving', summary: 'Push the archive script and remove the no-archiving flag (master first, then the other servers).', access: 'admin', web: true }),
  op({ name: 'stop_archiving', summary: 'Create the no-archiving flag file on the master and the other servers.', access: 'admin', web: true }),
  op({ name: 'poll_archiving', summary: 'State of WAL archiving on the master (pg_stat_archiver, backlog).', access: 'admin', web: true }),
  op({ name: 'cleanup_archive', summary: 'Delete expired archived WAL that no replica and not the latest base backup needs.', access: 'admin', web: true,
    params: { dry_run: z.boolean().default(false).describe('Only report what would be deleted.') } }),
  op({ name: 'connection_failover', summary: 'Point every connection proxy (pgbouncer servers) at the current master.', access: 'admin', web: true,
    params: { newmaster: nameSchema.nullable().default(null).describe('The master to route to; must be the current master; null = the current master.') } }),
  op({ name: 'connection_proxy_init', summary: 'Set up every connection proxy for the current master and check a session through each.', access: 'admin', web: true }),
  op({ name: 'validate_server_settings', summary: 'Check a server definition: settings, control channel, database login.',
    access: 'admin', web: true, serverSettings: 'serverdict',
    params: { servername, serverdict: serverprops.nullable().default(null).describe('Settings to try instead of the stored ones.') } }),
] as const satisfies readonly OperationSpec[];

export type OperationName = (typeof OPERATIONS)[number]['name'];

/** The validated parameters of an operation, defaults applied: what its implementation receives. */
export type OperationParams<N extends OperationName> = z.output<Extract<(typeof OPERATIONS)[number], { name: N }>['params']>;

/** The parameters a caller gives: optional where the schema has a default. */
export type OperationInput<N extends OperationName> = z.input<Extract<(typeof OPERATIONS)[number], { name: N }>['params']>;

const BY_NAME: ReadonlyMap<string, OperationSpec> = new Map(OPERATIONS.map((o) => [o.name, o]));

export function findOperation(name: string): OperationSpec | undefined {
  return BY_NAME.get(name);
}

/** Validate named parameters of an operation; every problem is named in one error. */
export function parseParams<N extends OperationName>(name: N, values: Readonly<Record<string, unknown>>): OperationParams<N> {
  const spec = BY_NAME.get(name);
  if (!spec) throw new HandyRepError('UNKNOWN_FUNCTION', `no API function named "${name}"`);
  const defined = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
  const parsed = spec.params.safeParse(defined);
  // The map lost the entry's own type; the schema it parsed with is that of `name`.
  if (parsed.success) return parsed.data as OperationParams<N>;
  const problems = parsed.error.issues.map((i) => {
    const key = i.path.length > 0 ? i.path.join('.') : '(parameters)';
    return `${key}: ${i.message}`;
  });
  const error = new HandyRepError('INVALID_PARAMETER', `${name}: ${problems.join('; ')}`);
  throw Object.assign(error, { parameter: parsed.error.issues[0]?.path[0] ?? null });
}

/** Map positional library arguments to named parameters. */
export function positionalParams(name: OperationName, args: readonly unknown[]): Record<string, unknown> {
  const spec = BY_NAME.get(name);
  if (!spec) throw new HandyRepError('UNKNOWN_FUNCTION', `no API function named "${name}"`);
  if (args.length > spec.positional.length) {
    throw new HandyRepError('INVALID_PARAMETER', `${name}: takes at most ${spec.positional.length} argument(s), got ${args.length}`);
  }
  return parseParams(name, Object.fromEntries(spec.positional.map((p, i) => [p, args[i]])));
}
