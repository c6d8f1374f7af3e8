/**
 * Start-up wiring: what HandyRep.open assembles before the instance exists (configuration, log,
 * plugin registry, state lock, saved state, the book and its persister, the controller identity)
 * in one place. Nothing else wires a second registry or context: the daemon authenticates with
 * the plugin and context of the HandyRep built from these (HandyRep.authBinding).
 */
import { agentsKeepSync } from '../runtime/sync/agents-sync.js';
import { SYNC_HISTORY_LIMIT } from '../model/sync-record.js';
import { resolve } from 'node:path';
import { loadConfigFile, type LoadedConfig } from '../config/load.js';
import { resolvePath } from '../config/merge.js';
import { secretStrings } from '../config/redact.js';
import { masterCheckMethod, type HandyRepConfig } from '../config/schema.js';
import { agentChannelOf } from '../runtime/leadership/agent-channel.js';
import { EtcdControl } from '../runtime/leadership/etcd-control.js';
import { createEtcdContext } from '../store/etcd/client.js';
import { EtcdClusterStore } from '../store/etcd/etcd-cluster-store.js';
import { EtcdLeadership } from '../store/etcd/leadership.js';
import { EventLog } from '../log/event-log.js';
import { LocalShell } from '../nodes/local-shell.js';
import { NodeShellPool } from '../nodes/node-shells.js';
import type { SqlClient } from '../nodes/ports.js';
import { MonitorSessions, type SessionLostListener } from '../nodes/monitor-sessions.js';
import { PgSqlClient } from '../nodes/sql-client.js';
import { PluginRegistry } from '../plugins/registry.js';
import { Persister } from '../runtime/persister.js';
import { ServerBook, type Clock } from '../runtime/server-book.js';
import { writeStateToMaster } from '../runtime/state-table-access.js';
import { loadInitialState, loadStoreState, type InitialState } from '../runtime/state-sync.js';
import { readAtStart } from './store-read-at-start.js';
import { loadControllerIdentity, type ControllerIdentity } from '../store/controller-identity.js';
import { StateLock } from '../store/state-lock.js';

export interface HandyRepOptions {
  /** Take the state-file lock (default true): a second HandyRep on the same state refuses to start. */
  lock?: boolean;
  clock?: Clock;
  /** How the runtime waits (retries, settling promotions): tests drive time with their own. */
  sleep?: (ms: number) => Promise<void>;
  sql?: SqlClient;
  /** Command execution on the nodes (ssh or local) and on the controller: fakes in runtime tests. */
  shells?: NodeShellPool;
  controllerShell?: LocalShell;
  /** Keep the log in memory only (tests of the library without a log file). */
  memoryLog?: boolean;
}

/** The configuration in force; reload_conf replaces it, the persister reads it at each write. */
export interface ConfigInForce {
  current: HandyRepConfig;
  path: string;
  dir: string;
}

export interface Wiring {
  config: ConfigInForce;
  log: EventLog;
  plugins: PluginRegistry;
  book: ServerBook;
  persister: Persister;
  shells: NodeShellPool;
  controllerShell: LocalShell;
  sql: SqlClient;
  lock: StateLock | null;
  serverFile: string;
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  identity: ControllerIdentity;
  /** One long-lived session per monitored server (polls, facts, state-table writes). */
  monitorSessions: MonitorSessions;
  /** Who is told when a monitoring session is dropped by the server (HandyRep wakes its monitor). */
  onSessionLost(listener: SessionLostListener): void;
  /** Where the servers came from, and what start-up noticed on the way. */
  initial: Pick<InitialState, 'source' | 'notes'>;
  /** etcd_lease: the store, leadership and master key of this controller; null otherwise. */
  etcd: EtcdControl | null;
}

/** The etcd client, leadership and store of a controller (nothing is contacted yet). */
function openEtcdControl(config: HandyRepConfig, controllerId: string, agentsKeepSync: () => boolean): EtcdControl {
  const ctx = createEtcdContext(config);
  // The deployment rides in the leader key: in `agents` the master's agent keeps the synchronous set beside this leader.
  const leadership = new EtcdLeadership(ctx, { controllerId, apiUrl: config.daemon.advertised_url, deployment: config.handyrep.deployment });
  return new EtcdControl(ctx, leadership, new EtcdClusterStore(ctx, leadership, agentsKeepSync), controllerId, config.handyrep.connect_timeout_seconds * 1000);
}

const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function openLog(loaded: LoadedConfig, memoryOnly: boolean): EventLog {
  const { config, dir } = loaded;
  const log = new EventLog({
    file: memoryOnly ? null : config.handyrep.log_file === 'stdout' ? 'stdout' : resolvePath(dir, config.handyrep.log_file),
    tailSize: config.handyrep.log_tail_lines,
    verbose: config.handyrep.log_verbose,
  });
  log.setSecrets(secretStrings(config));
  return log;
}

