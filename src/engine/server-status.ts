/**
 * Server statuses from observations (seed 004 "Status Information", reference §4.4–4.5, with the
 * original's bugs fixed). Pure: observation in, verdict out.
 *
 * Two rules shape everything here:
 *  - a poll can only tell up from down, so it never improves a status the last verification set
 *    (warning stays warning, lagged stays lagged) — only "nothing answered" states recover;
 *  - "down" needs evidence that PostgreSQL is not running (connection refused by a reachable host,
 *    or the node's own pg_ctl status); no answer at all is "unavailable".
 */
import type { ServerStatusName } from '../model/status.js';
import type { Role } from '../model/server.js';
import type { ConnectFailureKind } from '../nodes/ports.js';
import type { PollOutcome, ReplicationObservation, VerifyObservation } from './observations.js';

export interface StatusVerdict {
  status: ServerStatusName;
  message: string;
}

/** A poll verdict: a new status, or `keep` (refresh the timestamp only). */
export type PollVerdict = StatusVerdict | { keep: true; message: string };

const RECOVERABLE_BY_POLL: ReadonlySet<ServerStatusName> = new Set(['unknown', 'unavailable', 'down']);

/** Status after a poll of a server with the given role and previous status. */
export function statusAfterPoll(role: Role, previous: ServerStatusName, outcome: PollOutcome): PollVerdict {
  if (!outcome.ok) return statusAfterFailedConnect(outcome.kind, outcome.reason);
  if (role === 'master' && outcome.inRecovery === true) {
    return { status: 'warning', message: 'configured master is in recovery: it is a replica' };
  }
  if (role === 'replica' && outcome.inRecovery === false) {
    return { status: 'warning', message: 'replica is not in recovery: it was promoted or started as a master' };
  }
  const message = role === 'master' ? 'master responding to polling' : 'server responding to polling';
  if (RECOVERABLE_BY_POLL.has(previous)) return { status: 'healthy', message };
  return { keep: true, message };
}

function statusAfterFailedConnect(kind: ConnectFailureKind, reason: string): StatusVerdict {
  switch (kind) {
    case 'refused':
      return { status: 'down', message: `PostgreSQL is not running: connection refused (${reason})` };
    case 'timeout':
      return { status: 'unavailable', message: `server does not respond: ${reason}` };
    case 'starting':
      return { status: 'warning', message: `PostgreSQL is starting up or shutting down: ${reason}` };
    case 'auth':
      return { status: 'warning', message: `PostgreSQL answers but refuses HandyRep's login: ${reason}` };
    case 'other':
      return { status: 'unavailable', message: `cannot reach server: ${reason}` };
  }
}

/** Limits a replica's replication status is judged against. */
export interface LagLimits {
  lagLimitMb: number;
  lagLimitSeconds: number | null;
}

/** Verification verdict plus the per-channel issues the RD reports (`ssh`, `psql`). */
export interface VerifyVerdict extends StatusVerdict {
  /** SUCCESS: the server is running (possibly with non-fatal issues). */
  ok: boolean;
  issues: { ssh?: string; psql?: string };
}

/** Status after a full verification of a master. */
export function statusAfterMasterVerify(obs: VerifyObservation): VerifyVerdict {
  const issues = channelIssues(obs);
  const unreachable = unreachableVerdict(obs, issues, 'master');
  if (unreachable) return unreachable;
  if (!obs.sql.ok) throw new Error('unreachable: sql failure handled above');
  if (obs.sql.inRecovery) {
    return { ok: false, status: 'warning', message: 'configured master is in recovery: it is a replica', issues };
  }
  if (obs.write && !obs.write.ok) {
    return { ok: false, status: 'down', message: `master is running but cannot write: ${obs.write.reason}`, issues };
  }
  if (!obs.control.ok) {
    return { ok: true, status: 'warning', message: `master passed verification but has no control channel: ${obs.control.reason}`, issues };
  }
  return { ok: true, status: 'healthy', message: 'master passed verification', issues };
}

