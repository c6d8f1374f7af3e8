/**
 * The HandyRep library API (seed 004). Every public method is an operation of the operations
 * table: it validates its arguments there, delegates to the runtime, and answers with an RD or a
 * data dictionary. Bad input throws a HandyRepError (INVALID_PARAMETER, UNKNOWN_SERVER) and
 * changes nothing; an action that runs and fails returns an RD with result FAIL.
 */
import type { SyncRecord } from '../model/sync-record.js';
import { resolve } from 'node:path';
import { loadConfigFile } from '../config/load.js';
import { resolvePath } from '../config/merge.js';
import { getSetting } from '../config/get-setting.js';
import { secretStrings } from '../config/redact.js';
import { masterCheckMethod, type HandyRepConfig } from '../config/schema.js';
import type { EtcdControl, LeadershipReport } from '../runtime/leadership/etcd-control.js';
import { readMemberTexts, readMemberViews } from '../store/etcd/member-view.js';
import { agentsReport } from '../engine/agents-report.js';
import type { AgentsReport } from '../model/agent-report.js';
import { LeaderLoop } from '../runtime/leadership/leader-loop.js';
import { etcdMasterLeaseEvents, MasterLeaseWatch } from '../runtime/leadership/master-lease-watch.js';
import { judgeLapsedMaster } from '../runtime/lease-lapse-judgement.js';
import { memberRecordAt } from '../store/etcd/member-statement.js';
import { SilentMasterProbes } from '../runtime/silent-master-probes.js';
import { askDatabase, type DatabaseAnswer } from '../runtime/topology/fence.js';
import { masterTimeline } from '../runtime/topology/master-timeline.js';
import { ADOPTION_CHECK_READ_MS, adoptAgentsMaster, startedReads, type AdoptionMemory } from '../runtime/topology/adopt-agents-master.js';
import type { ControllerHistoryEntry } from '../store/cluster-store.js';
import { leadingHooks } from './etcd-leading.js';
import { LocalClusterStore } from '../store/local-cluster-store.js';
import { checkEnable, checkRemove, planAddServer, planAlterServer, validateServerProps } from '../engine/server-admin.js';
import { EventLog, type LogEntry } from '../log/event-log.js';
import { describeError, HandyRepError, NotLeaderRefusal } from '../model/errors.js';
import { failure, success, type Rd } from '../model/rd.js';
import { isProxyRole, type ServerMap, type ServerRecord } from '../model/server.js';
import type { ClusterStatus, ServerStatusName } from '../model/status.js';
import { LocalShell } from '../nodes/local-shell.js';
import { NodeShellPool } from '../nodes/node-shells.js';
import type { SqlClient, SqlTarget } from '../nodes/ports.js';
import type { MonitorSessions } from '../nodes/monitor-sessions.js';
import { PluginRegistry } from '../plugins/registry.js';
import type { AuthPlugin, PluginContext } from '../plugins/types.js';
import { Checks, serverRef, type CheckEvent, type PollAllRd, type PollRd, type VerifyAllRd, type VerifyRd } from '../runtime/checks.js';
import { NodeControl } from '../runtime/node-control.js';
import { observeControl, observeSql } from '../runtime/observe.js';
import { Persister } from '../runtime/persister.js';
import { buildPluginContext } from '../runtime/plugin-context.js';
import { ServerBook, type Clock } from '../runtime/server-book.js';
import { SerialQueue } from '../runtime/serial-queue.js';
import { Monitor, type MonitorStatus } from '../runtime/monitor.js';
import type { TopologyEnv } from '../runtime/topology/env.js';
import { RefusalEpisodes } from '../runtime/refusal-episodes.js';
import type { TopologyRd } from '../runtime/topology/failover.js';
import { runManualFailover, runPromote } from '../runtime/topology/manual.js';
import { ControllerPresence, heartbeatEveryMs } from '../runtime/controller-presence.js';
import { isDatabaseRole } from '../model/server.js';
import { failoverCheck, judgeAfterRestart, RecentMasterFacts, type FailoverCheckDeps, type FailoverCheckRd } from '../runtime/failover-check.js';
import { recoverInterrupted } from '../runtime/topology/recovery.js';
import { remasterReplica } from '../runtime/topology/remaster.js';
import { rejoinAsReplica } from '../runtime/topology/rejoin.js';
import { currentHold, heldCheckRd, pauseFailover, plannedStop, resumeFailover, type MaintenanceRd } from '../runtime/maintenance.js';
import { readJournal } from '../store/journal.js';
import type { FailoverRecord } from '../model/failover-record.js';
import { createTableOnMaster } from '../runtime/state-table-access.js';
import { serversFromConfig } from '../runtime/state-sync.js';
import { StateLock } from '../store/state-lock.js';
import { unwire, wire, type ConfigInForce, type HandyRepOptions, type Wiring } from './startup.js';
import { agentsKeepSync, agentsSyncRefusal, deploymentReloadRefusal } from '../runtime/sync/agents-sync.js';
import { AgentsSyncFollower } from '../runtime/sync/agents-sync-follow.js';
import { parseParams, type OperationInput, type OperationName, type OperationParams } from './operations.js';
import { LongActionTracker } from '../runtime/long-actions/tracker.js';
import { beginClone, type CloneEnv, type CloneRd } from '../runtime/clone/clone.js';
import { AlertDispatcher } from '../runtime/alerts/alert-dispatcher.js';
import { connectionFailover, connectionProxyInit, type ConnectionRd, type ProxyEnv } from '../runtime/connection/proxies.js';
import { cleanupArchive, pollArchiving, startArchiving, stopArchiving, type ArchiveEnv, type ArchiveRd, type CleanupRd } from '../runtime/archive/archiving.js';
import { SingleFlight } from '../runtime/single-flight.js';
import { failoverEventOf, type FailoverEvent } from './failover-event.js';

export type { FailoverEvent } from './failover-event.js';

export type { HandyRepOptions } from './startup.js';

/** A check of a configuration before reload_conf applies it: null to allow, else why not. */
export type ReloadCheck = (auth: { plugin: AuthPlugin; ctx: PluginContext }, candidate: HandyRepConfig) => Promise<string | null>;

/** The projection of a server that get_status returns. */
export interface ServerStatusSummary {
  hostname: string;
  role: string;
  enabled: boolean;
  status: ServerStatusName;
  status_no: number;
  status_ts: string;
  status_message: string;
}

export interface StatusReport {
  cluster: ClusterStatus;
  servers: Record<string, ServerStatusSummary>;
  /** Synchronous replication: the mode in force, the recorded set and its last changes (newest first). */
  sync?: SyncStatus;
  /** etcd_lease: who leads, its URL, and how old this controller's data is (a follower answers from the store). */
  leadership?: LeadershipReport;
}

export interface SyncStatus {
  mode: 'off' | 'on' | 'strict';
  method: 'any' | 'first';
  node_count: number;
  /** The recorded set (null: none recorded); quorum 0 = asynchronous. */
  recorded: SyncRecord | null;
  changes: SyncRecord[];
}

