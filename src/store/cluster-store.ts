/**
 * The port through which the runtime persists what must outlive a controller: the saved state
 * (servers, cluster status, failover history), the failover journal and the leadership history.
 * Two backends: `local` (servers.save beside the configuration, as today; local-cluster-store.ts)
 * and `etcd` (design §9; etcd-cluster-store.ts), chosen by `handyrep.store`.
 *
 * Contract for every backend:
 * - readJournal: null when there is no journal; a journal that exists but cannot be read or
 *   understood throws (STATE_FILE locally, STORE_DATA in etcd): an interrupted topology change is
 *   never silently ignored, start-up stops.
 * - readState: 'missing' (never written), 'invalid' with the reason, or the state.
 * - Writes of the etcd backend succeed only while this controller leads (term-guarded): otherwise
 *   NOT_LEADER and nothing is written. An etcd that does not answer within retry_timeout gives
 *   STORE_UNREACHABLE (the write may or may not have happened).
 *
 * The handyrep table copy of the state (state-table.ts) is not part of this port: it needs a
 * session on the master and stays with the runtime.
 */
import type { FailoverRecord } from '../model/failover-record.js';
import type { SavedState } from './saved-state.js';

export type StoredStateRead = { kind: 'missing' } | { kind: 'invalid'; reason: string } | { kind: 'ok'; state: SavedState };

/** One leadership change, as the controller that led recorded it. */
export interface ControllerHistoryEntry {
  /** ISO 8601. */
  at: string;
  controller_id: string;
  event: 'leading' | 'resigned';
  /** The leadership term (etcd create revision of the leader key); null without etcd. */
  term: string | null;
  details: string;
}

/** How many leadership changes are kept. */
export const CONTROLLER_HISTORY_LIMIT = 200;

export interface ClusterStore {
  readonly kind: 'local' | 'etcd';
  readState(): Promise<StoredStateRead>;
  writeState(state: SavedState): Promise<void>;
  readJournal(): Promise<FailoverRecord | null>;
  writeJournal(record: FailoverRecord): Promise<void>;
  clearJournal(): Promise<void>;
  /** Appends a leadership change (the oldest beyond CONTROLLER_HISTORY_LIMIT are dropped). */
  recordControllerEvent(entry: ControllerHistoryEntry): Promise<void>;
  /** Leadership changes, oldest first. */
  readControllerHistory(): Promise<ControllerHistoryEntry[]>;
}

/** A loose structural check of a controller history entry read back. */
export function isControllerHistoryEntry(value: unknown): value is ControllerHistoryEntry {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['at'] === 'string' &&
    typeof v['controller_id'] === 'string' &&
    (v['event'] === 'leading' || v['event'] === 'resigned') &&
    (typeof v['term'] === 'string' || v['term'] === null) &&
    typeof v['details'] === 'string'
  );
}
