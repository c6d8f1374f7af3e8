/**
 * The saved server state, as written to servers.save and to the handyrep table. `version` grows by
 * one on every write and `updated_ms` is the writer's clock: at start the newer copy wins.
 */
import type { ClusterStatus } from '../model/status.js';
import type { ServerMap } from '../model/server.js';
import type { FailoverRecord } from '../model/failover-record.js';
import type { SyncRecord } from '../model/sync-record.js';

export interface SavedState {
  format: 'handyrep-state';
  version: number;
  updated_ms: number;
  servers: ServerMap;
  status: ClusterStatus;
  /** Finished topology changes, newest last (absent in files written before it existed). */
  history?: FailoverRecord[];
  /** The recorded synchronous set (synchronous_mode on/strict); absent or null = none recorded. */
  sync?: SyncRecord | null;
  /** Changes of the synchronous set, newest last. */
  sync_history?: SyncRecord[];
}

/** A loose structural check of data read back from disk or the database. */
export function isSavedState(value: unknown): value is SavedState {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    v.format === 'handyrep-state' &&
    typeof v.version === 'number' &&
    typeof v.updated_ms === 'number' &&
    typeof v.servers === 'object' &&
    v.servers !== null &&
    typeof v.status === 'object' &&
    v.status !== null
  );
}
