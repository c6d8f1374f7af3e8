/**
 * The one schema of handyrep.yaml. It gives the TypeScript types, the defaults, the validation
 * (every problem reported with its key path) and the generated reference in
 * docs/configuration.md (`npm run gen:config-reference`; CI fails when it drifts).
 *
 * Sections and keys follow the original HandyRep (reference §5.2), modernised for PostgreSQL 12+
 * (no recovery.conf) and with units in the names of keys that are new.
 */
import { checkLeaderUrl } from '../runtime/leadership/leader-url.js';
import { z } from 'zod';
import { PASSWORD_METHODS, SSL_MODES } from '../nodes/pg-tls.js';
import {
  absolutePathSchema,
  argvSchema,
  hostnameSchema,
  nameSchema,
  pathSchema,
  etcdEndpointSchema,
  etcdPrefixSchema,
  secondsSchema,
  sqlIdentifierSchema,
} from './validators.js';
import { configOnly, pluginName, secret } from './setting-marks.js';

/** Roles HandyRep polls and verifies; any other role name is kept but never checked. */
export const KNOWN_ROLES = ['master', 'replica', 'proxy', 'pgbouncer', 'archive'] as const;

const roleSchema = nameSchema.describe(
  'Role of the server: master, replica, proxy, pgbouncer, archive, or a user-defined role (not polled).',
);

/**
 * Settings every server has. `server_defaults` gives them all a value; each entry of `servers`
 * may override any of them.
 */
export const serverSettingsShape = {
  port: z.number().int().min(1).max(65535).default(5432).describe('PostgreSQL port.'),
  pgdata: pathSchema.default('/var/lib/postgresql/15/main').describe('Data directory of the PostgreSQL instance.'),
  pgconf: pathSchema
    .nullable()
    .default(null)
    .describe('Directory passed to `pg_ctl -D` when the configuration lives outside the data directory (Debian layout); null = pgdata.'),
  pg_bin_dir: configOnly(pathSchema)
    .default('/usr/lib/postgresql/15/bin')
    .describe('Folder of the PostgreSQL server binaries (pg_ctl, pg_rewind, pg_basebackup) on the node.'),
  control_method: configOnly(z.enum(['ssh', 'local', 'agent']))
    .default('ssh')
    .describe('How commands reach the node: `ssh` (the ssh_* settings), `local` (the controller runs on the node) or `agent` (the node\'s `handyrep agent` runs them, sent through etcd; needs handyrep.store etcd; no ssh).'),
  ssh_user: configOnly(nameSchema).default('postgres').describe('User HandyRep logs in as over SSH; commands run as this user.'),
  ssh_port: z.number().int().min(1).max(65535).default(22).describe('SSH port of the node.'),
  // A path, not the key itself: not secret (the file stays on the controller), but it chooses
  // which identity HandyRep logs in with, so configuration file only.
  ssh_key: configOnly(pathSchema)
    .default('~/.ssh/id_ed25519')
    .describe('Private key for SSH (relative paths are relative to the configuration file).'),
  local_user: configOnly(nameSchema)
    .default('postgres')
    .describe('OS user local commands run as when control_method is `local` (PostgreSQL refuses to run as root).'),
  restart_method: pluginName(nameSchema, 'restart').default('restart_pg_ctl').describe('Restart plugin: restart_pg_ctl or restart_systemd.'),
  promotion_method: pluginName(nameSchema, 'promote').default('promote_sql').describe('Promotion plugin.'),
  clone_method: pluginName(nameSchema, 'clone').default('clone_basebackup').describe('Clone plugin.'),
  lag_limit: z
    .number()
    .nonnegative()
    .default(100)
    .describe('Replication lag, in MB of WAL not yet replayed, above which a replica is "lagged".'),
  lag_limit_seconds: z
    .number()
    .positive()
    .nullable()
    .default(null)
    .describe('Replay delay in seconds above which a replica is "lagged"; null = only lag_limit counts.'),
  failover_priority: z
    .number()
    .int()
    .min(0)
    .default(999)
    .describe('Failover preference: lower is preferred; 0 means never fail over to this server.'),
  nofailover: z.boolean().default(false).describe('Never fail over to this server.'),
  sslmode: z
    .enum(SSL_MODES)
    .default('prefer')
    .describe(
      'TLS for connections to this server, as libpq\'s sslmode: `disable`, `prefer` (TLS when the server offers it, unverified), `require` (TLS, unverified), `verify-ca` (certificate signed by sslrootcert), `verify-full` (and issued for the hostname: use this in production). Used by HandyRep\'s own connections and written into the primary_conninfo of replicas of this server.',
    ),
  sslrootcert: absolutePathSchema
    .nullable()
    .default(null)
    .describe('CA certificate (PEM, absolute path) verifying this server for verify-ca/verify-full; null = the system CAs for HandyRep. Also written into replicas\' primary_conninfo, so it must exist at the same path on the nodes.'),
  sslcert: absolutePathSchema.nullable().default(null).describe('Client certificate (PEM, absolute path on the controller) HandyRep presents to this server; null = none.'),
  sslkey: absolutePathSchema.nullable().default(null).describe('Private key (PEM, absolute path on the controller) of sslcert.'),
} as const;