/** Admin operations that act on this controller only (its log, its configuration): a follower runs them itself. */
const CONTROLLER_LOCAL_OPERATIONS: ReadonlySet<string> = new Set(['set_verbose', 'reload_conf']);

/** How long close() waits for queued alerts to go out. */
const ALERT_DRAIN_MS = 5_000;
/** Deadline of the read of the master's member record at its lease's lapse (one etcd range; late = the retries run). */
const LAPSE_READ_MS = 1_000;

export class HandyRep {
  private readonly configInForce: ConfigInForce;
  private ctx: PluginContext;
  private closed = false;
  /** Mutating actions run one at a time; polls and reads do not wait for them. */
  private readonly actions = new SerialQueue();
  private readonly alerts: AlertDispatcher;
  private readonly log: EventLog;
  private readonly plugins: PluginRegistry;
  private readonly book: ServerBook;
  private readonly persister: Persister;
  private readonly shells: NodeShellPool;
  private readonly controllerShell: LocalShell;
  private readonly sql: SqlClient;
  private readonly lock: StateLock | null;
  private readonly serverFile: string;
  private readonly clock: Clock;
  private readonly sleep: (ms: number) => Promise<void>;

  private constructor(wiring: Wiring) {
    ({ log: this.log, plugins: this.plugins, book: this.book, persister: this.persister, shells: this.shells, controllerShell: this.controllerShell } = wiring);
    ({ sql: this.sql, lock: this.lock, serverFile: this.serverFile, clock: this.clock, sleep: this.sleep } = wiring);
    this.configInForce = wiring.config;
    this.monitorSessions = wiring.monitorSessions;
    wiring.onSessionLost((target, reason) => this.sessionLost(target, reason));
    this.ctx = this.buildContext();
    this.alerts = new AlertDispatcher({ plugins: this.plugins, ctx: () => this.ctx, log: this.log });
    this.presence = new ControllerPresence(this.monitorSessions, () => this.config, this.serverFile, this.clock, wiring.identity, this.log);
    this.etcd = wiring.etcd;
    const etcd = this.etcd;
    this.agentsSync = etcd === null ? null : new AgentsSyncFollower(() => etcd.store.readSync(), this.book, this.log);
  }

  /** etcd: reads the synchronous set the agents recorded into the book (deployment agents only). */
  private readonly agentsSync: AgentsSyncFollower | null;

  /** etcd_lease: this controller's leadership, store and master key; null for a single controller. */
  private readonly etcd: EtcdControl | null;
  private leaderLoop: LeaderLoop | null = null;
  /** etcd_lease: the leader's watch on the agents' master leases (runs while it monitors). */
  private leaseWatch: MasterLeaseWatch | null = null;
  /** The last facts that found the master unanswering, for the lease watch's judgement. */
  private readonly recentFacts = new RecentMasterFacts();
  /** The last refusal to adopt an agents' master that was alerted (topology/adopt-agents-master.ts). */
  private readonly adoptionMemory: AdoptionMemory = { lastRefusal: null };
  /** A silent master's database port, asked back-to-back with the full timeout (silent-master-probes.ts). */
  /** The episode of repeated automatic-failover refusals (recorded once, then reminders). */
  private readonly refusals = new RefusalEpisodes(() => ({
    reminderMs: this.config.failover.refusal_reminder_minutes * 60_000,
    pollMs: this.config.failover.poll_interval * 1000,
  }));
  private readonly silentProbes = new SilentMasterProbes((name) => askDatabase(this.topologyEnv(), name));

  /** agent_lease, after this leader saw `name`'s lease lapse: the answer of a probe that ended since, or null. */
  private recentDatabaseAnswer(name: string): Promise<DatabaseAnswer | null> {
    const lapsedAt = this.config.failover.unreachable_master === 'agent_lease' ? (this.leaseWatch?.lapsedAt(name) ?? null) : null;
    return lapsedAt === null ? Promise.resolve(null) : this.silentProbes.answerAfter(name, lapsedAt, this.config.failover.poll_interval * 1000);
  }

  private masterLeaseWatch(etcd: EtcdControl): MasterLeaseWatch {
    return new MasterLeaseWatch({
      source: etcdMasterLeaseEvents(etcd.ctx),
      view: () => ({
        leading: etcd.leadership.current !== null,
        master: this.book.masterName(),
        topologyChangeRunning: this.topologyInFlight,
        onHold: currentHold(this.book) !== null,
        agentLease: this.config.failover.unreachable_master === 'agent_lease',
      }),
      judge: async (master, revision) => (await judgeLapsedMaster(this.failoverCheckDeps(), master, { revision, recordAt: (at) => memberRecordAt(etcd.ctx, master, at, LAPSE_READ_MS) })).details,
      log: this.log,
    });
  }
  /** startMonitoring was called: under etcd_lease the monitor runs only while leading. */
  private wantMonitoring = false;

  /** Why this controller must not act now (etcd_lease and not leading), or null. */
  private mayAct(): string | null {
    return this.etcd?.mayAct() ?? null;
  }

  /** Campaign for the leadership (etcd_lease); follow the store meanwhile. */
  private startLeadership(etcd: EtcdControl): void {
    const hooks = leadingHooks({
      etcd,
      book: this.book,
      persister: this.persister,
      log: this.log,
      config: () => this.config,
      clock: this.clock,
      recover: async (journal) => {
        const deps = this.failoverCheckDeps();
        const rd = await this.topology(() => recoverInterrupted(this.topologyEnv(), journal, (master, expect) => judgeAfterRestart(deps, master, expect)));
        return `${rd.result}: ${rd.details}`;
      },
      adoptAgentsMaster: () => this.mutate(async () => (await adoptAgentsMaster(this.topologyEnv(), etcd.agentsMasterReads(), this.adoptionMemory)).why),
      masterTimeline: (master) => masterTimeline(this.topologyEnv(), master),
      startMonitor: () => {
        if (this.wantMonitoring && !this.closed) {
          this.monitorNow().start();
          this.leaseWatch?.start();
        }
      },
      stopMonitor: () => {
        void this.monitor?.stop();
        void this.leaseWatch?.stop();
        this.recentFacts.forget();
        this.silentProbes.stop();
      },
      idle: () => this.actions.idle(),
    });
    const followEveryMs = Math.max(500, Math.min(this.config.failover.poll_interval * 1000, (this.config.etcd.ttl * 1000) / 3));
    this.leaseWatch = this.masterLeaseWatch(etcd);
    this.leaderLoop = new LeaderLoop(etcd.leadership, hooks, this.log, followEveryMs);
    this.leaderLoop.start();
  }

  private get config(): HandyRepConfig {
    return this.configInForce.current;
  }

  private get configPath(): string {
    return this.configInForce.path;
  }

  private get configDir(): string {
    return this.configInForce.dir;
  }

  /** This controller's heartbeat in the cluster, and whether an earlier one is alive. */
  private readonly presence: ControllerPresence;
  /** One long-lived session per polled server. */
  private readonly monitorSessions: MonitorSessions;

