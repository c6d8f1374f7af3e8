/**
 * The `master` key for the agent's rounds, kept by an etcd watch instead of a range read every
 * loop_wait (idle cost: that unary call was the largest share of an idle master agent's work).
 * The watch only spares the reads of rounds that change nothing; no round acts on the watched
 * view (pure rules `masterViewSource`, `mustReadBeforeActing`):
 *   - a round whose plan on the watched view would do anything but renew a lease it already
 *     holds (demote, take the lease, release it, restart a crash, follow another master) reads the
 *     key linearizably and decides again on that read: a watch on an etcd member cut off from the
 *     others stays connected and hears nothing, while keep-alives and reads go to other members;
 *   - until the watch has connected, and after every disconnection or reconnection, rounds read,
 *     so nothing missed while the watch was down counts;
 *   - on a live watch the key is still read when the last read is `backstopMs` old; a read that
 *     finds a change the watch did not deliver restarts the watch (logged), as does a watch etcd
 *     cancelled (compaction: etcd3 drops such a watcher for good) or that failed;
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
import type { AgentPlan } from './decide.js';
import type { MasterRead } from './master-read.js';

/** The `master` key as a read returns it. */
export interface MasterKv {
  readonly value: Buffer;
  readonly mod_revision: string;
}

/** A view for one round, and where it came from. */
export type WatchedRead = MasterRead & { readonly source: 'watch' | 'read' };

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

/**
 * Whether a plan made on the watched view must be made again on a read: anything but nothing, or
 * renewing a master lease already held, is an action on the key's content.
 */
export function mustReadBeforeActing(plan: AgentPlan, leaseHeld: boolean): boolean {
  if (plan.actions.length === 0) return false;
  return !(leaseHeld && plan.actions.length === 1 && plan.actions[0] === 'hold_lease');
}

export class MasterWatch {
  #view: MasterRead | null = null;
  /** The etcd revision the cached view is known current at. */
  #revision = -1n;
  #readAtMs = Number.NEGATIVE_INFINITY;
  /** Monotonic ms of the last (re)connection or loss of the watch (noteRead). */
  #resetAtMs = Number.NEGATIVE_INFINITY;
  #live = false;
  #watcher: Watcher | null = null;
  /** Range reads done (for the log and tests). */
  reads = 0;

  #closed = false;