const serverDefaultsSchema = z.object(serverSettingsShape).strict();

type WithoutDefault<S> = S extends z.ZodDefault<infer Inner> ? Inner : S;

/** The same settings, each optional and without its default: a per-server override. */
function overridable<T extends Record<string, z.ZodType>>(shape: T): { [K in keyof T]: z.ZodOptional<WithoutDefault<T[K]>> } {
  const out: Record<string, z.ZodType> = {};
  for (const [key, schema] of Object.entries(shape)) out[key] = unwrapDefault(schema).optional();
  return out as { [K in keyof T]: z.ZodOptional<WithoutDefault<T[K]>> };
}

/** A per-server entry: hostname is required, every server setting may be overridden. */
export const serverEntrySchema = z
  .object({
    hostname: hostnameSchema.describe('Hostname or IP address of the server (required).'),
    role: roleSchema.default('replica'),
    enabled: z.boolean().default(true).describe('Disabled servers are neither polled nor failed over to.'),
    ...overridable(serverSettingsShape),
  })
  .strict();

/** Who elects a new master (config `handyrep.deployment`, design §9 "Deployments"). */
export const DEPLOYMENTS = ['single', 'ha', 'agents'] as const;
export type Deployment = (typeof DEPLOYMENTS)[number];

/** How a controller knows it is the one that acts (config `handyrep.master_check_method`). */
export const MASTER_CHECK_METHODS = ['etcd_lease', 'database_table', 'none'] as const;
export type MasterCheckMethod = (typeof MASTER_CHECK_METHODS)[number];

const handyrepSectionSchema = z
  .object({
    cluster_name: nameSchema.default('handyrep').describe('Label of the cluster, used in logs and alerts.'),
    override_server_file: z
      .boolean()
      .default(false)
      .describe('Take the servers from this file at start, ignoring servers.save and the handyrep table.'),
    server_file: pathSchema
      .default('servers.save')
      .describe('JSON file of server state (relative to the configuration file).'),
    authentication_method: pluginName(nameSchema, 'auth').default('zero_auth').describe('Authentication plugin of the web API.'),
    store: configOnly(z.enum(['local', 'etcd']))
      .default('local')
      .describe('Where the cluster state lives: `local` (servers.save and the handyrep table) or `etcd` (the `etcd` section: state, journal and leadership in etcd, several controllers, one acts).'),
    deployment: configOnly(z.enum(DEPLOYMENTS))
      .default('single')
      .describe(
        'Who elects a new master when the master\'s node is lost (design §9). `single` and `ha`: a controller does; in `ha` the node agents also elect when no controller has held `leader` for etcd.ttl. `agents`: the node agents always elect among themselves (a controller, if any, serves the API and dashboard). Agent elections need the `etcd` section; see docs/node-agent.md, "Election without a controller".',
      ),
    master_check_method: configOnly(
      z.enum(MASTER_CHECK_METHODS, {
        error: (issue) =>
          issue.input === 'one_hr_master'
            ? 'one_hr_master was renamed database_table (the heartbeat row in the handyrep table)'
            : `must be one of ${MASTER_CHECK_METHODS.join(', ')}`,
      }),
    )
      .nullable()
      .default(null)
      .describe(
        'How this controller knows it is the one that acts (the original HandyRep\'s check_handyrep_master); null = etcd_lease with handyrep.store etcd, database_table with the local store. etcd_lease: every controller campaigns for the `leader` key in etcd; only the holder of the lease monitors and acts, every state write is guarded by its term, and leadership is checked again right before each promotion, stop, rewind or ALTER SYSTEM (needs handyrep.store etcd). database_table: a heartbeat row in the handyrep table on the master; a controller that sees a fresh heartbeat of another started earlier refuses every topology change and names it. none: no check (only one controller may ever run against the cluster; the state lock guards one host only).',
      ),
    master_check_parameters: configOnly(secret(z.array(z.string()))).default([]).describe('Parameters passed to master_check_method.'),
    log_verbose: z.boolean().default(false).describe('Log informational entries too, not only warnings and errors.'),
    log_file: pathSchema
      .default('handyrep.log')
      .describe('Log file (JSON lines), relative to the configuration file; `stdout` logs to standard output.'),
    log_tail_lines: z
      .number()
      .int()
      .min(10)
      .max(100000)
      .default(1000)
      .describe('How many recent log entries read_log keeps in memory.'),
    handyrep_db: nameSchema.default('postgres').describe('Database HandyRep connects to and keeps its table in.'),
    handyrep_schema: sqlIdentifierSchema.default('handyrep').describe('Schema of the handyrep table.'),
    handyrep_table: sqlIdentifierSchema.default('handyrep').describe('Name of the handyrep state table.'),
    handyrep_user: nameSchema.default('handyrep').describe('Database user of HandyRep (a superuser).'),
    postgres_superuser: nameSchema.default('postgres').describe('OS user that owns PostgreSQL on the nodes.'),
    replication_user: nameSchema.default('replicator').describe('Database user replicas stream as.'),
    templates_dir: pathSchema.default('templates').describe('Folder of templates (relative to the configuration file).'),
    test_ssh_command: configOnly(argvSchema)
      .default(['true'])
      .describe('Command (argv) run on a node to test the control channel.'),
    push_alert_method: pluginName(nameSchema, 'alert').nullable().default(null).describe('Alert plugin for WARNING and CRITICAL events: push_alert_command, push_alert_webhook or push_alert_email; null = alerts only in the log.'),
    plugin_dirs: configOnly(z.array(pathSchema))
      .default([])
      .describe('Folders of user plugins (.js/.mjs files), relative to the configuration file.'),
    connect_timeout_seconds: secondsSchema
      .default(3)
      .describe('Timeout for a database or SSH connection; a poll of an unreachable server takes this long.'),
    statement_timeout_seconds: secondsSchema.default(10).describe('Timeout for any SQL statement HandyRep runs.'),
    command_timeout_seconds: secondsSchema
      .default(60)
      .describe('Default timeout for a command run on a node (start, stop, status ...).'),
    allowed_password_methods: z
      .array(z.enum(PASSWORD_METHODS))
      .min(1, 'name at least one method (scram-sha-256 is the safe one)')
      .default(['scram-sha-256'])
      .describe(
        'Password authentication HandyRep answers when a server asks for a password: `scram-sha-256` only by default; `md5` (a replayable hash) and `password` (cleartext) only when listed. A server asking for another is refused with an error naming its method. Trust, peer and certificate authentication ask for no password and are unaffected.',
      ),
    ssh_host_key_checking: z
      .enum(['strict', 'accept-new', 'off'])
      .default('accept-new')
      .describe('`strict`: host keys must be in ssh_known_hosts; `accept-new`: record unknown hosts, refuse changed keys; `off`: accept any key.'),
    ssh_known_hosts: pathSchema
      .default('known_hosts')
      .describe('known_hosts file HandyRep reads and records host keys in (relative to the configuration file).'),
  })
  .strict();

