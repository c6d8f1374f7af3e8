/**
 * What the daemon needs from HandyRep, as one narrow port. Every route goes through `invoke` (the
 * operations table), so the library stays the only actor on the nodes; the rest is read-only
 * observation for health and metrics. Tests give the HTTP layer a fake of this port.
 */
import type { FailoverEvent, HandyRep } from '../api/handyrep.js';
import { invokeOperation } from '../api/invoke.js';
import type { EventLog, LogEntry } from '../log/event-log.js';
import { HandyRepError } from '../model/errors.js';
import type { CheckEvent } from '../runtime/checks.js';
import type { MonitorStatus } from '../runtime/monitor.js';
import type { LeadershipReport } from '../runtime/leadership/etcd-control.js';

/** Where the daemon writes its own log lines (HandyRep's event log). Messages never hold passwords. */
export interface DaemonLog {
  info(category: string, message: string): void;
  warn(category: string, message: string): void;
  error(category: string, message: string): void;
}

/** The daemon's view of HandyRep (see the file comment). */
export interface DaemonBackend {
  /** Call an operation by name with named parameters (validated by the operations table). */
  invoke(name: string, params: Readonly<Record<string, unknown>>): Promise<unknown>;
  monitorStatus(): MonitorStatus;
  /**
   * etcd_lease: who leads and how old this controller's data is, computed now (not kept per state
   * revision: a follower's data ages without any state change); absent/null otherwise.
   */
  leadership?(): { report: LeadershipReport; ttlMs: number; forwardInsecure: boolean } | null;
  /** Changes whenever server or cluster state changes (see OperationSpec.stateOnly). */
  stateRevision(): number;
  onCheck(listener: (event: CheckEvent) => void): void;
  onFailover(listener: (event: FailoverEvent) => void): void;
  /** Told the new state revision at every state change (often: coalesce before reading). */
  onStateChange(listener: (revision: number) => void): void;
  /** Told every log entry as it is written (secrets already masked). */
  onLogEntry(listener: (entry: LogEntry) => void): void;
  readonly log: DaemonLog;
  /** The configuration file HandyRep runs with now (reload_conf may switch it). */
  readonly configFile: string;
}

/** The port over a real HandyRep. */
export function handyRepBackend(hr: HandyRep): DaemonBackend {
  return {
    // Replies and errors are masked: a secret quoted by a node's or a library's error text
    // (a webhook URL, a command's key) never reaches a caller.
    invoke: async (name, params) => {
      try {
        return hr.events.maskSecrets(await invokeOperation(hr, name, params, 'web'));
      } catch (err) {
        throw maskedError(err, hr.events);
      }
    },
    monitorStatus: () => hr.events.maskSecrets(hr.monitorStatus()),
    leadership: () => hr.leadershipStatus(),
    stateRevision: () => hr.stateRevision(),
    onCheck: (listener) => hr.onCheck(listener),
    onFailover: (listener) => hr.onFailover(listener),
    onStateChange: (listener) => hr.onStateChange(listener),
    onLogEntry: (listener) => hr.events.onEntry(listener),
    log: {
      info: (category, message) => hr.events.info(category, message),
      warn: (category, message) => hr.events.warn(category, message),
      error: (category, message) => hr.events.error(category, message),
    },
    get configFile() {
      return hr.configFile;
    },
  };
}

/** The same coded error with its message masked; anything else is left as it is (never shown). */
function maskedError(err: unknown, log: EventLog): unknown {
  if (!(err instanceof HandyRepError)) return err;
  const message = log.maskSecrets(err.message);
  if (message === err.message) return err;
  const parameter = (err as { parameter?: unknown }).parameter;
  return Object.assign(new HandyRepError(err.code, message), parameter === undefined ? {} : { parameter });
}
