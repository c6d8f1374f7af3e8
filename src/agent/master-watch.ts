/**
 * The `master` key for the agent's rounds, kept by an etcd watch instead of a range read every
 * loop_wait (idle cost: that unary call was the largest share of an idle master agent's work). The
 * watch only spares reads; the round never acts on a view it cannot vouch for (pure rule:
 * `masterViewSource`):
 *   - until the watch has connected, and after every disconnection, error or reconnection, the
 *     round reads (a linearizable range read), so nothing missed while the watch was down counts;
 *   - on a live watch the key is still read when the last read is `backstopMs` old (ttl −
 *     safety_margin): a watch on an etcd member cut off from the others stays connected and hears
 *     nothing; that read then fails and the round sees "unreadable", as without the watch;
 *   - a failed read is "unreadable", never the cached value.
 * The view carries the key's mod revision, from the read or from the watch event, because the
 * lease transaction compares it (boot-lease.ts putMasterLeaseIfStillMaster): a view older than
 * the key makes that transaction fail, never succeed. Etcd revisions order read answers and watch
 * events, so an answer older than an event already applied never replaces it.
 */
import type { Watcher } from 'etcd3';
import { describeError } from '../model/errors.js';
import type { EtcdContext } from '../store/etcd/client.js';
import { parseMasterRecord } from '../store/etcd/master-record.js';
import { withDeadline } from '../store/etcd/store-error.js';
import type { MonotonicMs } from './agent-lease.js';
import type { MasterRead } from './master-read.js';

export interface ViewSnapshot {
  /** The watch is connected and has had no error since (its events arrive). */
  readonly live: boolean;
  /** A view is cached (from a read or an event after the watch connected). */
  readonly cached: boolean;
  /** Monotonic ms since the last read that answered (Infinity: none since the watch (re)connected). */
  readonly sinceReadMs: number;
  readonly backstopMs: number;
}

/** Whether a round may use the watched view or must read the key. */
export function masterViewSource(s: ViewSnapshot): 'watch' | 'read' {
  return s.live && s.cached && s.sinceReadMs < s.backstopMs ? 'watch' : 'read';
}

export class MasterWatch {
  #view: MasterRead | null = null;
  /** The etcd revision the cached view is known current at. */
  #revision = -1n;
  #readAtMs = Number.NEGATIVE_INFINITY;
  #live = false;
  #watcher: Watcher | null = null;
  /** Range reads done (for the log and tests). */
  reads = 0;

  constructor(
    private readonly ctx: EtcdContext,
    private readonly backstopMs: number,
    private readonly now: MonotonicMs,
  ) {}

  /** Starts the watch; it (re)connects by itself, and until it is connected every round reads. */
  start(): void {
    if (this.#watcher !== null) return;
    const watcher = this.ctx.client.watch().key(this.ctx.keys.master).watcher();
    watcher.on('connected', () => this.#reset(true));
    watcher.on('disconnected', () => this.#reset(false));
    watcher.on('error', () => this.#reset(false));
    watcher.on('put', (kv) => this.#apply(BigInt(kv.mod_revision), this.#parse(kv.value, kv.mod_revision)));
    watcher.on('delete', (kv) => this.#apply(BigInt(kv.mod_revision), { view: { state: 'absent' }, modRevision: '0' }));
    this.#watcher = watcher;
  }

  /** The key for this round: the watched view when masterViewSource allows it, else a read. */
  async read(callMs: number): Promise<MasterRead> {
    const source = masterViewSource({ live: this.#live, cached: this.#view !== null, sinceReadMs: this.now() - this.#readAtMs, backstopMs: this.backstopMs });
    if (source === 'watch' && this.#view !== null) return this.#view;
    this.reads++;
    const key = this.ctx.keys.master;
    let revision: bigint;
    let read: MasterRead;
    try {
      const reply = await withDeadline('read the master key', callMs, () => this.ctx.client.kv.range({ key: Buffer.from(key) }));
      revision = BigInt(reply.header.revision);
      const kv = reply.kvs[0];
      read = kv ? this.#parse(kv.value, kv.mod_revision) : { view: { state: 'absent' }, modRevision: '0' };
    } catch (err) {
      return { view: { state: 'unreadable', reason: describeError(err) }, modRevision: '0' };
    }
    this.#readAtMs = this.now();
    // An event newer than this answer was applied meanwhile: it is the key as it is now.
    if (revision < this.#revision && this.#view !== null) return this.#view;
    this.#revision = revision;
    this.#view = read;
    return read;
  }

  close(): void {
    const watcher = this.#watcher;
    this.#watcher = null;
    this.#reset(false);
    void watcher?.cancel().catch(() => undefined);
  }

  /** Any (re)connection or loss: what the watch said may have gaps, the next round reads. */
  #reset(live: boolean): void {
    this.#live = live && this.#watcher !== null;
    this.#readAtMs = Number.NEGATIVE_INFINITY;
  }

  #apply(revision: bigint, read: MasterRead): void {
    if (revision <= this.#revision) return;
    this.#revision = revision;
    this.#view = read;
  }

  #parse(value: Buffer, modRevision: string): MasterRead {
    try {
      return { view: { state: 'present', record: parseMasterRecord(this.ctx.keys.master, value) }, modRevision };
    } catch (err) {
      // As readMasterView: an invalid value is unreadable, and no lease is taken on it.
      return { view: { state: 'unreadable', reason: describeError(err) }, modRevision: '0' };
    }
  }
}