const passwordsSchema = secret(z
  .object({
    superuser_pass: z.string().default('').describe('Password of postgres_superuser, if needed.'),
    admin_password: z.string().default('').describe('Web API password for every function (simple_password_auth).'),
    read_password: z.string().default('').describe('Web API password for read-only functions (simple_password_auth).'),
    handyrep_db_pass: z.string().default('').describe('Password of handyrep_user.'),
    etcd_password: z.string().default('').describe('Password of etcd.user (etcd authentication).'),
    replication_pass: z
      .string()
      .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), 'must not contain control characters (line breaks, tabs ...): it is written into postgresql.auto.conf')
      .default('')
      .describe('Password of replication_user (written into primary_conninfo; no control characters).'),
  })
  .catchall(z.string()))
  .describe('Passwords: never logged, never returned by the API, never stored in the handyrep table.');

const failoverSchema = z
  .object({
    auto_failover: z.boolean().default(false).describe('Fail over automatically when the master is really gone.'),
    poll_method: pluginName(nameSchema, 'poll').default('poll_connect').describe('Poll plugin: poll_connect or poll_isready.'),
    poll_interval: secondsSchema.default(10).describe('Seconds between polls of the master (fractions allowed).'),
    verify_interval: secondsSchema.default(300).describe('Seconds between full verifications of every server.'),
    fail_retries: z.number().int().min(1).default(3).describe('Failed polls in a row before the master counts as failed.'),
    fail_retry_interval: secondsSchema.default(1).describe('Seconds between those retries (fractions allowed).'),
    recovery_retries: z.number().int().min(1).default(6).describe('Checks after a restart or promotion before giving up.'),
    selection_method: pluginName(nameSchema, 'select')
      .default('select_replica_furthest_ahead')
      .describe('Replica selection plugin: select_replica_furthest_ahead or select_replica_priority.'),
    max_replay_lag: z
      .number()
      .nonnegative()
      .default(16)
      .describe('MB of received but not replayed WAL above which a replica is no failover candidate.'),
    remaster: z.boolean().default(true).describe('Point the other replicas at the new master after a failover.'),
    restart_master: z.boolean().default(false).describe('Try to restart a failed master before failing over.'),
    connection_failover_method: pluginName(nameSchema, 'connection')
      .nullable()
      .default(null)
      .describe('Connection failover plugin: multi_pgbouncer (repoints every server of role pgbouncer at the new master); null = none.'),
    poll_connection_proxy: z.boolean().default(false).describe('Poll the connection proxies (through the connection failover plugin) in every full verification.'),
    replication_status_method: pluginName(nameSchema, 'replication_status')
      .default('replication_status_lag')
      .describe('Replication status plugin (streaming state, lag in bytes and seconds).'),
    replica_sees_master_seconds: secondsSchema
      .default(3)
      .describe('A replica whose WAL receiver heard from the master this recently still sees it: no failover.'),
    refusal_reminder_minutes: z
      .number()
      .min(1, 'must be at least 1 minute: a shorter reminder alerts nearly every check again')
      .max(1440, 'must be at most 1440 (a day): a longer silence could hide a cluster without a master')
      .default(10)
      .describe(
        'A refused automatic failover that repeats unchanged (no candidate, or a second master would result) is recorded and alerted once, then again as a reminder this often (minutes, fractions allowed) while it lasts; any change to it is recorded at once.',
      ),
    promote_timeout_seconds: secondsSchema.default(30).describe('How long a promotion may take before it counts as failed.'),
    switchover_timeout_seconds: secondsSchema
      .default(30)
      .describe('How long a planned switchover waits for the target to replay the old master\'s final WAL.'),
    auto_rejoin: z
      .boolean()
      .default(false)
      .describe('Rewind a fenced old master with pg_rewind and start it as a replica of the new master.'),
    unreachable_master: z
      .enum(['refuse', 'promote', 'agent_lease'])
      .default('refuse')
      .describe(
        'A failed master that cannot be reached at all cannot be fenced by the controller. `refuse`: no failover (cluster warning, alert). `promote`: fail over after every connection proxy was repointed away from it (needs connection_failover_method); recorded as fence unconfirmed, cluster warning until it is confirmed stopped. `agent_lease` (needs handyrep.store etcd and a node agent on every database node): it counts as fenced once its agent\'s `master_lease` is gone from etcd — the agent stops its PostgreSQL before the lease can expire — provided this controller saw that agent hold the lease while the master was healthy; until then no failover. An agent killed without a watchdog leaves a hole: see docs/node-agent.md.',
      ),
    agent_vantage: z
      .boolean()
      .default(false)
      .describe(
        'Count the node agents\' own probes of the master (their `members/<node>` records in etcd) as vantage points besides the controller\'s probes from the replica hosts: an agent that sees the master holds the failover; one that does not see it, in a probe that started after the controller\'s first read (etcd revisions, no clocks), counts where the controller\'s probe could not run. Off by default: an agent probes the master\'s address from its own configuration, and any agent can write any member record (see docs/node-agent.md).',
      ),
    use_replication_slots: z
      .boolean()
      .default(false)
      .describe('Give each replica a physical replication slot on the new master when remastering.'),
    synchronous_mode: z
      .enum(['off', 'on', 'strict'])
      .default('off')
      .describe(
        'Synchronous replication managed by HandyRep (synchronous_standby_names on the master). `off`: asynchronous, not touched. `on`: the enabled failover-eligible replicas streaming within lag_limit are named; a failover promotes only a recorded member, so no acknowledged commit is lost; with none qualifying, replication drops to asynchronous (recorded first; the next failover may lose data and says so). `strict`: never drops to asynchronous: writes wait until a standby is back (availability trade-off). synchronous_commit stays the operator\'s. With handyrep.deployment agents the master\'s node agent keeps the set (same rules and record).',
      ),
    synchronous_node_count: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe('How many synchronous standbys acknowledge each commit (k of `ANY k (…)` / `FIRST k (…)`).'),
    synchronous_method: z
      .enum(['any', 'first'])
      .default('any')
      .describe(
        '`any`: quorum, `ANY k (every qualifying replica)`; a failover needs n−k+1 of the n recorded members reachable and promotes the furthest ahead. `first`: `FIRST k (the k best by failover_priority)`: every member holds every acknowledged commit.',
      ),
  })
  .strict();