  /** A polled server dropped its session (crash, refused, reset): check now, not at the next poll. */
  private sessionLost(target: SqlTarget, reason: string): void {
    // A topology change stops and promotes servers itself, and no check decides meanwhile.
    if (this.topologyInFlight) return;
    this.log.debug('CHECK', `monitoring session to ${target.host}:${target.port} lost (${reason}): checking now`);
    this.monitor?.wake();
  }

  private lastBeatMs = 0;

  /** null when no other controller started earlier is alive; else why this one must not act. */
  private async notSenior(): Promise<string | null> {
    if (masterCheckMethod(this.config) !== 'database_table') return null;
    const databaseServers = this.book.names().filter((n) => isDatabaseRole(this.book.get(n).role)).map((n) => this.book.get(n));
    const seniority = await this.presence.mayAct(databaseServers);
    return seniority.acts ? null : seniority.reason;
  }

  /** Refresh the heartbeat on the master, at most every few seconds. */
  private async beat(): Promise<void> {
    const master = this.book.masterName();
    const now = this.clock().getTime();
    if (masterCheckMethod(this.config) !== 'database_table') return;
    if (master === null || now - this.lastBeatMs < heartbeatEveryMs(this.config)) return;
    if (await this.presence.beat(this.book.get(master))) this.lastBeatMs = now;
  }

  /** Load the configuration, plugins and saved state (startup.ts), then recover an interrupted change. Throws CONFIG_INVALID, PLUGIN_LOAD, LOCKED. */
  static async open(configFile = 'handyrep.yaml', options: HandyRepOptions = {}): Promise<HandyRep> {
    const wiring = await wire(configFile, options);
    const { log, initial } = wiring;
    try {
      const hr = new HandyRep(wiring);
      log.info('STARTUP', `HandyRep started for cluster ${hr.config.handyrep.cluster_name}: servers from ${initial.source.from} (${initial.source.reason})`);
      for (const note of initial.notes) log.warn('STARTUP', note);
      if (wiring.etcd) {
        // The journal in etcd is the leader's to recover, once it leads (etcd-leading.ts).
        hr.startLeadership(wiring.etcd);
        return hr;
      }
      if (initial.source.from === 'config') await wiring.persister.request();
      const interrupted = await readJournal(wiring.serverFile);
      if (interrupted) {
        log.error('FAILOVER', `found an interrupted ${interrupted.kind} (${interrupted.id}) in the journal: recovering`, undefined, 'CRITICAL');
        const deps = hr.failoverCheckDeps();
        const recovered = await hr.topology(() => recoverInterrupted(hr.topologyEnv(), interrupted, (master, expect) => judgeAfterRestart(deps, master, expect)));
        log.warn('FAILOVER', `recovery: ${recovered.result}: ${recovered.details}`);
      }
      return hr;
    } catch (err) {
      await unwire(wiring);
      throw err;
    }
  }

  /**
   * The authentication plugin the configuration names, with this instance's context: the daemon
   * authenticates through it (no second registry); after reload_conf it follows the new settings.
   */
  authBinding(): { plugin: AuthPlugin; ctx: PluginContext } {
    return { plugin: this.plugins.get('auth', this.config.handyrep.authentication_method), ctx: this.ctx };
  }

  private buildContext(): PluginContext {
    return buildPluginContext({
      config: this.config,
      configDir: this.configDir,
      log: this.log,
      sql: this.sql,
      monitorSessions: this.monitorSessions,
      shells: this.shells,
      controllerShell: this.controllerShell,
    });
  }

  private readonly checkListeners: ((event: CheckEvent) => void)[] = [];

  /** Be told about every finished poll and verification (the daemon's metrics). */
  onCheck(listener: (event: CheckEvent) => void): void {
    this.checkListeners.push(listener);
  }

  private readonly failoverListeners: ((event: FailoverEvent) => void)[] = [];

  /** Be told about every finished failover or switchover (the daemon's metrics). */
  onFailover(listener: (event: FailoverEvent) => void): void {
    this.failoverListeners.push(listener);
  }

  /**
   * Be told the new state revision whenever server or cluster state or history changes
   * (synchronously and often: coalesce before reading state, as the dashboard's event hub does).
   */
  onStateChange(listener: (revision: number) => void): void {
    this.book.onRevision(listener);
  }

  /** Verifications shared by concurrent callers, one full verification at a time (runtime/single-flight.ts). */
  private readonly verifyFlight = new SingleFlight();

  private checks(): Checks {
    return new Checks({
      book: this.book,
      flight: this.verifyFlight,
      plugins: this.plugins,
      ctx: () => this.ctx,
      report: (event) => {
        for (const listener of this.checkListeners) {
          try {
            listener(event);
          } catch (err) {
            this.log.error('HANDYREP', `check listener failed: ${describeError(err)}`);
          }
        }
      },
    });
  }

  private nodeControl(): NodeControl {
    return new NodeControl({
      book: this.book,
      plugins: this.plugins,
      ctx: () => this.ctx,
      checks: this.checks(),
      sleep: this.sleep,
      mayAct: () => this.mayAct(),
    });
  }

  /** Validate a method's parameters once, through the operations table: typed, defaults applied. */
  private params<N extends OperationName>(name: N, given: OperationInput<N>): OperationParams<N> {
    if (this.closed) throw new HandyRepError('REFUSED', 'this HandyRep instance is closed');
    return parseParams(name, given);
  }

  /** Await a check, then its state changes being saved, so callers observe persisted state. */
  private async saved<T>(check: Promise<T>): Promise<T> {
    const result = await check;
    await this.persister.flush();
    return result;
  }

  /**
   * Run a mutating action alone, then wait until its state changes are saved. `flush: false`: a
   * question that changes nothing returns without waiting for a save in flight (whose table
   * write to a dead master may wait out a connect timeout before a failover could start).
   */
  private async mutate<T>(action: () => Promise<T>, local = false, flush = true): Promise<T> {
    const notLeading = local ? null : this.mayAct();
    if (notLeading !== null) throw new NotLeaderRefusal(`${notLeading}: mutating calls go to the leader`);
    return this.actions.run(async () => {
      // Checked again once its turn comes: it may have waited behind a long action, and the
      // leadership may have ended meanwhile (nothing has run yet, so a forward stays safe).
      const notLeadingNow = local ? null : this.mayAct();
      if (notLeadingNow !== null) throw new NotLeaderRefusal(`${notLeadingNow}: mutating calls go to the leader`);
      try {
        return await action();
      } finally {
        if (flush) await this.persister.flush();
      }
    });
  }

  // ---- Information API ------------------------------------------------------------------

  async get_status(check_type?: 'cached' | 'poll' | 'verify'): Promise<StatusReport> {
    const p = this.params('get_status', { check_type });
    if (p.check_type === 'poll') await this.saved(this.checks().pollAll());
    if (p.check_type === 'verify') await this.saved(this.checks().verifyAll('join'));
    const view = this.book.view();
    const servers: Record<string, ServerStatusSummary> = {};
    for (const [name, s] of Object.entries(view.servers)) {
      servers[name] = {
        hostname: s.hostname,
        role: s.role,
        enabled: s.enabled,
        status: s.status,
        status_no: s.status_no,
        status_ts: s.status_ts,
        status_message: s.status_message,
      };
    }
    const failover = this.config.failover;
    const sync: SyncStatus = { mode: failover.synchronous_mode, method: failover.synchronous_method, node_count: failover.synchronous_node_count, recorded: this.book.syncRecord(), changes: this.book.recentSyncChanges(10) };
    return { cluster: { ...view.cluster }, servers, sync, ...(this.etcd ? { leadership: this.etcd.report() } : {}) };
  }

