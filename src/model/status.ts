/**
 * Server and cluster statuses (seed 004, design.md §3). The numbers are part of the
 * wire contract: monitoring systems alert on `status_no` thresholds.
 */
import type { MaintenanceFields } from './maintenance.js';

export const SERVER_STATUSES = ['unknown', 'healthy', 'lagged', 'warning', 'unavailable', 'down'] as const;
export type ServerStatusName = (typeof SERVER_STATUSES)[number];

export const CLUSTER_STATUSES = ['unknown', 'healthy', 'warning', 'down'] as const;
export type ClusterStatusName = (typeof CLUSTER_STATUSES)[number];

const SERVER_STATUS_NUMBERS: Readonly<Record<ServerStatusName, number>> = {
  unknown: 0,
  healthy: 1,
  lagged: 2,
  warning: 3,
  unavailable: 4,
  down: 5,
};

const CLUSTER_STATUS_NUMBERS: Readonly<Record<ClusterStatusName, number>> = {
  unknown: 0,
  healthy: 1,
  warning: 3,
  down: 5,
};

/** The four status fields every server and the cluster carry. */
export interface StatusFields<Name extends string = string> {
  status: Name;
  status_no: number;
  /** ISO-8601 UTC time of the last check that produced this status. */
  status_ts: string;
  status_message: string;
}

export type ServerStatus = StatusFields<ServerStatusName>;
/** The cluster's status, and whether failover is paused or the master is down on purpose. */
export type ClusterStatus = StatusFields<ClusterStatusName> & MaintenanceFields;

export function serverStatusNumber(name: ServerStatusName): number {
  return SERVER_STATUS_NUMBERS[name];
}

export function clusterStatusNumber(name: ClusterStatusName): number {
  return CLUSTER_STATUS_NUMBERS[name];
}

export function makeServerStatus(status: ServerStatusName, message: string, ts: string): ServerStatus {
  return { status, status_no: serverStatusNumber(status), status_ts: ts, status_message: message };
}

export function makeClusterStatus(status: ClusterStatusName, message: string, ts: string): ClusterStatus {
  return { status, status_no: clusterStatusNumber(status), status_ts: ts, status_message: message };
}

/** A server is "available" when it answers at all: healthy, lagged or warning. */
export function isAvailableStatus(status: ServerStatusName): boolean {
  const n = serverStatusNumber(status);
  return n >= 1 && n <= 3;
}

/** Epoch zero, used before anything was checked. */
export const NEVER_CHECKED_TS = '1970-01-01T00:00:00.000Z';
