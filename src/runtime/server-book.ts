/**
 * The in-memory book of servers and cluster status. It is the only writer of statuses: it applies
 * the engine's verdicts, logs each status change once ("old → new: reason"), recomputes the
 * cluster status, and tells the persister when something worth saving changed.
 */
import { clusterStatus, type ClusterVerdict } from '../engine/cluster-status.js';
import {
  currentJudgement,
  episodeEndAlert,
  judgementAlert,
  judgementFromVerdict,
  judgementSituation,
  statusWithJudgement,
  verdictOnAnswer,
  type HeldFailover,
  type MasterJudgement,
} from '../engine/master-vantage.js';
import type { MasterFailureVerdict } from '../engine/master-failure.js';
import { unjudgedMasterFailure } from '../engine/status-alerts.js';
import { maintenanceOf, type MaintenanceFields, type PlannedDown } from '../model/maintenance.js';
import { clusterChangeSeverity, describeChange, serverChangeSeverity } from '../engine/status-change.js';
import type { PollVerdict, StatusVerdict } from '../engine/server-status.js';
import type { EventLog } from '../log/event-log.js';
import { HandyRepError } from '../model/errors.js';
import type { ObservedFacts, ServerMap, ServerRecord } from '../model/server.js';
import { makeClusterStatus, makeServerStatus, type ClusterStatus } from '../model/status.js';
import { HISTORY_LIMIT, type FailoverRecord } from '../model/failover-record.js';
import { SYNC_HISTORY_LIMIT, type SyncRecord } from '../model/sync-record.js';

export type Clock = () => Date;

export class ServerBook {
  private cluster: ClusterStatus;
  private history: FailoverRecord[];
  private changes = 0;
  /** Told the new revision after every change (the dashboard's live updates); must be cheap. */
  private readonly revisionListeners: ((revision: number) => void)[] = [];
  private definitionChanges = 0;
  private maintenance: MaintenanceFields;
  /** The last judgement of an unanswering master (not persisted: a new controller judges anew). */
  private judgement: MasterJudgement | null = null;
  /** The situation of the master's current episode that was alerted, or null. */
  private alertedSituation: string | null = null;
  /** Set while a failover, switchover or promotion runs (the cluster is briefly masterless). */
  topologyInFlight = false;

  constructor(
    private servers: ServerMap,
    cluster: ClusterStatus,
    history: FailoverRecord[],
    private readonly log: EventLog,
    private readonly clock: Clock,
    private readonly onChange: () => void,
  ) {
    this.maintenance = maintenanceOf(cluster);
    this.cluster = { ...cluster, ...this.maintenance };
    this.history = history;
  }

  /** A cluster status with the maintenance fields attached (they live with it, and persist with it). */
  private stamped(status: ClusterStatus['status'], message: string): ClusterStatus {
    return { ...makeClusterStatus(status, message, this.clock().toISOString()), ...this.maintenance };
  }

  /**
   * The live servers and cluster status, read-only, for building summaries on hot paths (health
   * checks, get_status): no copy is made, so callers copy what they keep and never hold it.
   */
  /**
   * Counts every change to servers, cluster status or history (a status timestamp included), so
   * readers can reuse what they derived from the book while it stays the same.
   */
  get revision(): number {
    return this.changes;
  }

  /** Be told (synchronously, so keep it cheap) whenever the revision moves. */
  onRevision(listener: (revision: number) => void): void {
    this.revisionListeners.push(listener);
  }

  /** Count one change and tell the listeners; a failing listener never breaks the change. */
  private bump(): void {
    this.changes++;
    for (const listener of this.revisionListeners) {
      try {
        listener(this.changes);
      } catch {
        // A listener's own problem; the state change stands.
      }
    }
  }

  /**
   * Counts changes of server definitions (role, enabled, fenced, added, removed): a failover
   * decided at one value is stale once it moved (another change got in first).
   */
  get topologyRevision(): number {
    return this.definitionChanges;
  }

  view(): { readonly servers: Readonly<ServerMap>; readonly cluster: Readonly<ClusterStatus> } {
    return { servers: this.servers, cluster: this.cluster };
  }

  /** A deep copy of the servers only (without the history, which can be large). */
  serversCopy(): ServerMap {
    return structuredClone(this.servers);
  }