  async get_cluster_status(verify?: boolean): Promise<ClusterStatus> {
    const p = this.params('get_cluster_status', { verify });
    if (p.verify) await this.saved(this.checks().verifyAll('join'));
    return this.book.clusterStatus;
  }

  async get_master_name(): Promise<string | null> {
    this.params('get_master_name', {});
    return this.book.masterName();
  }

  async get_server_info(servername?: string | null, verify?: boolean): Promise<ServerMap> {
    const p = this.params('get_server_info', { servername, verify });
    const name = p.servername;
    if (name !== null) this.book.get(name);
    if (p.verify) {
      if (name !== null) await this.saved(this.checks().verifyServer(name, 'join'));
      else await this.saved(this.checks().verifyAll('join'));
    }
    const snap = this.book.serversCopy();
    if (name === null) return snap;
    return { [name]: snap[name] as ServerRecord };
  }

  async get_servers_by_role(serverrole?: string, verify?: boolean): Promise<ServerMap> {
    const p = this.params('get_servers_by_role', { serverrole, verify });
    const role = p.serverrole;
    const names = this.book.names().filter((n) => this.book.get(n).enabled && this.book.get(n).role === role);
    if (p.verify) await this.saved(Promise.all(names.map((n) => this.checks().verifyServer(n, 'join'))));
    const snap = this.book.serversCopy();
    return Object.fromEntries(names.map((n) => [n, snap[n] as ServerRecord]));
  }

  async read_log(numlines?: number): Promise<LogEntry[]> {
    const p = this.params('read_log', { numlines });
    return this.log.recent(p.numlines);
  }

  async get_setting(setting_name: string | string[]): Promise<unknown> {
    const p = this.params('get_setting', { setting_name });
    const result = getSetting(this.config, p.setting_name);
    if (result.kind === 'refused') throw new HandyRepError('REFUSED', result.reason);
    if (result.kind === 'not_found') throw new HandyRepError('INVALID_PARAMETER', result.reason);
    return result.value;
  }

  async set_verbose(verbose?: boolean): Promise<Rd<{ verbose: boolean }>> {
    const p = this.params('set_verbose', { verbose });
    this.log.setVerbose(p.verbose);
    this.log.info('HANDYREP', `verbose logging ${p.verbose ? 'on' : 'off'}`);
    return success(`verbose logging ${p.verbose ? 'on' : 'off'}`, { verbose: p.verbose });
  }

  // ---- Availability API -----------------------------------------------------------------

  async poll(servername: string): Promise<PollRd> {
    const p = this.params('poll', { servername });
    const name = p.servername;
    const record = this.book.get(name);
    if (record.role === 'master' || record.role === 'replica') return this.saved(this.checks().pollServer(name));
    if (isProxyRole(record.role)) return this.saved(this.checks().pollProxy(name));
    return failure(`${name}: no polling is defined for role ${record.role}`, { status: record.status });
  }

  async poll_master(): Promise<PollRd> {
    this.params('poll_master', {});
    return this.saved(this.checks().pollMaster());
  }

  async poll_all(): Promise<PollAllRd> {
    this.params('poll_all', {});
    return this.saved(this.checks().pollAll());
  }

  async verify_master(): Promise<VerifyRd> {
    this.params('verify_master', {});
    return this.saved(this.checks().verifyMaster());
  }

  async verify_replica(replicaserver: string): Promise<VerifyRd> {
    const p = this.params('verify_replica', { replicaserver });
    return this.saved(this.checks().verifyReplica(p.replicaserver));
  }

  async verify_server(servername: string): Promise<VerifyRd> {
    const p = this.params('verify_server', { servername });
    return this.saved(this.checks().verifyServer(p.servername));
  }

  /** Verify every enabled database server; with failover.poll_connection_proxy, poll the proxies too. */
  async verify_all(): Promise<VerifyAllRd> {
    this.params('verify_all', {});
    return this.saved(this.checks().verifyAll());
  }

  // ---- Action API -----------------------------------------------------------------------

  async init_handyrep_db(): Promise<Rd> {
    this.params('init_handyrep_db', {});
    return this.mutate(async () => {
      const master = this.book.masterName();
      if (master === null) return failure('cannot create the handyrep table: no single enabled master');
      try {
        await createTableOnMaster(this.sql, this.config, this.book.get(master));
      } catch (err) {
        return failure(`cannot create the handyrep table on ${master}: ${describeError(err)}`);
      }
      await this.persister.request();
      const table = `${this.config.handyrep.handyrep_schema}.${this.config.handyrep.handyrep_table}`;
      this.log.info('DATABASE', `handyrep table ${table} ready on ${master}`);
      return success(`handyrep table ${table} ready on ${master}`);
    });
  }

  async reload_conf(config_file?: string | null): Promise<Rd<{ problems?: string[] }>> {
    const p = this.params('reload_conf', { config_file });
    // Each controller has its own configuration file: a follower reloads its own too.
    return this.mutate(async () => {
      const path = p.config_file === null ? this.configPath : resolve(this.configDir, p.config_file);
      let loaded: ReturnType<typeof loadConfigFile>;
      try {
        loaded = loadConfigFile(path);
        this.plugins.checkConfigured(loaded.config);
      } catch (err) {
        const problems = (err as { problems?: { path: string; message: string }[] }).problems;
        this.log.error('CONFIG', `configuration ${path} not reloaded: ${describeError(err)}`);
        return failure(`configuration file ${path} could not be loaded; nothing changed: ${describeError(err)}`, {
          problems: problems ? problems.map((x) => `${x.path}: ${x.message}`) : [describeError(err)],
        });
      }
      const refusal = await this.reloadRefusal(loaded);
      if (refusal !== null) {
        this.log.error('CONFIG', `configuration ${path} not reloaded: ${refusal}`);
        return failure(`configuration file ${path} not reloaded; nothing changed: ${refusal}`, { problems: [refusal] });
      }
      const newServerFile = resolvePath(loaded.dir, loaded.config.handyrep.server_file);
      if (newServerFile !== this.serverFile) {
        return failure(`handyrep.server_file cannot change while running (${this.serverFile} → ${newServerFile}); restart HandyRep`);
      }
      Object.assign(this.configInForce, { current: loaded.config, path: loaded.path, dir: loaded.dir });
      this.ctx = this.buildContext();
      this.log.setVerbose(loaded.config.handyrep.log_verbose);
      this.log.setSecrets(secretStrings(loaded.config));
      if (loaded.config.handyrep.override_server_file) {
        this.book.replaceAll(serversFromConfig(loaded.config, new Date().toISOString()), 'override_server_file is set');
      }
      this.log.info('CONFIG', `configuration reloaded from ${path}`);
      return success(`configuration reloaded from ${path}`);
    }, true);
  }

