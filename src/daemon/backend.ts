/**
 * What the daemon needs from HandyRep, as one narrow port. Every route goes through `invoke` (the
 * operations table), so the library stays the only actor on the nodes; the rest is read-only
 * observation for health and metrics. Tests give the HTTP layer a fake of this port.
 */
import type { FailoverEvent, HandyRep } from '../api/handyrep.js';
import { invokeOperation } from '../api/invoke.js';
import type { CheckEvent } from '../runtime/checks.js';
import type { MonitorStatus } from '../runtime/monitor.js';

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
  /** Changes whenever server or cluster state changes (see OperationSpec.stateOnly). */
  stateRevision(): number;
  onCheck(listener: (event: CheckEvent) => void): void;
  onFailover(listener: (event: FailoverEvent) => void): void;
  readonly log: DaemonLog;
  /** The configuration file HandyRep runs with now (reload_conf may switch it). */
  readonly configFile: string;
}

/** The port over a real HandyRep. */
export function handyRepBackend(hr: HandyRep): DaemonBackend {
  return {
    invoke: (name, params) => invokeOperation(hr, name, params),
    monitorStatus: () => hr.monitorStatus(),
    stateRevision: () => hr.stateRevision(),
    onCheck: (listener) => hr.onCheck(listener),
    onFailover: (listener) => hr.onFailover(listener),
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