const extraFailoverCommandSchema = z
  .object({
    command: pluginName(nameSchema, 'command').describe('Plugin to run after a failover.'),
    // Commands' arguments often carry API keys (curl -H "Authorization: …").
    parameters: configOnly(secret(z.array(z.string()))).default([]).describe('Parameters passed to the plugin after the new master\'s name.'),
  })
  .strict();

const archiveSchema = z
  .object({
    archiving: z.boolean().default(false).describe('Whether WAL archiving is managed by HandyRep.'),
    archive_script_method: pluginName(nameSchema, 'archive').nullable().default(null).describe('Archive script plugin.'),
    archive_delete_method: pluginName(nameSchema, 'archive_delete').nullable().default(null).describe('Archive cleanup plugin.'),
    archive_delete_hours: z.number().positive().default(48).describe('Age in hours after which archived WAL may be deleted.'),
    archive_directory: pathSchema
      .nullable()
      .default(null)
      .describe('Folder the archive script copies WAL into and restore_command reads from (required when archiving is on).'),
    archive_host: nameSchema
      .nullable()
      .default(null)
      .describe('Server (a name under servers, e.g. one with role `archive`) whose control channel reaches archive_directory, for cleanup; null = the master\'s (the folder is at the same path on every node).'),
    archive_script_path: configOnly(pathSchema)
      .default('/var/lib/postgresql/handyrep_archive.sh')
      .describe('Where the archive script is pushed on the database servers; archive_command must be `<this path> %p %f`.'),
    no_archive_file: pathSchema
      .default('/var/lib/postgresql/handyrep_noarchive')
      .describe('Flag file: while it exists on a server, its archive script exits 0 without archiving (stop_archiving creates it).'),
    archive_warn_seconds: secondsSchema
      .default(600)
      .describe('The master turns `warning` when a finished WAL segment has waited this long to be archived.'),
    set_restore_command: z
      .boolean()
      .default(true)
      .describe('Give replicas the archive plugin\'s restore_command (on clone and start_archiving).'),
  })
  .strict()
  .superRefine((archive, ctx) => {
    if (!archive.archiving) return;
    if (archive.archive_script_method === null) {
      ctx.addIssue({ code: 'custom', path: ['archive_script_method'], message: 'archiving is on: name the archive script plugin' });
    }
    if (archive.archive_directory === null) {
      ctx.addIssue({ code: 'custom', path: ['archive_directory'], message: 'archiving is on: set the archive folder' });
    }
  });