/** How many times start-up reads the etcd store before giving up (1 s apart). */
const STORE_READ_ATTEMPTS_AT_START = 10;

/** Assemble everything. Throws CONFIG_INVALID, PLUGIN_LOAD, LOCKED; on failure nothing stays held. */
export async function wire(configFile: string, options: HandyRepOptions): Promise<Wiring> {
  const loaded = loadConfigFile(resolve(configFile));
  const config: ConfigInForce = { current: loaded.config, path: loaded.path, dir: loaded.dir };
  const clock = options.clock ?? ((): Date => new Date());
  const log = openLog(loaded, options.memoryLog === true);
  let lock: StateLock | null = null;
  let etcd: EtcdControl | null = null;
  try {
    const plugins = new PluginRegistry();
    await plugins.loadDirectories(loaded.config.handyrep.plugin_dirs.map((d) => resolvePath(loaded.dir, d)));
    plugins.checkConfigured(loaded.config);
    const serverFile = resolvePath(loaded.dir, loaded.config.handyrep.server_file);
    lock = options.lock === false ? null : await StateLock.acquire(serverFile);
    const sql = options.sql ?? new PgSqlClient();
    const identity = await loadControllerIdentity(serverFile, clock().getTime());
    etcd = masterCheckMethod(loaded.config) === 'etcd_lease' ? openEtcdControl(loaded.config, identity.id, () => agentsKeepSync(config.current)) : null;
    const storeControl = etcd;
    const initial = storeControl
      ? await readAtStart(() => loadStoreState(loaded.config, storeControl.store, storeControl.ctx.keys.prefix, clock().toISOString()), {
          attempts: STORE_READ_ATTEMPTS_AT_START,
          delayMs: 1000,
          sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
          onRetry: (attempt, err) => log.warn('STARTUP', `etcd store not readable yet (attempt ${attempt} of ${STORE_READ_ATTEMPTS_AT_START}): ${err.message}; trying again in 1 s`),
        })
      : await loadInitialState(loaded.config, serverFile, sql, clock().toISOString());
    let sessionLost: SessionLostListener = () => undefined;
    const monitorSessions = new MonitorSessions(sql, (target, reason) => sessionLost(target, reason));
    // The book reports changes to the persister, which is built from the book: bound late.
    let persister: Persister | null = null;
    const book = new ServerBook(initial.servers, initial.cluster, initial.history, log, clock, () => void persister?.request());
    book.restoreSync(initial.sync.record, initial.sync.history);
    persister = new Persister(
      {
        serverFile,
        snapshot: () => {
          const snap = book.snapshot();
          // Saved state is replicated to every node: a secret quoted by a message stays out.
          return log.maskSecrets({ servers: snap.servers, status: snap.cluster, history: snap.history, sync: book.syncRecord(), sync_history: book.recentSyncChanges(SYNC_HISTORY_LIMIT).reverse() }, true);
        },
        writeTable: async (state) => {
          const master = book.masterName();
          // On a session of its own, not the monitoring one: a write stuck behind a lock (or a
          // synchronous standby) must not hold up the master's poll and fail it.
          return writeStateToMaster(sql, config.current, master ? book.get(master) : null, state);
        },
        log,
        clock,
        ...(etcd ? { store: etcd.store, mayWrite: () => (etcd as EtcdControl).mayAct() } : {}),
      },
      initial.version,
    );
    return {
      config,
      log,
      plugins,
      book,
      persister,
      shells: options.shells ?? new NodeShellPool(etcd ? agentChannelOf(etcd, book, () => config.current) : undefined),
      controllerShell: options.controllerShell ?? new LocalShell(),
      sql,
      lock,
      serverFile,
      clock,
      sleep: options.sleep ?? realSleep,
      identity,
      monitorSessions,
      onSessionLost: (listener) => {
        sessionLost = listener;
      },
      initial: { source: initial.source, notes: initial.notes },
      etcd,
    };
  } catch (err) {
    etcd?.leadership.release();
    etcd?.ctx.close();
    await lock?.release();
    log.close();
    throw err;
  }
}

/** Undo wire() when start-up fails after it (e.g. an unreadable journal). */
export async function unwire(wiring: Wiring): Promise<void> {
  await wiring.monitorSessions.closeAll().catch(() => undefined);
  await wiring.shells.closeAll().catch(() => undefined);
  wiring.etcd?.leadership.release();
  wiring.etcd?.ctx.close();
  await wiring.lock?.release();
  wiring.log.close();
}
