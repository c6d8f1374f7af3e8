/**
 * The in-memory book of servers and cluster status. It is the only writer of statuses: it applies
 * the engine's verdicts, logs each status change once ("old → new: reason"), recomputes the
 * cluster status, and tells the persister when something worth saving changed.
 */
import { clusterStatus } from '../engine/cluster-status.js';
import { clusterChangeSeverity, describeChange, serverChangeSeverity } from '../engine/status-change.js';
import type { PollVerdict, StatusVerdict } from '../engine/server-status.js';
import type { EventLog } from '../log/event-log.js';
import { HandyRepError } from '../model/errors.js';
import type { ObservedFacts, ServerMap, ServerRecord } from '../model/server.js';
import { makeClusterStatus, makeServerStatus, type ClusterStatus } from '../model/status.js';
import { HISTORY_LIMIT, type FailoverRecord } from '../model/failover-record.js';

export type Clock = () => Date;

export class ServerBook {
  private cluster: ClusterStatus;
  private history: FailoverRecord[];
  private changes = 0;
  private definitionChanges = 0;

  constructor(
    private servers: ServerMap,
    cluster: ClusterStatus,
    history: FailoverRecord[],
    private readonly log: EventLog,
    private readonly clock: Clock,
    private readonly onChange: () => void,
  ) {
    this.cluster = cluster;
    this.history = history;
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
    this.changes++;
    this.history = [...this.history, structuredClone(record)].slice(-HISTORY_LIMIT);
    this.onChange();
  }

  /** The newest `count` history entries, newest first. */
  recentHistory(count: number): FailoverRecord[] {
    return structuredClone(this.history.slice(-count).reverse());
  }

  /** Set a cluster status directly (during a failover, before servers settle). Logged once. */
  setClusterStatus(status: ClusterStatus['status'], message: string): void {
    this.changes++;
    const previous = this.cluster;
    this.cluster = makeClusterStatus(status, message, this.clock().toISOString());
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
    if (severity === 'failure') this.log.error('STATUS', line, name, 'WARNING');
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
    this.changes++;
    this.definitionChanges++;
    this.servers[name] = record;
    this.log.info('SERVERS', `${name}: ${reason}`, name);
    this.recomputeCluster();
    this.onChange();
  }

  removeServer(name: string): void {
    this.changes++;
    this.definitionChanges++;
    this.get(name);
    delete this.servers[name];
    this.log.info('SERVERS', `${name}: definition removed`, name);
    this.recomputeCluster();
    this.onChange();
  }

  /** Replace everything (reload with override_server_file). */
  replaceAll(servers: ServerMap, reason: string): void {
    this.changes++;
    this.definitionChanges++;
    this.servers = servers;
    this.log.info('SERVERS', `server definitions replaced: ${reason}`);
    this.recomputeCluster();
    this.onChange();
  }

  /** Recompute the cluster status from the servers; log and persist when it changes. */
  recomputeCluster(): void {
    this.changes++;
    const verdict = clusterStatus(this.servers);
    const previous = this.cluster;
    this.cluster = makeClusterStatus(verdict.status, verdict.message, this.clock().toISOString());
    if (previous.status === verdict.status) return;
    const line = describeChange('cluster', previous.status, verdict.status, verdict.message);
    const severity = clusterChangeSeverity(previous.status, verdict.status);
    if (severity === 'failure') {
      this.log.error('CLUSTER', line, undefined, verdict.status === 'down' ? 'CRITICAL' : 'WARNING');
    } else {
      this.log.info('CLUSTER', line);
    }
    this.onChange();
  }

  private mutable(name: string): ServerRecord {
    this.changes++;
    return this.get(name) as ServerRecord;
  }
}
