/**
 * What an idle replica's election step needs to know between its snapshots: whether `leader` or
 * any `master_lease/*` key changed. An etcd watch on both (etcd3 carries them on the agent's one
 * watch stream) says so without a read per round: the election snapshot (every member record,
 * the master key, the lease keys, the leader) was an idle replica's largest round cost in
 * deployments `ha` and `agents`.
 *
 * The watch only lets the elector repeat a refusal (skipElectionSnapshot); it never makes anyone
 * take the master key, and the take's transaction compares everything it judged. Its `epoch`
 * moves on every event of leader or a lease key, (re)connection, loss or error: a snapshot judged
 * at one epoch still stands while the epoch has not moved and the watch is live. A watch on an
 * etcd member that is frozen or cut off from the others stays connected and hears nothing (review
 * s11b measured elections delayed by seconds): so the watch also follows the recorded master's
 * member record, which its agent rewrites at least every ttl / 3, and a refusal is repeated only
 * while that rewrite was heard recently: a lost master (or a deaf watch) makes rounds read again
 * well before the master's lease can expire.
 */
import type { Watcher } from 'etcd3';
import { describeError } from '../../model/errors.js';
import type { EtcdContext } from '../../store/etcd/client.js';

/** Where the watch stands: a snapshot taken at an epoch is still current while live and the epoch is the same. */
export interface WatchMark {
  readonly live: boolean;
  readonly epoch: number;
  /** Whose member record the watch follows (the recorded master's), null before start. */
  readonly master: string | null;
  /** Monotonic ms of the last put of that record the watch delivered (-Infinity: none yet). */
  readonly masterHeardAtMs: number;
}

export class ElectionWatch {
  /** leader and master_lease/*: any event moves the epoch. */
  #core: Watcher[] = [];
  /** members/<the recorded master>: its puts are how the watch shows it still hears etcd. */
  #master: { readonly name: string; readonly watcher: Watcher } | null = null;
  #connected = new Set<Watcher>();
  #epoch = 0;
  #masterHeardAtMs = Number.NEGATIVE_INFINITY;
  #closed = false;

  constructor(
    private readonly ctx: EtcdContext,
    private readonly now: () => number,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  /**
   * Watches leader, master_lease/* and members/<master> (idempotent; a new master name replaces
   * the last one's watcher); until every watcher is connected the mark is not live.
   */
  start(master: string): void {
    if (this.#closed) return;
    const keys = this.ctx.keys;
    if (this.#core.length === 0) {
      this.#core = [this.ctx.client.watch().prefix(keys.masterLeasePrefix).watcher(), this.ctx.client.watch().key(keys.leader).watcher()];
      for (const watcher of this.#core) this.#listen(watcher, () => this.#core.includes(watcher), () => this.#moved());
    }
    if (this.#master?.name !== master) {
      this.#stopMaster();
      const watcher = this.ctx.client.watch().key(keys.member(master)).watcher();
      this.#master = { name: master, watcher };
      // Its puts (the master's agent rewrites its record at least every ttl / 3) say the stream
      // hears etcd; its delete (the member lease ended) is a change like the others.
      this.#listen(watcher, () => this.#master?.watcher === watcher, () => (this.#masterHeardAtMs = this.now()), () => this.#moved());
    }
  }

  mark(): WatchMark {
    const watchers = [...this.#core, ...(this.#master === null ? [] : [this.#master.watcher])];
    const live = !this.#closed && this.#core.length > 0 && this.#master !== null && watchers.every((w) => this.#connected.has(w));
    return { live, epoch: this.#epoch, master: this.#master?.name ?? null, masterHeardAtMs: this.#masterHeardAtMs };
  }

  close(): void {
    this.#closed = true;
    this.#stop('closed');
  }

  #listen(watcher: Watcher, mine: () => boolean, onPut: () => void, onDelete: () => void = onPut): void {
    watcher.on('connected', () => mine() && this.#moved(() => this.#connected.add(watcher)));
    watcher.on('disconnected', () => mine() && this.#moved(() => this.#connected.delete(watcher)));
    // etcd3 drops a watcher etcd cancelled (a compacted start revision) and never re-creates it:
    // stopped here, the next attempt's start() opens new ones (never a tight reopening loop).
    watcher.on('error', (err: unknown) => mine() && this.#stop(`the watch failed (${describeError(err)})`));
    watcher.on('end', () => mine() && this.#stop('the watch ended'));
    watcher.on('put', () => mine() && onPut());
    watcher.on('delete', () => mine() && onDelete());
  }

  #moved(change: () => void = () => undefined): void {
    change();
    this.#epoch++;
  }

  #stopMaster(): void {
    const last = this.#master;
    this.#master = null;
    this.#masterHeardAtMs = Number.NEGATIVE_INFINITY;
    this.#epoch++;
    if (last !== null) {
      this.#connected.delete(last.watcher);
      void last.watcher.cancel().catch(() => undefined);
    }
  }

  #stop(why: string): void {
    if (!this.#closed) this.log(`election watch stopped (${why}): rounds read until it is open again`);
    const core = this.#core;
    this.#core = [];
    for (const w of core) {
      this.#connected.delete(w);
      void w.cancel().catch(() => undefined);
    }
    this.#stopMaster();
  }
}

/** The last snapshot's refusal that a quiet watch lets the elector repeat. */
export interface QuietRefusal {
  /** master_lease_held, or controller_leads while a controller held `leader`. */
  readonly code: 'master_lease_held' | 'controller_leads';
  readonly sentence: string;
  /** The recorded master the snapshot judged (name and term of the `master` key). */
  readonly master: { readonly name: string; readonly term: string };
  /** The watch's mark taken BEFORE that snapshot was read. */
  readonly mark: WatchMark;
  /** Monotonic ms when that snapshot was read. */
  readonly atMs: number;
}

export interface SkipInput {
  readonly last: QuietRefusal | null;
  readonly mark: WatchMark;
  /**
   * How recently the recorded master's record must have been heard: its agent rewrites it at least
   * every ttl / 3 (plus a round), so a longer silence means the master is gone, or the watch's
   * etcd member hears nothing (frozen, cut off): then read, as before the watch.
   */
  readonly heardWithinMs: number;
  /** The `master` key as this round sees it (name and term), null when absent or unreadable. */
  readonly master: { readonly name: string; readonly term: string } | null;
  readonly nowMs: number;
  readonly backstopMs: number;
}

/**
 * Whether this round may repeat the last refusal without reading a snapshot. Pure. Only a refusal
 * that nothing but a change of `leader` or a `master_lease/*` key can lift, judged on a snapshot
 * read while the watch was live at the same epoch as now, for the same recorded master, younger
 * than the backstop, and while the watch still hears that master's agent rewrite its record: a
 * master that stopped writing is about to lose its lease, and a watch on a member that hears
 * nothing must not hide that.
 */
export function skipElectionSnapshot(s: SkipInput): boolean {
  const last = s.last;
  if (last === null || !s.mark.live || !last.mark.live) return false;
  if (s.mark.epoch !== last.mark.epoch) return false;
  if (s.master === null || s.master.name !== last.master.name || s.master.term !== last.master.term) return false;
  if (s.mark.master !== s.master.name || s.nowMs - s.mark.masterHeardAtMs > s.heardWithinMs) return false;
  return s.nowMs - last.atMs < s.backstopMs;
}