  private readonly reloadChecks: ReloadCheck[] = [];

  /**
   * Add a check a configuration must pass before reload_conf applies it, given the auth plugin
   * and context it would bring (the daemon's: a reload may not open the API).
   */
  onReloadCheck(check: ReloadCheck): void {
    this.reloadChecks.push(check);
  }

  private async reloadRefusal(loaded: { config: HandyRepConfig; dir: string }): Promise<string | null> {
    const deployment = deploymentReloadRefusal(this.config, loaded.config);
    if (deployment !== null) return deployment;
    if (this.reloadChecks.length === 0) return null;
    const binding = {
      plugin: this.plugins.get('auth', loaded.config.handyrep.authentication_method),
      ctx: buildPluginContext({ config: loaded.config, configDir: loaded.dir, log: this.log, sql: this.sql, shells: this.shells, controllerShell: this.controllerShell }),
    };
    for (const check of this.reloadChecks) {
      const refusal = await check(binding, loaded.config);
      if (refusal !== null) return refusal;
    }
    return null;
  }

  async shutdown(servername: string): Promise<Rd> {
    const p = this.params('shutdown', { servername });
    this.book.get(p.servername);
    return this.mutate(() => plannedStop(this.book, p.servername, 'shutdown', () => this.nodeControl().shutdown(p.servername)));
  }

  async startup(servername: string): Promise<Rd> {
    const p = this.params('startup', { servername });
    this.book.get(p.servername);
    return this.mutate(() => this.nodeControl().startup(p.servername));
  }

  async restart(servername: string): Promise<Rd> {
    const p = this.params('restart', { servername });
    this.book.get(p.servername);
    return this.mutate(() => plannedStop(this.book, p.servername, 'restart', () => this.nodeControl().restart(p.servername)));
  }

  async add_server(servername: string, serverprops: Record<string, unknown>): Promise<Rd<{ definition?: ServerRecord }>> {
    const p = this.params('add_server', { servername, serverprops });
    return this.mutate(async () => {
      const name = p.servername;
      this.checkPluginSettings('add_server', name, p.serverprops);
      const plan = planAddServer(this.book.snapshot().servers, name, p.serverprops, this.config.server_defaults, new Date().toISOString());
      if (!plan.ok) throw new HandyRepError('INVALID_PARAMETER', `add_server ${name}: ${plan.reason}`);
      this.book.putServer(name, plan.value, `added (disabled), host ${plan.value.hostname}, role ${plan.value.role}`);
      return success(`new server ${name} saved (disabled); enable it to start checking it`, { definition: plan.value });
    });
  }

  async alter_server_def(servername: string, serverprops: Record<string, unknown>): Promise<Rd<{ definition?: ServerRecord }>> {
    const p = this.params('alter_server_def', { servername, serverprops });
    const name = p.servername;
    this.book.get(name);
    this.checkPluginSettings('alter_server_def', name, p.serverprops);
    return this.mutate(async () => {
      const plan = planAlterServer(this.book.snapshot().servers, name, p.serverprops);
      if (!plan.ok) throw new HandyRepError('INVALID_PARAMETER', `alter_server_def ${name}: ${plan.reason}`);
      if (plan.value.enabledChange === 'enable') {
        const allowed = checkEnable({ ...this.book.snapshot().servers, [name]: plan.value.record }, name);
        if (!allowed.ok) return failure(`alter_server_def ${name}: ${allowed.reason}`);
      }
      const changed = Object.keys(p.serverprops).join(', ');
      this.book.putServer(name, plan.value.record, `definition changed (${changed})`);
      let note = '';
      if (plan.value.enabledChange === 'enable') note = `; ${(await this.enableNow(name)).details}`;
      if (plan.value.enabledChange === 'disable') note = `; ${(await this.disableNow(name)).details}`;
      return success(`server ${name} definition changed${note}`, { definition: this.book.snapshot().servers[name] as ServerRecord });
    });
  }

  async enable(servername: string): Promise<Rd> {
    const p = this.params('enable', { servername });
    this.book.get(p.servername);
    return this.mutate(() => this.enableNow(p.servername));
  }

  async disable(servername: string): Promise<Rd> {
    const p = this.params('disable', { servername });
    this.book.get(p.servername);
    return this.mutate(() => this.disableNow(p.servername));
  }

  async remove(servername: string): Promise<Rd> {
    const p = this.params('remove', { servername });
    const name = p.servername;
    this.book.get(name);
    return this.mutate(async () => {
      const allowed = checkRemove(this.book.snapshot().servers, name);
      if (!allowed.ok) return failure(allowed.reason);
      this.book.removeServer(name);
      return success(`server ${name} definition removed`);
    });
  }

  async validate_server_settings(servername: string, serverdict?: Record<string, unknown> | null): Promise<Rd<{ ssh?: string; psql?: string; problems?: string }>> {
    const p = this.params('validate_server_settings', { servername, serverdict });
    const name = p.servername;
    const props = p.serverdict ?? {};
    const validated = validateServerProps(props);
    if (!validated.ok) return failure(`settings of ${name} are invalid: ${validated.reason}`, { problems: validated.reason });
    this.checkPluginSettings('validate_server_settings', name, props);
    const base = this.book.has(name) ? this.book.get(name) : undefined;
    if (!base && validated.value.hostname === undefined) return failure(`server ${name} is not configured and no hostname was given`);
    const candidate = { ...this.config.server_defaults, ...(base ?? {}), ...validated.value } as ServerRecord;
    const ref = serverRef(name, candidate);
    const env = { ctx: this.ctx, plugins: this.plugins };
    const [control, sql] = await Promise.all([observeControl(env, ref), observeSql(env, ref, false)]);
    const extra: { ssh?: string; psql?: string } = {};
    if (!control.ok) extra.ssh = control.reason;
    if (!sql.sql.ok) extra.psql = sql.sql.reason;
    if (control.ok && sql.sql.ok) return success(`settings of ${name} are valid; control channel and database login work`);
    return failure(`settings of ${name} are valid but ${[extra.ssh ? 'the control channel fails' : '', extra.psql ? 'the database login fails' : ''].filter(Boolean).join(' and ')}`, extra);
  }

  /** Plugin names among server settings must name registered plugins of the right kind. */
  private checkPluginSettings(fn: string, name: string, props: Readonly<Record<string, unknown>>): void {
    const problems = this.plugins.serverSettingProblems(props);
    if (problems.length > 0) throw new HandyRepError('INVALID_PARAMETER', `${fn} ${name}: ${problems.join('; ')}`);
  }

  // ---- Helpers for enable/disable (run inside mutate) ---------------------------------------

  private async enableNow(name: string): Promise<Rd> {
    const allowed = checkEnable(this.book.snapshot().servers, name);
    if (!allowed.ok) return failure(allowed.reason);
    const record = this.book.get(name);
    if (!record.enabled) this.book.putServer(name, { ...record, enabled: true }, 'enabled');
    const verify = await this.checks().verifyServer(name);
    return success(`server ${name} enabled; ${verify.details}`);
  }