  /** A deep copy, safe to hand out. */
  snapshot(): { servers: ServerMap; cluster: ClusterStatus; history: FailoverRecord[] } {
    return structuredClone({ servers: this.servers, cluster: this.cluster, history: this.history });
  }

  /** Record a finished topology change (kept to HISTORY_LIMIT entries). Persists. */
  addHistory(record: FailoverRecord): void {
    this.bump();
    this.history = [...this.history, structuredClone(record)].slice(-HISTORY_LIMIT);
    this.onChange();
  }

  /** The newest `count` history entries, newest first. */
  recentHistory(count: number): FailoverRecord[] {
    return structuredClone(this.history.slice(-count).reverse());
  }

  /** The recorded synchronous set (synchronous_mode), or null when none was recorded. */
  private sync: SyncRecord | null = null;
  private syncHistory: SyncRecord[] = [];

  /** At start: the saved synchronous set and its changes. */
  restoreSync(record: SyncRecord | null, history: readonly SyncRecord[]): void {
    this.sync = record === null ? null : structuredClone(record);
    this.syncHistory = structuredClone(history.slice(-SYNC_HISTORY_LIMIT));
  }

  /** Record a change of the synchronous set (null: none managed). Logged; persists (callers that rely on it wait for durability). */
  setSync(record: SyncRecord | null): void {
    this.bump();
    this.sync = record === null ? null : structuredClone(record);
    if (record !== null) this.syncHistory = [...this.syncHistory, structuredClone(record)].slice(-SYNC_HISTORY_LIMIT);
    this.log.info('SYNC', record === null ? 'synchronous set cleared' : `synchronous set ${record.quorum === 0 ? 'asynchronous' : `quorum ${record.quorum}`} [${record.members.join(', ')}]: ${record.reason}`);
    this.onChange();
  }

  /** Take back the last setSync (it could not be saved): the record in force is `previous` again. */
  undoSync(previous: SyncRecord | null): void {
    this.bump();
    this.sync = previous === null ? null : structuredClone(previous);
    this.syncHistory = this.syncHistory.slice(0, -1);
    this.log.warn('SYNC', 'synchronous set change not saved: taken back, the master is not told');
    this.onChange();
  }

  syncRecord(): SyncRecord | null {
    return this.sync === null ? null : structuredClone(this.sync);
  }

  /** The newest `count` synchronous set changes, newest first. */
  recentSyncChanges(count: number): SyncRecord[] {
    return structuredClone(this.syncHistory.slice(-count).reverse());
  }

  /** Set a cluster status directly (during a failover, before servers settle). Logged once. */
  setClusterStatus(status: ClusterStatus['status'], message: string): void {
    this.bump();
    const previous = this.cluster;
    this.cluster = this.stamped(status, message);
    if (previous.status !== status || previous.status_message !== message) {
      this.log.warn('CLUSTER', describeChange('cluster', previous.status, status, message));
      this.onChange();
    }
  }

  get clusterStatus(): ClusterStatus {
    return { ...this.cluster };
  }

  names(): string[] {
    return Object.keys(this.servers);
  }

  has(name: string): boolean {
    return Object.hasOwn(this.servers, name);
  }

  /** The live record (read-only use). Throws UNKNOWN_SERVER. */
  get(name: string): Readonly<ServerRecord> {
    const record = Object.hasOwn(this.servers, name) ? this.servers[name] : undefined;
    if (!record) throw new HandyRepError('UNKNOWN_SERVER', `no server named "${name}" is configured`);
    return record;
  }

  /** The name of the enabled master, or null when there is none (or more than one). */
  masterName(): string | null {
    const masters = Object.entries(this.servers).filter(([, s]) => s.enabled && s.role === 'master');
    return masters.length === 1 ? (masters[0] as [string, ServerRecord])[0] : null;
  }

  enabledMasters(): string[] {
    return Object.entries(this.servers)
      .filter(([, s]) => s.enabled && s.role === 'master')
      .map(([n]) => n);
  }