const etcdSchema = z
  .object({
    endpoints: configOnly(z.array(etcdEndpointSchema))
      .default([])
      .describe('etcd client URLs (`http://host:2379` or `https://host:2379`, all with the same scheme); required when handyrep.store is `etcd`.'),
    prefix: configOnly(etcdPrefixSchema)
      .nullable()
      .default(null)
      .describe('Key prefix of this cluster in etcd, starting and ending with `/`; null = `/handyrep/<cluster_name>/`.'),
    ca: configOnly(absolutePathSchema).nullable().default(null).describe('CA certificate (PEM, absolute path) verifying the etcd members; null = the system CAs (https endpoints only).'),
    cert: configOnly(absolutePathSchema).nullable().default(null).describe('Client certificate (PEM, absolute path) presented to etcd; needs key.'),
    key: configOnly(absolutePathSchema).nullable().default(null).describe('Private key (PEM, absolute path) of cert.'),
    user: configOnly(nameSchema)
      .nullable()
      .default(null)
      .describe('etcd user HandyRep authenticates as (its password is passwords.etcd_password); null = no authentication.'),
    forward_insecure: configOnly(z.boolean())
      .default(false)
      .describe('etcd_lease: a follower forwards a mutating call, with the caller\'s credentials, to a leader whose advertised URL is plain http (https ones are always forwarded). false = answer 503 naming the leader instead.'),
    ttl: z
      .number()
      .int('must be a whole number of seconds (an etcd lease TTL)')
      .min(2)
      .default(10)
      .describe('Seconds of the leader lease: a controller that cannot renew it within this time stops acting, and another may lead after it expires.'),
    retry_timeout: secondsSchema
      .default(10)
      .describe('Deadline in seconds of every etcd call; an etcd that does not answer within it counts as unreachable (no topology change).'),
  })
  .strict()
  .superRefine((etcd, ctx) => {
    const schemes = new Set(etcd.endpoints.map((url) => url.slice(0, url.indexOf(':'))));
    if (schemes.size > 1) ctx.addIssue({ code: 'custom', path: ['endpoints'], message: 'mixes http:// and https:// endpoints: use one scheme for all' });
    const tls = etcd.endpoints.length > 0 && schemes.has('https');
    for (const file of ['ca', 'cert', 'key'] as const) {
      if (etcd[file] !== null && etcd.endpoints.length > 0 && !tls) {
        ctx.addIssue({ code: 'custom', path: [file], message: 'is a TLS setting but the endpoints are http://: use https:// endpoints or remove it' });
      }
    }
    if (etcd.cert !== null && etcd.ca === null) {
      ctx.addIssue({ code: 'custom', path: ['ca'], message: 'a client certificate (cert) needs the CA (ca) that verifies the etcd members' });
    }
    if ((etcd.cert === null) !== (etcd.key === null)) {
      ctx.addIssue({ code: 'custom', path: [etcd.cert === null ? 'cert' : 'key'], message: 'cert and key go together: set both or neither' });
    }
  });

export const WATCHDOG_MODES = ['off', 'auto', 'required'] as const;