  private async disableNow(name: string): Promise<Rd> {
    const record = this.book.get(name);
    let shutdownNote = '';
    if (record.role === 'master' || record.role === 'replica') {
      const stopped = await this.nodeControl().shutdown(name);
      shutdownNote = stopped.result === 'SUCCESS' ? '; PostgreSQL shut down' : `; shutdown failed: ${stopped.details}`;
    }
    const current = this.book.get(name);
    if (current.enabled) this.book.putServer(name, { ...current, enabled: false }, 'disabled');
    return success(`server ${name} disabled${shutdownNote}`);
  }

  // ---- Failover API ---------------------------------------------------------------------

  /** Kept by the book, whose cluster status rules need it too (no alert for a masterless moment). */
  private get topologyInFlight(): boolean {
    return this.book.topologyInFlight;
  }

  private set topologyInFlight(running: boolean) {
    this.book.topologyInFlight = running;
  }

  /** Environment of the topology runtime. */
  private topologyEnv(): TopologyEnv {
    return {
      book: this.book,
      plugins: this.plugins,
      ctx: () => this.ctx,
      checks: this.checks(),
      nodeControl: this.nodeControl(),
      log: this.log,
      sleep: this.sleep,
      serverFile: this.serverFile,
      clock: this.clock,
      persist: () => this.persister.durable(),
      hold: () => currentHold(this.book),
      mayAct: () => this.mayAct(),
      refusals: this.refusals,
      recentDatabaseAnswer: (name) => this.recentDatabaseAnswer(name),
      quickProbeMs: (name) =>
        this.leaseWatch?.quickProbeMs(name, this.book.get(name).status, this.config.handyrep.connect_timeout_seconds * 1000, this.config.failover.unreachable_master === 'agent_lease') ?? null,
      ...(this.etcd ? { store: this.etcd.store, recordMaster: (name: string) => this.recordMaster(name), masterLease: this.masterLeaseAccess(this.etcd), agentVantage: this.agentVantageAccess(this.etcd) } : {}),
    };
  }

  private agentVantageAccess(etcd: EtcdControl): NonNullable<TopologyEnv['agentVantage']> {
    return async () => {
      const read = await readMemberViews(etcd.ctx);
      return { records: read.views, revision: read.revision };
    };
  }

  private masterLeaseAccess(etcd: EtcdControl): NonNullable<TopologyEnv['masterLease']> {
    return { state: (master) => etcd.masterLeaseState(master), noteHealthy: (master) => etcd.noteHealthyMaster(master), note: (master) => etcd.masterLeaseNote(master) };
  }

  /**
   * etcd_lease: the `master` key names `name` before it is promoted, or before an old master is
   * restarted by a rollback (store/etcd/master-key.ts). Every other server's master lease must be
   * absent, not only the book's master: a failover has disabled that one by now.
   */
  private recordMaster(name: string): Promise<{ ok: boolean; details: string }> {
    if (!this.etcd) return Promise.resolve({ ok: true, details: '' });
    return this.etcd.recordMaster(name, this.book.names(), this.book.syncRecord()?.members.filter((m) => m !== name) ?? [], null, null);
  }

  /** Run a topology change alone (single flight), reporting it to failover listeners unless it made no attempt. */
  private async topology(run: () => Promise<TopologyRd>, kind: 'failover' | 'switchover' | 'promote' = 'failover'): Promise<TopologyRd> {
    return this.mutate(async () => {
      const notSenior = await this.notSenior();
      if (notSenior !== null) {
        this.log.error('FAILOVER', `topology change refused: ${notSenior}`, undefined, 'WARNING');
        return failure(`not acting: ${notSenior}`, { reason_code: 'not_senior_controller' });
      }
      const notLeading = this.mayAct();
      if (notLeading !== null) {
        this.log.error('FAILOVER', `topology change refused: ${notLeading}`, undefined, 'WARNING');
        return failure(`not acting: ${notLeading}`, { reason_code: 'not_leader' });
      }
      this.topologyInFlight = true;
      const started = Date.now();
      const from = this.book.masterName();
      try {
        const rd = await run();
        const event = failoverEventOf(rd, this.changeKind(rd.history_id, kind), started, Date.now(), from);
        if (event === null) return rd;
        for (const listener of this.failoverListeners) {
          try {
            listener(event);
          } catch (err) {
            this.log.error('HANDYREP', `failover listener failed: ${describeError(err)}`);
          }
        }
        return rd;
      } finally {
        this.topologyInFlight = false;
      }
    });
  }

  /** The kind of change the history recorded for `historyId` (a manual_failover may be either). */
  private changeKind(historyId: string | undefined, fallback: FailoverEvent['kind']): FailoverEvent['kind'] {
    const recorded = this.book.recentHistory(5).find((r) => r.id === historyId)?.kind;
    return recorded === 'failover' || recorded === 'switchover' || recorded === 'promote' ? recorded : fallback;
  }

  async manual_failover(newmaster?: string | null, remaster?: boolean | null, dry_run?: boolean): Promise<TopologyRd> {
    const p = this.params('manual_failover', { newmaster, remaster, dry_run });
    const remasterFlag = p.remaster ?? this.config.failover.remaster;
    const target = p.newmaster;
    if (target !== null) this.book.get(target);
    if (p.dry_run) return runManualFailover(this.topologyEnv(), target, remasterFlag, true);
    const refusal = agentsSyncRefusal(this.config, 'manual_failover', this.book.syncRecord());
    if (refusal !== null) return failure(refusal);
    return this.topology(() => runManualFailover(this.topologyEnv(), target, remasterFlag, false), 'switchover');
  }

  async promote(newmaster: string): Promise<TopologyRd> {
    const p = this.params('promote', { newmaster });
    this.book.get(p.newmaster);
    const refusal = agentsSyncRefusal(this.config, 'promote', this.book.syncRecord());
    if (refusal !== null) return failure(refusal);
    return this.topology(() => runPromote(this.topologyEnv(), p.newmaster), 'promote');
  }

  async restart_master(whichmaster?: string | null): Promise<Rd> {
    const p = this.params('restart_master', { whichmaster });
    const name = p.whichmaster ?? this.book.masterName();
    if (name === null) return failure('no master to restart');
    const record = this.book.get(name);
    if (record.role !== 'master' && !record.fenced) return failure(`${name} is not a master (role ${record.role})`);
    if (record.fenced) return failure(`${name} is a fenced old master: use rejoin to bring it back as a replica`);
    return this.mutate(() => plannedStop(this.book, name, 'restart', () => this.nodeControl().restart(name)));
  }

  async remaster(replicaserver: string, newmaster?: string | null): Promise<Rd> {
    const p = this.params('remaster', { replicaserver, newmaster });
    const replica = p.replicaserver;
    const upstream = p.newmaster ?? this.book.masterName();
    if (this.book.get(replica).role !== 'replica') return failure(`${replica} is not a replica`);
    if (upstream === null) return failure('no master to remaster to');
    this.book.get(upstream);
    if (upstream === replica) return failure(`${replica} cannot replicate from itself`);
    return this.mutate(async () => {
      const result = await remasterReplica(this.topologyEnv(), replica, upstream);
      await this.checks().verifyServer(replica);
      return result.ok ? success(result.details) : failure(result.details);
    });
  }

