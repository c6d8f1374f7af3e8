/**
 * Saves state when it changes: servers.save first (it is local and always possible), then the
 * handyrep table on the master. Requests coalesce: at most one save runs, and one more follows it
 * if anything changed meanwhile, so a burst of status changes costs two writes, not fifty.
 * A failed table write is logged and retried with the next change; it never fails the caller.
 */
import type { EventLog } from '../log/event-log.js';
import { describeError } from '../model/errors.js';
import type { SavedState } from '../store/saved-state.js';
import { writeServerFile } from '../store/server-file.js';
import type { ClusterStore } from '../store/cluster-store.js';

export interface PersisterDeps {
  serverFile: string;
  /** Current state without version (the persister numbers writes). */
  snapshot: () => Omit<SavedState, 'version' | 'updated_ms' | 'format'>;
  /** Write to the handyrep table; resolves false when no master could be written. */
  writeTable: (state: SavedState) => Promise<boolean>;
  log: EventLog;
  clock: () => Date;
  /**
   * The etcd store (etcd_lease): the state goes there instead of servers.save, term-guarded. Absent
   * = servers.save.
   */
  store?: ClusterStore;
  /** Why this controller must not write state now (a follower, a deposed leader), or null; absent = always null. */
  mayWrite?: () => string | null;
}

export class Persister {
  private version: number;
  private running: Promise<void> | null = null;
  private pending = false;
  private lastTableOk = true;
  private lastFileOk = true;

  constructor(
    private readonly deps: PersisterDeps,
    startVersion: number,
  ) {
    this.version = startVersion;
  }

  get currentVersion(): number {
    return this.version;
  }

  /** Ask for a save; returns when a save that includes this request has finished. */
  request(): Promise<void> {
    this.pending = true;
    if (!this.running) this.running = this.drain();
    return this.running;
  }

  /**
   * Save now and say whether servers.save holds the result (written and fsynced). Callers that
   * must not forget something before it is durable (the failover journal) wait on this.
   */
  async durable(): Promise<boolean> {
    await this.request();
    return this.lastFileOk;
  }

  /** Wait for any save in flight. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending) {
        this.pending = false;
        await this.saveOnce();
      }
    } finally {
      this.running = null;
    }
  }

  /** A state read from the store is this new: later writes must number above it. */
  raiseVersion(atLeast: number): void {
    this.version = Math.max(this.version, atLeast);
  }

  private async saveOnce(): Promise<void> {
    // A follower's book mirrors the store; a deposed leader's must not overwrite the new leader's.
    const refusal = this.deps.mayWrite?.() ?? null;
    if (refusal !== null) {
      this.lastFileOk = false;
      return;
    }
    this.version += 1;
    const state: SavedState = {
      format: 'handyrep-state',
      version: this.version,
      updated_ms: this.deps.clock().getTime(),
      ...this.deps.snapshot(),
    };
    try {
      await (this.deps.store ? this.deps.store.writeState(state) : writeServerFile(this.deps.serverFile, state));
      this.lastFileOk = true;
    } catch (err) {
      this.lastFileOk = false;
      this.deps.log.error('FILEERROR', describeError(err), undefined, 'WARNING');
    }
    try {
      // The handyrep table is on the master: only while this controller may act (checked again).
      if ((this.deps.mayWrite?.() ?? null) !== null) return;
      const written = await this.deps.writeTable(state);
      if (!written && this.lastTableOk) this.deps.log.warn('DATABASE', 'state not written to the handyrep table: no reachable master');
      this.lastTableOk = written;
    } catch (err) {
      if (this.lastTableOk) this.deps.log.warn('DATABASE', `cannot write the handyrep table: ${describeError(err)}`);
      this.lastTableOk = false;
    }
  }
}
