/**
 * A controller in deployment `agents` reports the synchronous set the master's agent recorded:
 * each failover check reads it from the `cluster` key into the book, which the API, CLI and
 * dashboard show. Taken in with restoreSync, as at start: no state write follows from it (the
 * store writes the stored set back unchanged anyway, etcd-cluster-store.ts). A failed read changes
 * nothing and says so once; the next check reads again.
 */
import { describeError } from '../../model/errors.js';
import { SYNC_HISTORY_LIMIT, type SyncRecord } from '../../model/sync-record.js';

export interface StoredSync {
  readonly record: SyncRecord | null;
  readonly history: readonly SyncRecord[];
}

export interface SyncBook {
  syncRecord(): SyncRecord | null;
  recentSyncChanges(count: number): SyncRecord[];
  restoreSync(record: SyncRecord | null, history: readonly SyncRecord[]): void;
}

/** The set as the book holds it, oldest change first (the stored order). */
function bookSync(book: SyncBook): StoredSync {
  return { record: book.syncRecord(), history: book.recentSyncChanges(SYNC_HISTORY_LIMIT).reverse() };
}

/** Whether the stored set differs from the book's (pure). */
export function syncDiffers(stored: StoredSync, held: StoredSync): boolean {
  return JSON.stringify({ record: stored.record, history: stored.history.slice(-SYNC_HISTORY_LIMIT) }) !== JSON.stringify(held);
}

const describeSet = (r: SyncRecord | null): string => (r === null ? 'none recorded' : `[${r.members.join(', ')}] quorum ${r.quorum} for ${r.master ?? 'no master named'} (${r.reason})`);

export class AgentsSyncFollower {
  #failing = false;

  constructor(
    private readonly read: () => Promise<StoredSync>,
    private readonly book: SyncBook,
    private readonly log: { info(category: string, message: string): void; warn(category: string, message: string): void },
  ) {}

  /** One read into the book; never throws. */
  async follow(): Promise<void> {
    let stored: StoredSync;
    try {
      stored = await this.read();
    } catch (err) {
      if (!this.#failing) this.log.warn('SYNC', `the synchronous set the agents recorded could not be read (reported as last read): ${describeError(err)}`);
      this.#failing = true;
      return;
    }
    this.#failing = false;
    if (!syncDiffers(stored, bookSync(this.book))) return;
    const before = this.book.syncRecord();
    this.book.restoreSync(stored.record, stored.history);
    if (JSON.stringify(before) !== JSON.stringify(stored.record)) this.log.info('SYNC', `synchronous set as the master's agent recorded it (deployment agents): ${describeSet(stored.record)}`);
  }
}