const agentSchema = z
  .object({
    node: configOnly(nameSchema)
      .nullable()
      .default(null)
      .describe('The server (a name under servers) this node agent looks after; null = given by `handyrep agent --node`.'),
    loop_wait: secondsSchema
      .default(1)
      .describe('Seconds between two rounds of the node agent: read the master key, probe PostgreSQL, renew its leases, publish its facts.'),
    safety_margin: secondsSchema
      .default(3)
      .describe('The master\'s agent makes its PostgreSQL not writable when no renewal of its master lease succeeded for etcd.ttl minus this many seconds.'),
    restart_on_crash: z
      .boolean()
      .default(false)
      .describe('Restart a recorded master whose postmaster died (crash, never a stop on purpose) once; when off or when that fails, release the master lease at once.'),
    watchdog: configOnly(z.enum(WATCHDOG_MODES))
      .default('off')
      .describe('Linux watchdog kept alive only while the master lease is fresh: `off`, `auto` (used when the device opens) or `required` (the agent refuses to run without it).'),
    watchdog_device: configOnly(absolutePathSchema).default('/dev/watchdog').describe('Watchdog device the agent writes to (absolute path).'),
    socket_dir: configOnly(absolutePathSchema)
      .default('/var/run/postgresql')
      .describe('Folder of the local PostgreSQL\'s unix socket; the agent connects through it as database user postgres.'),
    pg_log_file: configOnly(absolutePathSchema).nullable().default(null).describe('Log file passed to `pg_ctl start -l` when the agent starts PostgreSQL; null = none.'),
    listen_address: configOnly(hostnameSchema).nullable().default(null).describe('Address of the agent\'s health endpoints; null = the server\'s hostname.'),
    port: z.number().int().min(1).max(65535).default(8008).describe('Port of the agent\'s health endpoints (/primary, /replica, /health, /metrics).'),
    reclone: z
      .boolean()
      .default(false)
      .describe('At start, when pg_rewind cannot join this node to the recorded master: move the data folder aside (`<pgdata>.handyrep-old-<time>`, never deleted by the agent) and copy the master anew with the clone plugin. Off: the node stays stopped and the agent says why.'),
    bootstrap_node: configOnly(nameSchema)
      .nullable()
      .default(null)
      .describe('A new cluster: the server (a name under servers) whose agent creates it with initdb when no master is recorded, its data folder holds no data, and the cluster was never initialized (etcd key `initialized`, written once with the master key); the other agents clone it. null: no agent ever runs initdb. The same value in every agent\'s configuration.'),
    bootstrap_locale: configOnly(z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/))
      .default('C')
      .describe('initdb --locale when the agent bootstraps the cluster.'),
    bootstrap_encoding: configOnly(z.string().regex(/^[A-Za-z0-9_-]{1,32}$/))
      .default('UTF8')
      .describe('initdb --encoding when the agent bootstraps the cluster.'),
    bootstrap_data_checksums: z
      .boolean()
      .default(true)
      .describe('initdb --data-checksums when the agent bootstraps the cluster (pg_rewind needs checksums or wal_log_hints).'),
    tls_cert: configOnly(pathSchema)
      .nullable()
      .default(null)
      .describe('PEM certificate file: the health endpoints serve HTTPS (needs tls_key), as daemon.tls_cert; null = plain HTTP. Relative to the configuration file.'),
    tls_key: configOnly(pathSchema).nullable().default(null).describe('PEM private key file of agent.tls_cert. Relative to the configuration file.'),
    require_password: z
      .boolean()
      .default(false)
      .describe(
        'Every health endpoint asks for HTTP Basic credentials (passwords.read_password or admin_password; 401 otherwise). false = open, as Patroni\'s GET endpoints (HAProxy checks carry no credentials), but a request that carries wrong credentials still gets 401.',
      ),
  })
  .strict()
  .superRefine((agent, ctx) => tlsPairIssue(agent, ctx));

const daemonSchema = z
  .object({
    advertised_url: configOnly(
      z.string().refine((text) => checkLeaderUrl(text).ok, { error: (issue) => `not a usable API URL: ${(checkLeaderUrl(String(issue.input)) as { reason: string }).reason}` }),
    )
      .nullable()
      .default(null)
      .describe('The URL other controllers reach this daemon\'s API at (http or https, no user or password), published in the etcd `leader` key while it leads; followers name it in their replies and 503s. null = none.'),
    listen_address: hostnameSchema
      .default('127.0.0.1')
      .describe('Address the REST API listens on (`0.0.0.0` or `::` for every interface).'),
    listen_port: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .default(8080)
      .describe('TCP port of the REST API (the original used 5000); 0 picks a free port.'),
    tls_cert: pathSchema
      .nullable()
      .default(null)
      .describe('PEM certificate file: serve HTTPS (needs tls_key); null = plain HTTP. Relative to the configuration file.'),
    tls_key: pathSchema
      .nullable()
      .default(null)
      .describe('PEM private key file of tls_cert. Relative to the configuration file.'),
    auth_failure_delay_seconds: z
      .number()
      .nonnegative()
      .finite()
      .default(0.25)
      .describe('Delay before checking the next password from an address (IPv6: its /64) after a wrong one; doubles with each further wrong or in-flight password; 0 = no slow-down.'),
    auth_failure_delay_max_seconds: z
      .number()
      .nonnegative()
      .finite()
      .default(5)
      .describe('Cap of that delay; only a correct admin password resets it (the read password does not).'),
    auth_failures_per_address: z
      .number()
      .int()
      .nonnegative()
      .default(10)
      .describe('Wrong passwords (attempts in flight included) from one address (IPv6: one /64) within auth_failure_window_seconds; further attempts get 429 with Retry-After without being checked. 0 = no limit.'),
    auth_failures_total: z
      .number()
      .int()
      .nonnegative()
      .default(100)
      .describe('The same limit over all addresses together (guessing from many addresses); 0 = no limit.'),
    auth_failure_window_seconds: secondsSchema
      .default(60)
      .describe('Window in which wrong passwords are counted for the two limits above.'),
    max_unauthenticated_requests: z
      .number()
      .int()
      .nonnegative()
      .default(64)
      .describe('Requests waiting for their authentication decision at once (e.g. slowed down after wrong passwords); more get 429 at once. 0 = no limit.'),
    max_connections: z
      .number()
      .int()
      .positive()
      .default(256)
      .describe('Open client connections at most; further connections are closed as they arrive.'),
    header_timeout_seconds: secondsSchema
      .default(10)
      .describe('A client must send the complete request headers within this time of connecting or its connection is closed (slow clients).'),
    request_timeout_seconds: secondsSchema
      .default(30)
      .describe('A client must send the complete request, body included, within this time (at least header_timeout_seconds).'),
    keep_alive_timeout_seconds: secondsSchema
      .default(5)
      .describe('An idle keep-alive connection is closed after this time.'),
    allow_unauthenticated: z
      .boolean()
      .default(false)
      .describe('Allow an authentication plugin that lets anybody call admin functions (zero_auth); refused unless listen_address is loopback too.'),
    dashboard_session_idle_seconds: secondsSchema
      .default(1800)
      .describe('A dashboard login session ends after this long without a request (the browser must log in again).'),
  })
  .strict()
  .superRefine((daemon, ctx) => {
    if (daemon.header_timeout_seconds > daemon.request_timeout_seconds) {
      ctx.addIssue({ code: 'custom', path: ['header_timeout_seconds'], message: 'must not exceed request_timeout_seconds' });
    }
    tlsPairIssue(daemon, ctx);
  });

