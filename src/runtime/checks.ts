/**
 * Poll and verify (seed 004 "Availability API"): observe through plugins, let the engine decide,
 * record the verdict in the server book. Polls of several servers run in parallel, so one
 * unreachable server costs one connect timeout, not one per server. Verifications go through the
 * environment's single flight (single-flight.ts): per server, and one full verification at a time.
 * Callers say whether they may share a run in progress (`join`, readers) or need one that starts
 * after them (`fresh`, the default: steps that just changed the cluster).
 */
import { statusAfterMasterVerify, statusAfterPoll, statusAfterReplicaVerify, type VerifyVerdict } from '../engine/server-status.js';
import { failure, success, type Rd } from '../model/rd.js';
import { describeError } from '../model/errors.js';
import type { PollOutcome } from '../engine/observations.js';
import { isDatabaseRole, isProxyRole, type ServerRecord } from '../model/server.js';
import type { ServerStatusName } from '../model/status.js';
import type { PluginRegistry } from '../plugins/registry.js';
import type { ConnectionPlugin, PluginContext, ServerRef } from '../plugins/types.js';
import type { ServerBook } from './server-book.js';
import { observeMasterPosition, observePoll, observeVerify, type ObserveEnv } from './observe.js';
import { bytesToMb, replicaLagToRecord } from '../engine/lag.js';
import type { ReplicationObservation } from '../engine/observations.js';
import { archiveVerdict } from './archive/archiving.js';
import { connectionPlugin, proxyNames } from './connection/proxies.js';
import type { FlightShare, SingleFlight } from './single-flight.js';

/** One finished poll or verification, for metrics. */
export interface CheckEvent {
  kind: 'poll' | 'verify';
  server: string;
  durationMs: number;
  status: ServerStatusName;
  ok: boolean;
}

export interface ChecksEnv {
  book: ServerBook;
  plugins: PluginRegistry;
  ctx: () => PluginContext;
  /** Told about every finished check (metrics); must not throw. */
  report?: (event: CheckEvent) => void;
  /** Verifications of one target run one at a time, shared by concurrent callers (none: each runs). */
  flight?: SingleFlight;
}

export type PollRd = Rd<{ status: ServerStatusName }>;
export type PollAllRd = Rd<{ failover_ok: boolean; servers: Record<string, PollRd> }>;
export type VerifyRd = Rd<{ status: ServerStatusName; ssh?: string; psql?: string }>;
export type VerifyAllRd = Rd<{ failover_ok: boolean; servers: Record<string, VerifyRd> }>;

export function serverRef(name: string, record: Readonly<ServerRecord>): ServerRef {
  return { ...record, name };
}

export class Checks {
  constructor(private readonly env: ChecksEnv) {}

  private observeEnv(): ObserveEnv {
    return { ctx: this.env.ctx(), plugins: this.env.plugins };
  }

  private ref(name: string): ServerRef {
    return serverRef(name, this.env.book.get(name));
  }

  /** Poll one database server and record the verdict. */
  async pollServer(name: string): Promise<PollRd> {
    const server = this.ref(name);
    const started = performance.now();
    const outcome = await observePoll(this.observeEnv(), server);
    if (outcome.ok && server.role === 'master') await this.recordMasterPosition(name, server, outcome.walPosition);
    const current = this.env.book.get(name);
    this.env.book.applyStatus(name, this.env.book.judgedPoll(name, statusAfterPoll(current.role, current.status, outcome), outcome.ok));
    const after = this.env.book.get(name);
    this.env.report?.({ kind: 'poll', server: name, durationMs: performance.now() - started, status: after.status, ok: outcome.ok });
    const details = outcome.ok ? `${name} responds to polling (${outcome.latencyMs} ms)` : `${name}: ${outcome.reason}`;
    return outcome.ok ? success(details, { status: after.status }) : failure(details, { status: after.status });
  }

  /**
   * Every successful poll of the master records its WAL position: failover candidates' lag is
   * judged against it. Read in a session of its own only when the poll plugin did not report it.
   */
  private async recordMasterPosition(name: string, server: ServerRef, reported: string | null | undefined): Promise<void> {
    const position = reported !== undefined ? reported : await observeMasterPosition(this.observeEnv(), server);
    if (position !== null) this.env.book.applyFacts(name, { wal_position: position, wal_position_at: new Date().toISOString() });
  }

  /**
   * The lag to record for a replica. A verification that could not ask the master (masterLsn null)
   * never lowers it; a plugin that does not say what it measured against is taken at its word.
   */
  private replicaLagBytes(name: string, rep: ReplicationObservation): number | null {
    const masterName = this.env.book.masterName();
    return replicaLagToRecord({
      measuredBytes: rep.lagBytes,
      measuredAgainstMaster: rep.masterLsn !== null,
      recordedBytes: this.env.book.get(name).lag_bytes,
      masterPosition: masterName === null ? null : this.env.book.get(masterName).wal_position,
      replicaReplayed: rep.replayLsn,
    });
  }