  async rejoin(servername: string): Promise<Rd> {
    const p = this.params('rejoin', { servername });
    const name = p.servername;
    const record = this.book.get(name);
    const master = this.book.masterName();
    if (master === null) return failure('no master to rejoin to');
    if (name === master) return failure(`${name} is the master`);
    if (record.enabled && !record.fenced) return failure(`${name} is an enabled server, not a fenced old master`);
    return this.mutate(async () => {
      const result = await rejoinAsReplica(this.topologyEnv(), name, master, true);
      return result.ok ? success(result.details) : failure(result.details);
    });
  }

  /** Leadership changes (etcd_lease: who led, from when, and why a term ended), newest first. */
  async get_controller_history(numentries?: number): Promise<ControllerHistoryEntry[]> {
    const p = this.params('get_controller_history', { numentries });
    const store = this.etcd?.store ?? new LocalClusterStore(this.serverFile);
    return (await store.readControllerHistory()).slice(-p.numentries).reverse();
  }

  /**
   * What each node's agent last published in its member record (etcd deployments): one entry per
   * configured server, present or not, and one per record under an unknown name. Any controller
   * answers (a follower too): it reads etcd, not its book. Without etcd there are no agents: refused.
   */
  async get_agents(): Promise<AgentsReport> {
    this.params('get_agents', {});
    const etcd = this.etcd;
    if (!etcd) throw new HandyRepError('REFUSED', 'get_agents: this deployment has no etcd (handyrep.store is local), so there are no node agents and no member records');
    const read = await readMemberTexts(etcd.ctx);
    return agentsReport({ records: read.texts, membersPrefix: etcd.ctx.keys.membersPrefix, servers: this.book.names(), nowMs: this.clock().getTime(), staleAfterMs: this.config.etcd.ttl * 1000, revision: read.revision });
  }

  /**
   * Throws NOT_LEADER when `operation` must run on the leader and this controller does not lead
   * (etcd_lease): every admin operation except those that act on this controller alone.
   */
  assertLeadsFor(operation: string): void {
    if (CONTROLLER_LOCAL_OPERATIONS.has(operation)) return;
    const why = this.mayAct();
    if (why !== null) throw new NotLeaderRefusal(`${operation}: ${why}: mutating calls go to the leader`);
  }

  /** etcd_lease: who leads and how old this controller's data is; null for a single controller. */
  leadershipStatus(): { report: LeadershipReport; ttlMs: number; forwardInsecure: boolean } | null {
    return this.etcd ? { report: this.etcd.report(), ttlMs: this.config.etcd.ttl * 1000, forwardInsecure: this.config.etcd.forward_insecure } : null;
  }

  async failover_history(numentries?: number): Promise<FailoverRecord[]> {
    const p = this.params('failover_history', { numentries });
    return this.book.recentHistory(p.numentries);
  }

  // ---- Clone and archiving API ----------------------------------------------------------

  /** Long actions (clones) run here, off the poll loop and outside the action queue. */
  private cloneTracker: LongActionTracker | null = null;

  private longActions(): LongActionTracker {
    this.cloneTracker ??= new LongActionTracker({ book: this.book, log: this.log, clock: this.clock });
    return this.cloneTracker;
  }

  private cloneEnv(): CloneEnv {
    return { ...this.topologyEnv(), tracker: this.longActions(), mutate: (fn) => this.mutate(fn) };
  }

  private proxyEnv(): ProxyEnv {
    return { book: this.book, plugins: this.plugins, ctx: () => this.ctx, log: this.log };
  }

  /**
   * Point every connection proxy at the master (seed 004 connection_failover). `newmaster`, when
   * given, must be the current master: proxies never route clients to a server HandyRep does not
   * hold as the master.
   */
  async connection_failover(newmaster?: string | null): Promise<ConnectionRd> {
    const p = this.params('connection_failover', { newmaster });
    return this.mutate(async () => {
      const master = this.book.masterName();
      if (master === null) return failure('no enabled master: there is nothing to point the proxies at');
      const named = p.newmaster;
      if (named !== null) {
        this.book.get(named);
        if (named !== master) return failure(`${named} is not the master (${master} is); fail over first, proxies follow the master`);
      }
      return connectionFailover(this.proxyEnv(), master);
    });
  }

  /** Set up every connection proxy for the current master and check a session through each. */
  async connection_proxy_init(): Promise<ConnectionRd> {
    this.params('connection_proxy_init', {});
    return this.mutate(async () => {
      const master = this.book.masterName();
      if (master === null) return failure('no enabled master: there is nothing to point the proxies at');
      return connectionProxyInit(this.proxyEnv(), master);
    });
  }

  private archiveEnv(): ArchiveEnv {
    return { book: this.book, plugins: this.plugins, ctx: () => this.ctx, log: this.log, clock: this.clock };
  }

  /**
   * Clone (or reclone) a replica from the master or `clonefrom`, configured to stream from the
   * current master, started, and enabled once it streams. A refusal changes nothing. With
   * `wait` false it answers as soon as the copy has started; get_server_info shows its progress.
   */
  async clone(replicaserver: string, reclone?: boolean, clonefrom?: string | null, keep_old_data?: boolean | null, wait?: boolean): Promise<CloneRd> {
    const p = this.params('clone', { replicaserver, reclone, clonefrom, keep_old_data, wait });
    const target = p.replicaserver;
    this.book.get(target);
    const from = p.clonefrom;
    if (from !== null) this.book.get(from);
    const begun = await beginClone(this.cloneEnv(), {
      target,
      reclone: p.reclone,
      clonefrom: from,
      keepOldData: p.keep_old_data,
    });
    await this.persister.flush();
    if ('refused' in begun) return begun.refused;
    if (!p.wait) {
      begun.done.then(() => this.persister.flush()).catch(() => undefined);
      return success(`clone of ${target} started; get_server_info shows its progress (action_progress), cancel_clone stops it`);
    }
    const rd = await begun.done;
    await this.persister.flush();
    return rd;
  }

  /** Cancel a running clone; answers once it has stopped (the target is left disabled). */
  async cancel_clone(servername: string): Promise<Rd> {
    const p = this.params('cancel_clone', { servername });
    const name = p.servername;
    this.book.get(name);
    const tracker = this.longActions();
    const done = tracker.completion(name);
    if (done === null || !tracker.cancel(name, 'cancelled by an operator')) return failure(`no clone of ${name} is running`);
    const rd = await done;
    await this.persister.flush();
    return success(`clone of ${name} cancelled: ${rd.details}`);
  }

  /** Push the archive script to the master (and the other servers) and remove the no-archiving flag. */
  async start_archiving(): Promise<ArchiveRd> {
    this.params('start_archiving', {});
    return this.mutate(() => startArchiving(this.archiveEnv()));
  }

