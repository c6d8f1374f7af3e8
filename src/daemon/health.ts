/**
 * Health verdicts for load balancers (HAProxy `option httpchk`), from HandyRep's cached state:
 * pure functions of a get_status report, so a check costs no database round trip.
 *
 * - primary: 200 when the server is the enabled master and its status is `healthy` or `warning`
 *   (it answers SQL; `warning` is e.g. a lost ssh control channel, and routing writes away from a
 *   master that serves them would turn a monitoring problem into an outage; so is a master only
 *   HandyRep cannot reach while its replicas see it, see engine/master-vantage.ts); 503 otherwise,
 *   including `unknown` (not checked yet), `unavailable` and `down`.
 * - replica: 200 when the server is an enabled replica whose status is `healthy` (streaming
 *   within its lag limits), and, with `?lag=`, whose last measured lag is at most that; a
 *   `lagged` or `warning` replica (not streaming, promoted, unreadable lag) gets 503.
 * - an unknown server name gets 404, so a typo in a check line is visible as such.
 * - /health: statuses and counts for anyone; the monitor's error texts and the cluster's message
 *   (which name hosts) only with the read password.
 */
import type { LeadershipReport } from '../runtime/leadership/etcd-control.js';
import type { ServerStatusSummary, StatusReport } from '../api/handyrep.js';
import type { MonitorStatus } from '../runtime/monitor.js';

/** HTTP status and small JSON body of a health check. */
export interface HealthVerdict {
  status: 200 | 400 | 404 | 503;
  body: Record<string, unknown>;
}

const PRIMARY_OK: ReadonlySet<string> = new Set(['healthy', 'warning']);

function summaryBody(server: string, s: ServerStatusSummary): Record<string, unknown> {
  return { server, role: s.role, enabled: s.enabled, status: s.status, status_no: s.status_no };
}

function unknownServer(server: string): HealthVerdict {
  return { status: 404, body: { server, error: 'no server of that name is configured' } };
}

/** Is `server` the master clients should write to? */
export function primaryHealth(report: StatusReport, server: string): HealthVerdict {
  const s = Object.hasOwn(report.servers, server) ? report.servers[server] : undefined;
  if (!s) return unknownServer(server);
  const ok = s.role === 'master' && s.enabled && PRIMARY_OK.has(s.status);
  return { status: ok ? 200 : 503, body: { ...summaryBody(server, s), primary: ok } };
}

/** Is `server` a replica clients may read from (and within `maxLagBytes`, when given)? */
export function replicaHealth(report: StatusReport, server: string, lagBytes: number | null, maxLagBytes: number | null): HealthVerdict {
  const s = Object.hasOwn(report.servers, server) ? report.servers[server] : undefined;
  if (!s) return unknownServer(server);
  let ok = s.role === 'replica' && s.enabled && s.status === 'healthy';
  const body: Record<string, unknown> = { ...summaryBody(server, s), lag_bytes: lagBytes };
  if (maxLagBytes !== null) {
    body['max_lag_bytes'] = maxLagBytes;
    // An unmeasured lag is not "within the limit".
    ok = ok && lagBytes !== null && lagBytes <= maxLagBytes;
  }
  return { status: ok ? 200 : 503, body: { ...body, replica: ok } };
}

const UNITS: Readonly<Record<string, number>> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };

/** `?lag=` as bytes: `1048576`, `512kB`, `16MB`, `1.5GB` (units of 1024, any case); null when invalid. */
export function parseLagLimit(text: string): number | null {
  const match = /^\s*([0-9]{1,15}(?:\.[0-9]{1,6})?)\s*([kKmMgGtT]?[bB])?\s*$/.exec(text);
  if (!match) return null;
  const unit = UNITS[(match[2] ?? 'b').toLowerCase()] ?? 1;
  return Math.floor(Number(match[1]) * unit);
}

/** What /health tells a caller without the read password: statuses and counts, no names, hosts or texts. */
export function publicDaemonHealth(report: StatusReport, monitor: MonitorStatus): Record<string, unknown> {
  const { status, status_no, status_ts } = report.cluster;
  return {
    status: 'running',
    monitor: { running: monitor.running, cycles: monitor.cycles, errors: monitor.errors, last_cycle_ts: monitor.last_cycle_ts, last_duration_ms: monitor.last_duration_ms },
    cluster: { status, status_no, status_ts, paused: report.cluster.paused === true },
  };
}

/** /health for a caller with the read (or admin) password: the monitor's last error and result, the cluster's message. */
export function fullDaemonHealth(report: StatusReport, monitor: MonitorStatus): Record<string, unknown> {
  return { status: 'running', monitor, cluster: report.cluster };
}

/**
 * Why a follower's statuses must not answer a load balancer's check (etcd_lease): no leader, etcd
 * unreadable, or its data older than the lease ttl (the leader may be gone and the topology
 * changed since). null = fresh enough, or this controller leads, or no etcd at all. Never a
 * stale 200.
 */
export function followerDataProblem(leadership: { report: LeadershipReport; ttlMs: number } | null): string | null {
  if (leadership === null || leadership.report.leading) return null;
  const { report, ttlMs } = leadership;
  if (report.stale_reason !== null) return report.stale_reason;
  if (report.leader === null) return 'no controller leads';
  if (report.data_age_ms === null) return 'the store was not read yet';
  if (report.data_age_ms > ttlMs) return `the data is ${report.data_age_ms} ms old, more than the lease ttl (${ttlMs} ms)`;
  return null;
}