  /** Poll the current master. */
  async pollMaster(): Promise<PollRd> {
    const master = this.env.book.masterName();
    if (master === null) {
      this.env.book.recomputeCluster();
      const masters = this.env.book.enabledMasters();
      const why = masters.length > 1 ? `more than one enabled master: ${masters.join(', ')}` : 'no enabled master is configured';
      return failure(`poll failed: ${why}`, { status: 'unknown' });
    }
    return this.pollServer(master);
  }

  /** Poll every enabled master and replica in parallel. */
  async pollAll(): Promise<PollAllRd> {
    const names = this.enabledDatabaseServers();
    const results = await Promise.all(names.map(async (n) => [n, await this.pollServer(n)] as const));
    const servers = Object.fromEntries(results);
    return this.summarise(servers);
  }

  /** Verify the master: control channel, connection, recovery state, a committed write. */
  async verifyMaster(share: FlightShare = 'fresh'): Promise<VerifyRd> {
    const master = this.env.book.masterName();
    if (master === null) {
      this.env.book.recomputeCluster();
      return failure('no single enabled master is configured', { status: 'unknown' });
    }
    return this.verifyShared(master, share);
  }

  /** Verify a replica: control channel, connection, recovery, streaming, lag. */
  async verifyReplica(name: string, share: FlightShare = 'fresh'): Promise<VerifyRd> {
    const record = this.env.book.get(name);
    if (record.role !== 'replica') return failure(`${name} is not a replica (role ${record.role})`, { status: record.status });
    return this.verifyShared(name, share);
  }

  /** Verify any server by its role; disabled servers are not checked. */
  async verifyServer(name: string, share: FlightShare = 'fresh'): Promise<VerifyRd> {
    const record = this.env.book.get(name);
    if (!record.enabled) return success(`${name} is disabled; not verified`, { status: record.status });
    if (record.role === 'master' || record.role === 'replica') return this.verifyShared(name, share);
    if (isProxyRole(record.role)) return this.pollProxy(name);
    return failure(`${name}: no verification is defined for role ${record.role}`, { status: record.status });
  }

  /** Poll one connection proxy through the connection plugin (a session through it). */
  async pollProxy(name: string): Promise<PollRd> {
    const record = this.env.book.get(name);
    let plugin: ConnectionPlugin | null;
    try {
      plugin = connectionPlugin(this.env);
    } catch (err) {
      return failure(describeError(err), { status: record.status });
    }
    if (plugin === null || !plugin.proxyRoles.includes(record.role)) {
      return success(`${name}: no connection failover plugin manages role ${record.role}; not polled`, { status: record.status });
    }
    const started = performance.now();
    let outcome: PollOutcome;
    try {
      outcome = await plugin.poll(this.env.ctx(), this.ref(name));
    } catch (err) {
      outcome = { ok: false, kind: 'other', reason: describeError(err), latencyMs: 0 };
    }
    this.env.book.applyStatus(name, statusAfterPoll(record.role, this.env.book.get(name).status, outcome));
    const after = this.env.book.get(name);
    this.env.report?.({ kind: 'poll', server: name, durationMs: performance.now() - started, status: after.status, ok: outcome.ok });
    return outcome.ok ? success(`${name}: clients get through (${outcome.latencyMs} ms)`, { status: after.status }) : failure(`${name}: ${outcome.reason}`, { status: after.status });
  }

  /** Every enabled server (see verifyAllNow); at most one such run at a time. */
  verifyAll(share: FlightShare = 'fresh'): Promise<VerifyAllRd> {
    return this.env.flight ? this.env.flight.run('verify all', share, () => this.verifyAllNow()) : this.verifyAllNow();
  }

  private verifyShared(name: string, share: FlightShare): Promise<VerifyRd> {
    return this.env.flight ? this.env.flight.run(`verify ${name}`, share, () => this.verifyNamed(name)) : this.verifyNamed(name);
  }

  /** Verify the master first (replicas are judged against its fresh status), then replicas in parallel. */
  private async verifyAllNow(): Promise<VerifyAllRd> {
    const names = this.enabledDatabaseServers();
    const masters = names.filter((n) => this.env.book.get(n).role === 'master');
    const replicas = names.filter((n) => this.env.book.get(n).role === 'replica');
    const servers: Record<string, VerifyRd> = {};
    for (const m of masters) servers[m] = await this.verifyNamed(m);
    const replicaResults = await Promise.all(replicas.map(async (n) => [n, await this.verifyNamed(n)] as const));
    for (const [n, rd] of replicaResults) servers[n] = rd;
    const summary = this.summarise(servers);
    return this.env.ctx().config.failover.poll_connection_proxy ? this.withProxyPolls(summary) : summary;
  }