  /** Create the no-archiving flag on the master (and the other servers). */
  async stop_archiving(): Promise<ArchiveRd> {
    this.params('stop_archiving', {});
    return this.mutate(() => stopArchiving(this.archiveEnv()));
  }

  /** The master's archiver state (pg_stat_archiver, backlog) and whether it needs attention. */
  async poll_archiving(): Promise<ArchiveRd> {
    this.params('poll_archiving', {});
    return pollArchiving(this.archiveEnv());
  }

  /** Delete expired archived WAL that no replica and not the latest base backup needs. */
  async cleanup_archive(dry_run?: boolean): Promise<CleanupRd> {
    const p = this.params('cleanup_archive', { dry_run });
    return cleanupArchive(this.archiveEnv(), p.dry_run);
  }

  // ---- Monitoring -----------------------------------------------------------------------

  private failoverCheckDeps(): FailoverCheckDeps {
    return {
      env: () => this.topologyEnv(),
      flush: () => this.persister.flush(),
      topology: (run) => this.topology(run),
      mutate: (run) => this.mutate(run),
      queued: (run) => this.mutate(run, false, false),
      topologyInFlight: () => this.topologyInFlight,
      beat: () => this.beat(),
      notSenior: () => this.notSenior(),
      hold: () => currentHold(this.book),
      paused: () => this.book.maintenanceState.paused === true,
      plannedDown: (name) => this.book.maintenanceState.planned_down?.server === name,
      recentFacts: this.recentFacts,
      silentProbes: this.silentProbes,
      ...(this.etcd ? { startAdoption: this.agentsMasterAdoption(this.etcd) } : {}),
    };
  }

  /** Adopting an agents' election's master from the failover check: reads started at once and bounded, the book change alone like any other. */
  private agentsMasterAdoption(etcd: EtcdControl): NonNullable<FailoverCheckDeps['startAdoption']> {
    return () => {
      const reads = startedReads(etcd.agentsMasterReads(ADOPTION_CHECK_READ_MS));
      // Reads and probes outside the action queue; only an adoption's book change waits for it.
      return () => adoptAgentsMaster(this.topologyEnv(), reads, this.adoptionMemory, { alone: (run) => this.mutate(run) });
    };
  }

  /**
   * One failover check (seed 004 failover_check; library only): poll (or verify) every server,
   * and when the master has failed decide whether to fail over (runtime/failover-check.ts).
   * Returns an RD whose details is the one-sentence outcome of the cycle.
   */
  async failover_check(verify = false): Promise<FailoverCheckRd> {
    if (this.closed) throw new HandyRepError('REFUSED', 'this HandyRep instance is closed');
    if (typeof verify !== 'boolean') throw new HandyRepError('INVALID_PARAMETER', 'failover_check: verify must be a boolean');
    // Deployment agents: the set is the master's agent's; the controller reports it (agents-sync-follow.ts).
    if (this.agentsSync !== null && agentsKeepSync(this.config)) await this.agentsSync.follow();
    if (currentHold(this.book) !== null) return this.heldFailoverCheck(verify);
    return failoverCheck(this.failoverCheckDeps(), verify);
  }

  /**
   * failover_check while paused or while the master is down on purpose: check and record
   * statuses, decide nothing (no restart, failover, fencing or rejoin).
   */
  private async heldFailoverCheck(verify: boolean): Promise<Rd<{ failover_ok?: boolean }>> {
    const checks = this.checks();
    const rd = await (verify ? checks.verifyAll() : checks.pollAll());
    await this.persister.flush();
    // Paused is not absent: other controllers must still see this one alive.
    if (rd.result === 'SUCCESS') await this.beat();
    // A master that answered ends its planned stop: then no hold is left to report.
    return heldCheckRd(rd, this.book.clusterStatus.status, currentHold(this.book));
  }

  // ---- Maintenance ----------------------------------------------------------------------

  /** Pause automatic failover (maintenance mode); persists. */
  async pause(by?: string | null, reason?: string | null): Promise<MaintenanceRd> {
    const p = this.params('pause', { by, reason });
    return this.mutate(async () => pauseFailover(this.book, this.log, p.by, p.reason));
  }

  /** Resume automatic failover. */
  async resume(): Promise<MaintenanceRd> {
    this.params('resume', {});
    return this.mutate(async () => resumeFailover(this.book, this.log));
  }

  private monitor: Monitor | null = null;

  /** Start the failover_check schedule (poll_interval / verify_interval). Idempotent. */
  startMonitoring(): void {
    if (this.closed) throw new HandyRepError('REFUSED', 'this HandyRep instance is closed');
    this.wantMonitoring = true;
    // etcd_lease: only the leader monitors; it starts on winning (etcd-leading.ts).
    if (this.etcd && this.etcd.leadership.current === null) return;
    this.monitorNow().start();
    this.leaseWatch?.start();
  }

  private monitorNow(): Monitor {
    this.monitor ??= new Monitor({
      check: async (verify) => (await this.failover_check(verify)).details,
      intervals: () => ({ pollSeconds: this.config.failover.poll_interval, verifySeconds: this.config.failover.verify_interval }),
      log: this.log,
    });
    return this.monitor;
  }

  /** Stop the schedule; resolves once the check in flight has finished. */
  async stopMonitoring(): Promise<void> {
    await this.monitor?.stop();
    await this.leaseWatch?.stop();
    this.silentProbes.stop();
    await this.monitorSessions.closeAll();
  }

  /**
   * A number that changes whenever server or cluster state changes (statuses, their timestamps,
   * definitions, history): what get_status, get_cluster_status and get_master_name answer
   * without parameters is the same while it stays the same.
   */
  stateRevision(): number {
    return this.book.revision;
  }

  /** State of the schedule: cycles, errors, last error, last result. */
  monitorStatus(): MonitorStatus {
    return this.monitor?.status() ?? { running: false, cycles: 0, errors: 0, last_error: null, last_cycle_ts: null, last_result: null, last_duration_ms: null };
  }

  // ---- Lifecycle ------------------------------------------------------------------------

  /** The event log (for the daemon and tests). */
  get events(): EventLog {
    return this.log;
  }

  /** Path of the loaded configuration file. */
  get configFile(): string {
    return this.configPath;
  }

  /** Save pending state, close connections, release the lock. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Under etcd_lease the term ends first (nothing new passes mayAct), the monitor and the action
    // in flight are drained while the lease still covers them, and the leader key goes last.
    const drain = async (): Promise<void> => {
      await this.monitor?.stop();
      await this.leaseWatch?.stop();
      this.silentProbes.stop();
      await this.cloneTracker?.shutdown('HandyRep is closing');
      await this.actions.idle();
    };
    if (this.leaderLoop) await this.leaderLoop.stop(drain);
    await drain();
    await this.persister.flush();
    const master = this.book.masterName();
    if (master !== null && this.lastBeatMs > 0) await this.presence.leave(this.book.get(master));
    await this.monitorSessions.closeAll();
    await this.shells.closeAll();
    this.etcd?.ctx.close();
    await this.lock?.release();
    this.log.info('SHUTDOWN', 'HandyRep stopped');
    await this.alerts.close(ALERT_DRAIN_MS);
    this.log.close();
  }
}
