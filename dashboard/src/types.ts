/** The shapes the dashboard reads: the REST API's replies and the /events data (see the API docs). */

// Wire types the daemon already defines: one source (type-only, erased from the bundle).
import type { ActionProgress } from '../../src/model/long-action.js';
export type { ActionProgress } from '../../src/model/long-action.js';
export type { FailoverRecord, StepRecord } from '../../src/model/failover-record.js';
export type { AgentBootStep, AgentEntry, AgentsReport } from '../../src/model/agent-report.js';

export type Access = 'read' | 'admin';

export interface StatusFields {
  status: string;
  status_no: number;
  status_ts: string;
  status_message: string;
}

export interface ClusterStatus extends StatusFields {
  paused?: boolean;
  paused_by?: string;
  paused_at?: string;
  paused_reason?: string;
  /** Shown when present (a later issue: leadership through etcd). */
  leader?: unknown;
  agents?: unknown;
  sync_set?: unknown;
}


export interface ServerRecord extends StatusFields {
  hostname: string;
  role: string;
  enabled: boolean;
  port: number;
  lag_limit: number;
  lag_limit_seconds: number | null;
  failover_priority: number;
  lag_bytes: number | null;
  lag_mb: number | null;
  lag_seconds: number | null;
  timeline: number | null;
  wal_position: string | null;
  wal_position_at: string | null;
  receive_lsn: string | null;
  pg_version_num: number | null;
  action: string | null;
  action_progress: ActionProgress | null;
  fenced: boolean;
  fence_unconfirmed?: boolean;
  [setting: string]: unknown;
}

export type ServerMap = Record<string, ServerRecord>;

export interface StatusReport {
  cluster: ClusterStatus;
  servers: Record<string, StatusFields & { hostname: string; role: string; enabled: boolean }>;
  /** Present when the deployment has etcd (etcd_lease): then its node agents publish member records. */
  leadership?: unknown;
}

export interface LogEntry {
  ts: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  category: string;
  message: string;
  server?: string;
  alert?: string;
}

/** [unix seconds, value…] */
export type Point = number[];

export interface Series {
  lag: Record<string, Point[]>;
  checks: Record<string, Point[]>;
}

/** The RD every action answers with. */
export interface Rd {
  result: 'SUCCESS' | 'FAIL';
  details: string;
  [extra: string]: unknown;
}