  constructor(
    private readonly ctx: EtcdContext,
    private readonly backstopMs: number,
    private readonly now: MonotonicMs,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  /** Starts the watch; it (re)connects by itself, and until it is connected every round reads. */
  start(): void {
    if (this.#watcher !== null || this.#closed) return;
    const watcher = this.ctx.client.watch().key(this.ctx.keys.master).watcher();
    const mine = (): boolean => this.#watcher === watcher;
    watcher.on('connected', () => mine() && this.#reset(true));
    watcher.on('disconnected', () => mine() && this.#reset(false));
    // etcd3 drops a watcher etcd cancelled (a compacted start revision) and never re-creates it.
    watcher.on('error', (err: unknown) => mine() && this.#restart(`the watch failed (${describeError(err)})`));
    watcher.on('end', () => mine() && this.#restart('the watch ended'));
    watcher.on('put', (kv) => mine() && this.#apply(BigInt(kv.mod_revision), this.#parse(kv.value, kv.mod_revision)));
    watcher.on('delete', (kv) => mine() && this.#apply(BigInt(kv.mod_revision), { view: { state: 'absent' }, modRevision: '0', readRevision: null }));
    this.#watcher = watcher;
  }

  /**
   * The key for this round: the watched view when masterViewSource allows it and `fresh` is not
   * asked, else a linearizable read.
   */
  async read(callMs: number, fresh = false): Promise<WatchedRead> {
    const source = masterViewSource({ live: this.#live, cached: this.#view !== null, sinceReadMs: this.now() - this.#readAtMs, backstopMs: this.backstopMs });
    if (!fresh && source === 'watch' && this.#view !== null) return { ...this.#view, readRevision: String(this.#revision), source: 'watch' };
    const trusted = this.#live && this.#view !== null ? this.#view : null;
    this.reads++;
    const key = this.ctx.keys.master;
    let reply: { header: { revision: string }; kvs: readonly MasterKv[] };
    try {
      reply = await withDeadline('read the master key', callMs, () => this.ctx.client.kv.range({ key: Buffer.from(key) }));
    } catch (err) {
      return { view: { state: 'unreadable', reason: describeError(err) }, modRevision: '0', readRevision: null, source: 'read' };
    }
    return { ...this.#applyRead(trusted, reply.header.revision, reply.kvs[0], this.now()), source: 'read' };
  }

  /**
   * A linearizable read of the key made elsewhere (the member record's transaction reads it too,
   * member-write.ts), counted as this class's own read: `sentMs` is when it was sent (monotonic),
   * so the backstop is timed from no later than the read really happened.
   */
  noteRead(revision: string, kv: MasterKv | undefined, sentMs: number): void {
    if (this.#closed) return;
    // Sent before the watch's last (re)connection or loss: it cannot stand for the read owed after it.
    this.#applyRead(this.#live && this.#view !== null ? this.#view : null, revision, kv, sentMs >= this.#resetAtMs ? sentMs : Number.NEGATIVE_INFINITY);
  }

  #applyRead(trusted: MasterRead | null, headerRevision: string, kv: MasterKv | undefined, atMs: number): MasterRead {
    const revision = BigInt(headerRevision);
    // The same mod revision is the same value: the cached view stands (no parse, no allocation).
    const cached = kv !== undefined && this.#view !== null && this.#view.modRevision === kv.mod_revision && this.#view.view.state === 'present' ? this.#view : null;
    const read = cached ?? (kv ? this.#parse(kv.value, kv.mod_revision) : { view: { state: 'absent' as const }, modRevision: '0', readRevision: null });
    this.#readAtMs = Math.max(this.#readAtMs, atMs);
    // An event newer than this answer was applied meanwhile: it is the key as it is now.
    if (revision < this.#revision && this.#view !== null) return { ...this.#view, readRevision: String(this.#revision) };
    this.#revision = revision;
    this.#view = read;
    // The key changed and a live watch did not say so (stalled on a cut-off member, or the event
    // still on its way): a new watch, at worst one too many.
    if (trusted !== null && trusted.modRevision !== read.modRevision) this.#restart(`a read found the master key at mod revision ${read.modRevision}, the watch had ${trusted.modRevision}`);
    return { ...read, readRevision: String(revision) };
  }

  close(): void {
    this.#closed = true;
    this.#stopWatcher();
  }

  #stopWatcher(): void {
    const watcher = this.#watcher;
    this.#watcher = null;
    this.#reset(false);
    void watcher?.cancel().catch(() => undefined);
  }

  /** Cancels the watch and opens a new one; rounds read until it is connected. */
  #restart(why: string): void {
    if (this.#closed) return;
    this.log(`master key watch restarted: ${why}`);
    this.#stopWatcher();
    this.start();
  }

  /** Any (re)connection or loss: what the watch said may have gaps, the next round reads. */
  #reset(live: boolean): void {
    this.#live = live && this.#watcher !== null;
    this.#readAtMs = Number.NEGATIVE_INFINITY;
    this.#resetAtMs = this.now();
  }

  #apply(revision: bigint, read: MasterRead): void {
    if (revision <= this.#revision) return;
    this.#revision = revision;
    this.#view = read;
  }

  #parse(value: Buffer, modRevision: string): MasterRead {
    try {
      return { view: { state: 'present', record: parseMasterRecord(this.ctx.keys.master, value) }, modRevision, readRevision: null };
    } catch (err) {
      // As readMasterView: an invalid value is unreadable, and no lease is taken on it.
      return { view: { state: 'unreadable', reason: describeError(err) }, modRevision: '0', readRevision: null };
    }
  }
}
