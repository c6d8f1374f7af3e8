/**
 * Prometheus metrics (prom-client, a registry of our own). Statuses and lag come from HandyRep's
 * cached state at scrape time (get_status, get_server_info: no database round trip); check
 * latencies and failovers are recorded as HandyRep reports them (onCheck, onFailover); cycle
 * counts come from the monitor. Served without authentication: they carry statuses and numbers,
 * nothing a read password would not show, and scrapers rarely do Basic auth.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StatusReport } from '../api/handyrep.js';
import type { ServerMap } from '../model/server.js';
import type { AuthStats } from './auth-gate.js';
import type { DaemonBackend } from './backend.js';

const SYNC_MODE_NUMBERS = { off: 0, on: 1, strict: 2 } as const;

/** The metrics registry of one daemon, fed by HandyRep's listeners and cached state. */
export class DaemonMetrics {
  private readonly registry = new Registry();
  private readonly serverStatus: Gauge;
  private readonly serverEnabled: Gauge;
  private readonly clusterStatus: Gauge;
  private readonly lagBytes: Gauge;
  private readonly lagSeconds: Gauge;
  private readonly cycles: Counter;
  private readonly cycleErrors: Counter;
  private readonly monitorRunning: Gauge;
  private readonly paused: Gauge;
  private readonly syncStandbys: Gauge;
  private readonly synchronousMode: Gauge;
  private readonly authChecks: Counter;
  private readonly authThrottled: Counter;

  constructor(
    private readonly backend: DaemonBackend,
    private readonly authStats: () => AuthStats = () => ({ checks: { accepted: 0, rejected: 0, forbidden: 0 }, throttled: { address: 0, global: 0, parallel: 0 } }),
  ) {
    const registers = [this.registry];
    this.serverStatus = new Gauge({ name: 'handyrep_server_status', help: 'Server status number: 0 unknown, 1 healthy, 2 lagged, 3 warning, 4 unavailable, 5 down.', labelNames: ['server', 'role'], registers });
    this.serverEnabled = new Gauge({ name: 'handyrep_server_enabled', help: '1 when the server is enabled.', labelNames: ['server'], registers });
    this.clusterStatus = new Gauge({ name: 'handyrep_cluster_status', help: 'Cluster status number: 0 unknown, 1 healthy, 3 warning, 5 down.', registers });
    this.lagBytes = new Gauge({ name: 'handyrep_replication_lag_bytes', help: 'WAL not yet replayed by the replica at its last verification, in bytes.', labelNames: ['server'], registers });
    this.lagSeconds = new Gauge({ name: 'handyrep_replication_lag_seconds', help: 'Replay delay of the replica at its last verification, in seconds.', labelNames: ['server'], registers });
    this.cycles = new Counter({ name: 'handyrep_check_cycles_total', help: 'Monitoring cycles (failover checks) run.', registers });
    this.cycleErrors = new Counter({ name: 'handyrep_check_cycle_errors_total', help: 'Monitoring cycles that ended in an unexpected error.', registers });
    this.monitorRunning = new Gauge({ name: 'handyrep_monitor_running', help: '1 while the monitoring schedule runs.', registers });
    this.paused = new Gauge({ name: 'handyrep_paused', help: '1 while automatic failover is paused (maintenance mode: pause / resume).', registers });
    this.syncStandbys = new Gauge({ name: 'handyrep_sync_standbys', help: 'Synchronous standbys every acknowledged commit is guaranteed on (the recorded quorum; 0 = asynchronous).', registers });
    this.synchronousMode = new Gauge({ name: 'handyrep_synchronous_mode', help: 'failover.synchronous_mode: 0 off, 1 on, 2 strict.', registers });
    this.authChecks = new Counter({ name: 'handyrep_auth_checks_total', help: 'Credentials checked by the auth plugin, by result (accepted, rejected, forbidden).', labelNames: ['result'], registers });
    this.authThrottled = new Counter({ name: 'handyrep_auth_throttled_total', help: 'Requests refused with 429 before their credentials were checked, by reason (address, global, parallel).', labelNames: ['reason'], registers });

    const checkSeconds = new Histogram({
      name: 'handyrep_check_duration_seconds',
      help: 'Duration of one poll or verification of one server.',
      labelNames: ['kind'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    const checks = new Counter({ name: 'handyrep_checks_total', help: 'Polls and verifications by outcome.', labelNames: ['kind', 'result'], registers });
    backend.onCheck((event) => {
      checkSeconds.observe({ kind: event.kind }, event.durationMs / 1000);
      checks.inc({ kind: event.kind, result: event.ok ? 'ok' : 'fail' });
    });

    const failovers = new Counter({ name: 'handyrep_failovers_total', help: 'Failovers, switchovers and promotions attempted, by outcome (an automatic failover refused again without an attempt is not counted).', labelNames: ['kind', 'outcome'], registers });
    const lastFailover = new Gauge({ name: 'handyrep_last_failover_duration_seconds', help: 'Duration of the last failover, switchover or promotion.', registers });
    backend.onFailover((event) => {
      failovers.inc({ kind: event.kind, outcome: event.outcome });
      lastFailover.set(event.durationMs / 1000);
    });

    // The event-loop lag histogram samples on a libuv timer: prom-client's 10 ms default wakes an
    // idle daemon 100 times a second (bench:idle); one sample a second is plenty for a monitor.
    collectDefaultMetrics({ register: this.registry, prefix: 'handyrep_', eventLoopMonitoringPrecision: 1000 });
  }

  /** Content type of the exposition format. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text, with the state-derived metrics refreshed first. */
  async render(): Promise<string> {
    const report = (await this.backend.invoke('get_status', {})) as StatusReport;
    const info = (await this.backend.invoke('get_server_info', {})) as ServerMap;
    // Reset first: a removed server or a changed role must not leave a stale series behind.
    for (const gauge of [this.serverStatus, this.serverEnabled, this.lagBytes, this.lagSeconds]) gauge.reset();
    for (const [server, s] of Object.entries(report.servers)) {
      this.serverStatus.set({ server, role: s.role }, s.status_no);
      this.serverEnabled.set({ server }, s.enabled ? 1 : 0);
    }
    for (const [server, record] of Object.entries(info)) {
      if (record.lag_bytes !== null) this.lagBytes.set({ server }, record.lag_bytes);
      if (record.lag_seconds !== null) this.lagSeconds.set({ server }, record.lag_seconds);
    }
    this.clusterStatus.set(report.cluster.status_no);
    this.paused.set(report.cluster.paused === true ? 1 : 0);
    this.syncStandbys.set(report.sync?.recorded?.quorum ?? 0);
    this.synchronousMode.set(report.sync === undefined ? 0 : SYNC_MODE_NUMBERS[report.sync.mode]);
    const monitor = this.backend.monitorStatus();
    // The monitor keeps cumulative counts; the counters mirror them.
    this.cycles.reset();
    this.cycles.inc(monitor.cycles);
    this.cycleErrors.reset();
    this.cycleErrors.inc(monitor.errors);
    this.monitorRunning.set(monitor.running ? 1 : 0);
    const auth = this.authStats();
    this.authChecks.reset();
    for (const [result, count] of Object.entries(auth.checks)) this.authChecks.inc({ result }, count);
    this.authThrottled.reset();
    for (const [reason, count] of Object.entries(auth.throttled)) this.authThrottled.inc({ reason }, count);
    return this.registry.metrics();
  }
}