/** daemon and agent: an HTTPS listener needs both files. */
function tlsPairIssue(section: { tls_cert: string | null; tls_key: string | null }, ctx: z.RefinementCtx): void {
  if ((section.tls_cert === null) !== (section.tls_key === null)) {
    const missing = section.tls_cert === null ? 'tls_cert' : 'tls_key';
    ctx.addIssue({ code: 'custom', path: [missing], message: 'tls_cert and tls_key go together: set both or neither' });
  }
}

/** The whole of handyrep.yaml: unknown keys are errors, missing keys get their defaults. */
export const configSchema = z
  .object({
    handyrep: handyrepSectionSchema
      .default(() => handyrepSectionSchema.parse({}))
      .describe('General settings: names, files, plugins for authentication and alerts, timeouts, SSH host keys.'),
    passwords: passwordsSchema.default(() => passwordsSchema.parse({})),
    failover: failoverSchema
      .default(() => failoverSchema.parse({}))
      .describe('Polling, failure detection and failover.'),
    extra_failover_commands: z
      .record(nameSchema, extraFailoverCommandSchema)
      .default({})
      .describe('Plugins run after a successful failover, one entry per command.'),
    archive: archiveSchema.default(() => archiveSchema.parse({})).describe('WAL archiving managed by HandyRep.'),
    etcd: etcdSchema
      .default(() => etcdSchema.parse({}))
      .describe('The etcd cluster of handyrep.store `etcd`: endpoints, key prefix, TLS, user, lease ttl and call deadline.'),
    agent: agentSchema
      .default(() => agentSchema.parse({}))
      .describe('The node agent (`handyrep agent`, one per PostgreSQL node): loop, self-fencing margin, crash handling, watchdog, health endpoints.'),
    daemon: daemonSchema
      .default(() => daemonSchema.parse({}))
      .describe('The REST API daemon (`handyrep daemon`): address, port, TLS, limits on password guessing, connections and slow clients.'),
    server_defaults: serverDefaultsSchema
      .default(() => serverDefaultsSchema.parse({}))
      .describe('Settings of every server; any of them may be overridden in the server\'s own entry under servers.'),
    servers: z
      .record(nameSchema, serverEntrySchema)
      .default({})
      .describe('The servers of the cluster, one entry per server name; at most one enabled master.'),
    plugins: z
      // Free-form per plugin: keys are judged by name (tokens, headers, URLs), see setting-marks.ts.
      .record(nameSchema, secret(z.record(z.string(), z.unknown()), 'by-name'))
      .default({})
      .describe('Per-plugin settings, one mapping per plugin name.'),
  })
  .strict()
  .superRefine(
    (config, ctx) => {
      const masters = enabledMasterNames(config.servers);
      if (masters.length > 1) {
        ctx.addIssue({ code: 'custom', path: ['servers'], message: `more than one enabled master: ${masters.join(', ')}` });
      }
      for (const problem of etcdStoreProblems(config)) ctx.addIssue({ code: 'custom', ...problem });
    },
    // Run even when other keys are wrong, so one pass reports every problem; the servers are read
    // defensively because they may be only partly valid then.
    { when: (payload) => isPlainObject(payload.value) },
  );

/** A validated configuration, every default filled in. */
export type HandyRepConfig = z.output<typeof configSchema>;
/** What may be written in handyrep.yaml (keys with defaults are optional). */
export type HandyRepConfigInput = z.input<typeof configSchema>;
/** The per-server settings, all present (the `server_defaults` section). */
export type ServerSettings = z.output<typeof serverDefaultsSchema>;
/** One entry of `servers`: hostname, role, enabled and the settings it overrides. */
export type ServerEntry = z.output<typeof serverEntrySchema>;
export type HandyRepSection = HandyRepConfig['handyrep'];
export type FailoverSection = HandyRepConfig['failover'];
export type DaemonSection = HandyRepConfig['daemon'];

/** The leadership method in force: the configured one, or the default of the store. */
export function masterCheckMethod(config: Pick<HandyRepConfig, 'handyrep'>): MasterCheckMethod {
  return config.handyrep.master_check_method ?? (config.handyrep.store === 'etcd' ? 'etcd_lease' : 'database_table');
}
export type EtcdSection = HandyRepConfig['etcd'];
export type AgentSection = HandyRepConfig['agent'];

/** The names of the per-server settings, for validating add_server / alter_server_def properties. */
export const SERVER_SETTING_KEYS = Object.keys(serverSettingsShape) as (keyof ServerSettings)[];