  /** Apply a status verdict: log a change once, recompute the cluster, persist on change. */
  applyStatus(name: string, verdict: PollVerdict | StatusVerdict): void {
    const record = this.mutable(name);
    const now = this.clock().toISOString();
    if ('keep' in verdict) {
      record.status_ts = now;
      return;
    }
    const previous = record.status;
    Object.assign(record, makeServerStatus(verdict.status, verdict.message, now));
    if (previous === verdict.status) return;
    const line = describeChange(name, previous, verdict.status, verdict.message);
    const severity = serverChangeSeverity(previous, verdict.status);
    // A master's first unanswered check is alerted by the judgement that follows it, not here.
    const unjudged = unjudgedMasterFailure({ isMaster: name === this.masterName(), to: verdict.status, paused: this.maintenance.paused === true });
    if (severity === 'failure' && unjudged) this.log.error('STATUS', line, name);
    else if (severity === 'failure') this.log.error('STATUS', line, name, 'WARNING');
    else if (severity === 'degraded') this.log.warn('STATUS', line, name, 'WARNING');
    else this.log.info('STATUS', line, name);
    this.recomputeCluster();
    this.onChange();
  }

  /** Record observed facts (lag, timeline, WAL position) without changing status. */
  applyFacts(name: string, facts: Partial<ObservedFacts>): void {
    Object.assign(this.mutable(name), facts);
  }

  /** Replace or add a server definition (admin actions). Persists. */
  putServer(name: string, record: ServerRecord, reason: string): void {
    this.bump();
    this.definitionChanges++;
    this.servers[name] = record;
    this.log.info('SERVERS', `${name}: ${reason}`, name);
    this.forgetStalePlannedDown();
    this.recomputeCluster();
    this.onChange();
  }

  removeServer(name: string): void {
    this.bump();
    this.definitionChanges++;
    this.get(name);
    delete this.servers[name];
    this.log.info('SERVERS', `${name}: definition removed`, name);
    this.forgetStalePlannedDown();
    this.recomputeCluster();
    this.onChange();
  }

  /**
   * Take over the state as the leader last stored it (a follower's refresh, a new leader's first
   * read): servers, cluster status, history and synchronous set. Not persisted again (it came
   * from the store); only changes after it are.
   */
  adoptStored(stored: { servers: ServerMap; cluster: ClusterStatus; history: FailoverRecord[]; sync: { record: SyncRecord | null; history: readonly SyncRecord[] } }): void {
    this.bump();
    this.definitionChanges++;
    this.servers = structuredClone(stored.servers);
    this.maintenance = maintenanceOf(stored.cluster);
    this.cluster = { ...stored.cluster, ...this.maintenance };
    this.history = structuredClone(stored.history).slice(-HISTORY_LIMIT);
    this.restoreSync(stored.sync.record, stored.sync.history);
  }

  /** Replace everything (reload with override_server_file). */
  replaceAll(servers: ServerMap, reason: string): void {
    this.bump();
    this.definitionChanges++;
    this.servers = servers;
    this.log.info('SERVERS', `server definitions replaced: ${reason}`);
    this.forgetStalePlannedDown();
    this.recomputeCluster();
    this.onChange();
  }

  /** Recompute the cluster status from the servers; log and persist when it changes. */
  recomputeCluster(): void {
    this.bump();
    const verdict = this.clusterVerdict();
    const previous = this.cluster;
    this.cluster = this.stamped(verdict.status, verdict.message);
    if (previous.status === verdict.status) return;
    const line = describeChange('cluster', previous.status, verdict.status, verdict.message);
    const severity = clusterChangeSeverity(previous.status, verdict.status);
    if (severity === 'failure' && verdict.quiet) {
      this.log.warn('CLUSTER', line);
    } else if (severity === 'failure') {
      this.log.error('CLUSTER', line, undefined, verdict.status === 'down' ? 'CRITICAL' : 'WARNING');
    } else {
      this.log.info('CLUSTER', line);
    }
    this.onChange();
  }

  private clusterVerdict(): ClusterVerdict {
    return clusterStatus(this.servers, {
      judgement: currentJudgement(this.judgement, this.masterName(), this.clock().getTime()),
      plannedDown: this.maintenance.planned_down?.server ?? null,
      paused: this.maintenance.paused === true,
      topologyInFlight: this.topologyInFlight,
    });
  }

  // ---- The judgement of an unanswering master (design.md §5.1) ----------------------------