  /** Adds a poll of every managed proxy; a failing proxy never makes failover unsafe, but is reported. */
  private async withProxyPolls(summary: VerifyAllRd): Promise<VerifyAllRd> {
    let plugin: ConnectionPlugin | null;
    try {
      plugin = connectionPlugin(this.env);
    } catch {
      return summary; // a plugin that does not load was refused when the configuration was
    }
    if (plugin === null) return summary;
    const polls = await Promise.all(proxyNames(this.env, plugin).map(async (n) => [n, await this.pollProxy(n)] as const));
    const failed = polls.filter(([, rd]) => rd.result !== 'SUCCESS').map(([n]) => n);
    const servers = { ...summary.servers, ...Object.fromEntries(polls) };
    return failed.length === 0 ? { ...summary, servers } : { ...summary, servers, details: `${summary.details}; proxies failing: ${failed.join(', ')}` };
  }

  private async verifyNamed(name: string): Promise<VerifyRd> {
    const server = this.ref(name);
    const masterName = this.env.book.masterName();
    const master = masterName !== null && masterName !== name ? this.ref(masterName) : null;
    const started = performance.now();
    const observation = await observeVerify(this.observeEnv(), server, master);
    const current = this.env.book.get(name);
    let verdict: VerifyVerdict;
    if (server.role === 'master') {
      // No answer from a master the replicas see (the last judgement) is a warning, not unavailable.
      verdict = this.env.book.judgedVerdict(name, statusAfterMasterVerify(observation), observation.sql.ok);
      // WAL archiving's health (archiving on): a failing archiver makes a healthy master `warning`.
      if (observation.sql.ok) verdict = await archiveVerdict(this.env, server, verdict);
    } else {
      const masterStatus = masterName === null ? null : this.env.book.get(masterName).status;
      verdict = statusAfterReplicaVerify(
        observation,
        { lagLimitMb: current.lag_limit, lagLimitSeconds: current.lag_limit_seconds },
        masterStatus,
        current.status,
      );
    }
    if (observation.sql.ok) {
      this.env.book.applyFacts(name, {
        timeline: observation.sql.timeline,
        wal_position: observation.sql.walPosition,
        wal_position_at: new Date().toISOString(),
        pg_version_num: observation.sql.versionNum,
      });
    }
    if (observation.replication?.ok) {
      const rep = observation.replication.value;
      const lagBytes = this.replicaLagBytes(name, rep);
      this.env.book.applyFacts(name, {
        lag_bytes: lagBytes,
        lag_mb: lagBytes === null ? null : bytesToMb(lagBytes),
        lag_seconds: rep.lagSeconds,
        receive_lsn: rep.receiveLsn,
        ...(rep.timeline !== null ? { timeline: rep.timeline } : {}),
      });
    }
    this.env.book.applyStatus(name, verdict);
    this.env.report?.({ kind: 'verify', server: name, durationMs: performance.now() - started, status: verdict.status, ok: verdict.ok });
    const extra = { status: verdict.status, ...verdict.issues };
    return verdict.ok ? success(`${name}: ${verdict.message}`, extra) : failure(`${name}: ${verdict.message}`, extra);
  }

  private enabledDatabaseServers(): string[] {
    return this.env.book.names().filter((n) => {
      const s = this.env.book.get(n);
      return s.enabled && isDatabaseRole(s.role);
    });
  }

  /** The RD of poll_all / verify_all: SUCCESS iff the single master is fine; failover_ok iff a replica is too. */
  private summarise<T extends PollRd | VerifyRd>(servers: Record<string, T>): Rd<{ failover_ok: boolean; servers: Record<string, T> }> {
    const masters = this.env.book.enabledMasters();
    if (masters.length !== 1) {
      this.env.book.recomputeCluster();
      const why = masters.length === 0 ? 'no enabled master is configured' : `more than one enabled master: ${masters.join(', ')}`;
      return failure(why, { failover_ok: false, servers });
    }
    const master = masters[0] as string;
    const workingReplicas = Object.entries(servers).filter(
      ([n, rd]) => n !== master && this.env.book.get(n).role === 'replica' && rd.result === 'SUCCESS',
    );
    const failoverOk = workingReplicas.length > 0;
    const masterRd = servers[master];
    const masterOk = masterRd?.result === 'SUCCESS';
    const replicaNote = failoverOk ? `${workingReplicas.length} working replica(s)` : 'no working replica';
    return masterOk
      ? success(`master ${master} is working; ${replicaNote}`, { failover_ok: failoverOk, servers })
      : failure(`master ${master} failed its check: ${masterRd?.details ?? 'not checked'}; ${replicaNote}`, { failover_ok: failoverOk, servers });
  }
}