/** Schema of one server setting value (without its default), for API parameter validation. */
export function serverSettingSchema(key: string): z.ZodType | undefined {
  if (key === 'hostname') return hostnameSchema;
  if (key === 'role') return roleSchema;
  if (key === 'enabled') return z.boolean();
  const shape: Record<string, z.ZodType> = serverSettingsShape;
  // Own keys only: "constructor" or "__proto__" would otherwise find the object's prototype.
  const schema = Object.hasOwn(shape, key) ? shape[key] : undefined;
  return schema ? unwrapDefault(schema) : undefined;
}

/** What an etcd store needs from the other sections (read defensively: they may be only partly valid). */
function etcdStoreProblems(config: Record<string, unknown>): { path: string[]; message: string }[] {
  const problems: { path: string[]; message: string }[] = [];
  const handyrep = isPlainObject(config['handyrep']) ? config['handyrep'] : {};
  const etcd = isPlainObject(config['etcd']) ? config['etcd'] : {};
  const passwords = isPlainObject(config['passwords']) ? config['passwords'] : {};
  if (handyrep['store'] === 'etcd' && (!Array.isArray(etcd['endpoints']) || etcd['endpoints'].length === 0)) {
    problems.push({ path: ['etcd', 'endpoints'], message: 'handyrep.store is etcd: list the etcd endpoints (e.g. [http://10.0.0.1:2379])' });
  }
  if (typeof etcd['user'] === 'string' && (typeof passwords['etcd_password'] !== 'string' || passwords['etcd_password'] === '')) {
    problems.push({ path: ['passwords', 'etcd_password'], message: `etcd.user is ${etcd['user']}: give its password here` });
  }
  const deployment = handyrep['deployment'];
  if ((deployment === 'ha' || deployment === 'agents') && (!Array.isArray(etcd['endpoints']) || etcd['endpoints'].length === 0)) {
    problems.push({ path: ['etcd', 'endpoints'], message: `handyrep.deployment is ${deployment}: the agents elect through etcd, list its endpoints` });
  }
  const failoverSection = isPlainObject(config['failover']) ? config['failover'] : {};
  if (deployment === 'agents' && failoverSection['auto_failover'] === true) {
    problems.push({ path: ['failover', 'auto_failover'], message: 'handyrep.deployment is agents: the agents elect the master, a controller must not fail over (set auto_failover false)' });
  }
  const method = handyrep['master_check_method'];
  if (method === 'etcd_lease' && handyrep['store'] !== 'etcd') {
    problems.push({ path: ['handyrep', 'master_check_method'], message: 'etcd_lease needs handyrep.store etcd (the leader key lives there)' });
  }
  const failover = isPlainObject(config['failover']) ? config['failover'] : {};
  if (failover['unreachable_master'] === 'agent_lease' && handyrep['store'] !== 'etcd') {
    problems.push({ path: ['failover', 'unreachable_master'], message: 'agent_lease needs handyrep.store etcd (the agents\' master leases live there)' });
  }
  for (const where of agentControlledServers(config)) {
    if (handyrep['store'] !== 'etcd') problems.push({ path: where, message: 'control_method agent needs handyrep.store etcd (the commands go through etcd to the node\'s agent)' });
  }
  const agent = isPlainObject(config['agent']) ? config['agent'] : {};
  if (agent['require_password'] === true && !(typeof passwords['read_password'] === 'string' && passwords['read_password'] !== '') && !(typeof passwords['admin_password'] === 'string' && passwords['admin_password'] !== '')) {
    problems.push({ path: ['agent', 'require_password'], message: 'the health endpoints would accept no password: set passwords.read_password (or admin_password)' });
  }
  if (handyrep['store'] === 'etcd' && (method === 'database_table' || method === 'none')) {
    problems.push({ path: ['handyrep', 'master_check_method'], message: `handyrep.store is etcd: its writes are guarded by the etcd leadership, so the method must be etcd_lease (or unset), not ${String(method)}` });
  }
  return problems;
}

/** Where `control_method: agent` is set (server_defaults or a server entry), read defensively. */
function agentControlledServers(config: Record<string, unknown>): string[][] {
  const found: string[][] = [];
  const defaults = config['server_defaults'];
  if (isPlainObject(defaults) && defaults['control_method'] === 'agent') found.push(['server_defaults', 'control_method']);
  const servers = config['servers'];
  if (isPlainObject(servers)) {
    for (const [name, entry] of Object.entries(servers)) {
      if (isPlainObject(entry) && entry['control_method'] === 'agent') found.push(['servers', name, 'control_method']);
    }
  }
  return found;
}

/** Names of the enabled masters in a `servers` mapping that may not have been validated yet. */
function enabledMasterNames(servers: unknown): string[] {
  if (!isPlainObject(servers)) return [];
  return Object.entries(servers)
    .filter(([, entry]) => isPlainObject(entry) && entry['role'] === 'master' && entry['enabled'] !== false)
    .map(([name]) => name);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unwrapDefault(schema: z.ZodType): z.ZodType {
  return schema instanceof z.ZodDefault ? (schema.unwrap() as z.ZodType) : schema;
}