  /**
   * Record the failover check's judgement of the master that failed its checks: valid for
   * `validSeconds`, it keeps a master the replicas see `warning` (not `unavailable`), sets the
   * cluster status, and raises one alert per situation of the episode.
   */
  recordMasterJudgement(master: string, verdict: MasterFailureVerdict, validSeconds: number, held: HeldFailover | null = null): MasterJudgement {
    this.bump();
    const judgement = judgementFromVerdict(master, verdict, this.clock().getTime(), validSeconds, held);
    this.judgement = judgement;
    const alert = judgementAlert(judgement, this.alertedSituation);
    if (alert !== null) {
      this.alertedSituation = judgementSituation(judgement);
      this.log.error('FAILOVER', alert.message, master, alert.severity);
    }
    if (this.has(master)) {
      const record = this.get(master);
      const adjusted = statusWithJudgement({ status: record.status, message: record.status_message }, judgement);
      if (adjusted.status !== record.status) this.applyStatus(master, adjusted);
    }
    this.recomputeCluster();
    return judgement;
  }

  /**
   * A check verdict of server `name` with the master's judgement applied: no answer from a master
   * the replicas see is `warning`; an answer ends the episode (alerted once when it was alerted)
   * and any planned stop of the server.
   */
  judgedVerdict<V extends StatusVerdict>(name: string, verdict: V, answered: boolean): V {
    if (answered) {
      this.answered(name);
      return verdict;
    }
    if (name !== this.masterName()) return verdict;
    return statusWithJudgement(verdict, currentJudgement(this.judgement, name, this.clock().getTime()));
  }

  /** judgedVerdict for a poll, whose answer also lifts the `warning` the cut-off had set. */
  judgedPoll(name: string, verdict: PollVerdict, answered: boolean): PollVerdict {
    if (!answered) return 'keep' in verdict ? verdict : this.judgedVerdict(name, verdict, false);
    const judgement = name === this.masterName() && this.judgement?.master === name ? this.judgement : null;
    const lifted = verdictOnAnswer(verdict, this.get(name).status, judgement);
    this.answered(name);
    return lifted;
  }

  /** `name` answered a check: its planned stop is over, and so is the master's episode. */
  private answered(name: string): void {
    this.clearPlannedDown(name);
    if (name === this.masterName()) this.endEpisode(name);
  }

  private endEpisode(master: string): void {
    if (this.judgement?.master === master) this.judgement = null;
    const alert = episodeEndAlert(master, this.alertedSituation);
    this.alertedSituation = null;
    if (alert !== null) this.log.warn('STATUS', alert.message, master, 'WARNING');
  }

  // ---- Maintenance (pause) and planned stops ------------------------------------------------

  /** Pause state and the planned stop, as get_status shows them. */
  get maintenanceState(): MaintenanceFields {
    return { ...this.maintenance };
  }

  /** Pause (with who/why, when given) or resume automatic failover. Persists. */
  setPaused(pause: { by: string | null; reason: string | null } | null): void {
    const { planned_down } = this.maintenance;
    this.maintenance = pause === null
      ? { paused: false }
      : { paused: true, paused_at: this.clock().toISOString(), ...(pause.by ? { paused_by: pause.by } : {}), ...(pause.reason ? { paused_reason: pause.reason } : {}) };
    if (planned_down) this.maintenance.planned_down = planned_down;
    this.maintenanceChanged();
  }

  /** Mark `server` as stopped on purpose (shutdown or restart through HandyRep). Persists. */
  setPlannedDown(server: string, action: PlannedDown['action']): void {
    this.maintenance = { ...this.maintenance, planned_down: { server, action, since: this.clock().toISOString() } };
    this.maintenanceChanged();
  }

  /** Clear the planned stop of `server` (it answers again, or was started). Persists on change. */
  clearPlannedDown(server: string): void {
    if (this.maintenance.planned_down?.server !== server) return;
    const { planned_down: _cleared, ...rest } = this.maintenance;
    this.maintenance = rest;
    this.maintenanceChanged();
  }

  /** The cluster status is re-stamped with the new fields (recomputeCluster), and saved. */
  private maintenanceChanged(): void {
    this.recomputeCluster();
    this.onChange();
  }

  /** A planned stop of a server that is no longer the master (a failover or definition change since) is over. */
  private forgetStalePlannedDown(): void {
    const planned = this.maintenance.planned_down;
    if (planned === undefined || planned.server === this.masterName()) return;
    const { planned_down: _stale, ...rest } = this.maintenance;
    this.maintenance = rest;
  }

  private mutable(name: string): ServerRecord {
    this.bump();
    return this.get(name) as ServerRecord;
  }
}