/** Status after a full verification of a replica; `masterStatus` is the master's current status. */
export function statusAfterReplicaVerify(
  obs: VerifyObservation,
  limits: LagLimits,
  masterStatus: ServerStatusName | null,
  previous: ServerStatusName,
): VerifyVerdict {
  const issues = channelIssues(obs);
  const unreachable = unreachableVerdict(obs, issues, 'replica');
  if (unreachable) return unreachable;
  if (!obs.sql.ok) throw new Error('unreachable: sql failure handled above');
  if (!obs.sql.inRecovery) {
    return { ok: false, status: 'warning', message: 'replica is not in recovery: it was promoted or started as a master', issues };
  }
  const controlNote = obs.control.ok ? '' : `; no control channel: ${obs.control.reason}`;
  const replication = obs.replication;
  const masterGone = masterStatus === null || masterStatus === 'down' || masterStatus === 'unavailable';
  if (!replication || !replication.ok || (!replication.value.streaming && masterGone)) {
    const reason = !replication ? 'no replication status' : replication.ok ? 'not streaming' : replication.reason;
    // While the master is gone a replica cannot stream; its last status stays (it is what
    // failover candidates are judged by), but an unknown one is at least known to be running.
    if (masterGone) {
      const kept = previous === 'unknown' || previous === 'unavailable' || previous === 'down' ? 'warning' : previous;
      return { ok: true, status: kept, message: `master unreachable, keeping last replication status (${reason})${controlNote}`, issues };
    }
    return { ok: true, status: 'warning', message: `cannot check replication status: ${reason}${controlNote}`, issues };
  }
  const rep = replication.value;
  if (!rep.streaming) {
    return { ok: false, status: 'unavailable', message: `replica is not streaming from the master${controlNote}`, issues };
  }
  const lagged = lagVerdict(rep, limits);
  if (lagged) return { ok: true, status: 'lagged', message: `${lagged}${controlNote}`, issues };
  if (!obs.control.ok) {
    return { ok: true, status: 'warning', message: `replica passed verification but has no control channel: ${obs.control.reason}`, issues };
  }
  return { ok: true, status: 'healthy', message: 'replica is streaming within its lag limit', issues };
}

/** A sentence describing why the replica is lagged, or null when within limits. */
export function lagVerdict(rep: ReplicationObservation, limits: LagLimits): string | null {
  const lagMb = rep.lagBytes === null ? null : rep.lagBytes / 1048576;
  if (lagMb !== null && lagMb > limits.lagLimitMb) {
    return `replica is lagging ${lagMb.toFixed(1)} MB behind the master (lag_limit ${limits.lagLimitMb} MB)`;
  }
  if (limits.lagLimitSeconds !== null && rep.lagSeconds !== null && rep.lagSeconds > limits.lagLimitSeconds) {
    return `replica is lagging ${rep.lagSeconds.toFixed(1)} s behind the master (lag_limit_seconds ${limits.lagLimitSeconds})`;
  }
  return null;
}

function channelIssues(obs: VerifyObservation): { ssh?: string; psql?: string } {
  const issues: { ssh?: string; psql?: string } = {};
  if (!obs.control.ok) issues.ssh = obs.control.reason;
  if (!obs.sql.ok) issues.psql = obs.sql.reason;
  return issues;
}

/** The verdict when no SQL session could be opened, or null when SQL works. */
function unreachableVerdict(
  obs: VerifyObservation,
  issues: { ssh?: string; psql?: string },
  label: 'master' | 'replica',
): VerifyVerdict | null {
  if (obs.sql.ok) return null;
  if (!obs.control.ok) {
    if (obs.sql.kind === 'refused') {
      return { ok: false, status: 'down', message: `${label} refuses connections and has no control channel: PostgreSQL is not running`, issues };
    }
    return { ok: false, status: 'unavailable', message: `${label} does not respond: database and control channel both failing`, issues };
  }
  if (obs.running === false) {
    return { ok: false, status: 'down', message: `${label} is down: PostgreSQL is not running`, issues };
  }
  if (obs.sql.kind === 'starting') {
    return { ok: true, status: 'warning', message: `${label} is starting up or shutting down: ${obs.sql.reason}`, issues };
  }
  return { ok: true, status: 'warning', message: `${label} is running but HandyRep cannot connect: ${obs.sql.reason}`, issues };
}
