/**
 * A server as HandyRep keeps it: its definition (settings merged from server_defaults and its own
 * overrides), its status, and the facts the last checks observed. This is what servers.save, the
 * handyrep table and get_server_info hold.
 */
import type { ServerSettings } from '../config/schema.js';
import type { ServerStatus } from './status.js';
import type { ActionProgress, LongActionKind } from './long-action.js';

export type Role = 'master' | 'replica' | 'proxy' | 'pgbouncer' | 'archive' | (string & {});

/** Roles of connection proxies (checked through the connection failover plugin). */
export function isProxyRole(role: Role): role is 'proxy' | 'pgbouncer' {
  return role === 'proxy' || role === 'pgbouncer';
}

/** Roles whose PostgreSQL HandyRep polls and verifies. */
export function isDatabaseRole(role: Role): role is 'master' | 'replica' {
  return role === 'master' || role === 'replica';
}

export interface ServerDefinition extends ServerSettings {
  hostname: string;
  role: Role;
  enabled: boolean;
}

/** Facts from the last checks; null when not observed (yet). */
export interface ObservedFacts {
  /** WAL not yet replayed by a replica, in bytes (master's current LSN − replica's replay LSN). */
  lag_bytes: number | null;
  /** lag_bytes in MB (1 MB = 1048576 bytes), the unit of lag_limit. */
  lag_mb: number | null;
  /** Seconds since the replica replayed its last transaction while WAL is waiting; 0 when caught up. */
  lag_seconds: number | null;
  /** Current timeline of the server. */
  timeline: number | null;
  /** Last known WAL position (master: current WAL LSN, at every successful poll and verification; replica: last replayed LSN). */
  wal_position: string | null;
  /** When wal_position was observed (ISO 8601). */
  wal_position_at: string | null;
  /** Replica: last WAL position received (pg_last_wal_receive_lsn) at its last verification. */
  receive_lsn: string | null;
  /** PostgreSQL server_version_num, e.g. 150018. */
  pg_version_num: number | null;
  /** The long action running on this server (a clone), or null. A value left by a controller that stopped mid-clone means that clone was interrupted. */
  action: LongActionKind | null;
  /** Progress of the running long action, or how the last one ended; null when there was none. */
  action_progress: ActionProgress | null;
  /** Master: pg_stat_archiver.failed_count at the last verification (archiving on), to see it grow. */
  archive_failed_count: number | null;
}

/** State HandyRep keeps about a server beyond its definition. */
export interface ServerFlags {
  /**
   * An old master taken out of service by a failover: it must never be writable again. Fenced
   * servers are still polled, and stopped at once if they come back writable; only a rejoin
   * (pg_rewind) or a reclone clears the flag.
   */
  fenced: boolean;
  /**
   * Fenced without proof: it could not be reached when another server was promoted (the proxies
   * were repointed away from it instead). The cluster stays in warning until it is seen stopped
   * or read-only. Absent in states saved before this flag existed.
   */
  fence_unconfirmed?: boolean;
}

export const NO_FLAGS: Readonly<ServerFlags> = Object.freeze({ fenced: false });

export interface ServerRecord extends ServerDefinition, ServerStatus, ObservedFacts, ServerFlags {}

export const NO_FACTS: Readonly<ObservedFacts> = Object.freeze({
  lag_bytes: null,
  lag_mb: null,
  lag_seconds: null,
  timeline: null,
  wal_position: null,
  wal_position_at: null,
  receive_lsn: null,
  pg_version_num: null,
  action: null,
  action_progress: null,
  archive_failed_count: null,
});

export type ServerMap = Record<string, ServerRecord>;
