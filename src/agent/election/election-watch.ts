/**
 * What an idle replica's election step needs to know between its snapshots: whether `leader` or
 * any `master_lease/*` key changed. An etcd watch on both (etcd3 carries them on the agent's one
 * watch stream) says so without a read per round: the election snapshot (every member record,
 * the master key, the lease keys, the leader) was an idle replica's largest round cost in
 * deployments `ha` and `agents`.
 *
 * The watch only lets the elector repeat a refusal (skipElectionSnapshot); it never makes anyone
 * take the master key, and the take's transaction compares everything it judged. Its `epoch`
 * moves on every event, (re)connection, loss or error: a snapshot judged at one epoch still
 * stands while the epoch has not moved and the watch is live. A watch on an etcd member cut off
 * from the others stays connected and hears nothing: the elector reads again at least every
 * backstop anyway.
 */
import type { Watcher } from 'etcd3';
import { describeError } from '../../model/errors.js';
import type { EtcdContext } from '../../store/etcd/client.js';

/** Where the watch stands: a snapshot taken at an epoch is still current while live and the epoch is the same. */
export interface WatchMark {
  readonly live: boolean;
  readonly epoch: number;
}

export class ElectionWatch {
  #watchers: Watcher[] = [];
  #connected = new Set<Watcher>();
  #epoch = 0;
  #closed = false;

  constructor(
    private readonly ctx: EtcdContext,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  /** Starts watching (idempotent); until both watchers are connected the mark is not live. */
  start(): void {
    if (this.#watchers.length > 0 || this.#closed) return;
    const keys = this.ctx.keys;
    this.#watchers = [this.ctx.client.watch().prefix(keys.masterLeasePrefix).watcher(), this.ctx.client.watch().key(keys.leader).watcher()];
    for (const watcher of this.#watchers) {
      const mine = (): boolean => this.#watchers.includes(watcher);
      watcher.on('connected', () => mine() && this.#moved(() => this.#connected.add(watcher)));
      watcher.on('disconnected', () => mine() && this.#moved(() => this.#connected.delete(watcher)));
      // etcd3 drops a watcher etcd cancelled (a compacted start revision) and never re-creates it.
      watcher.on('error', (err: unknown) => mine() && this.#restart(`the watch failed (${describeError(err)})`));
      watcher.on('end', () => mine() && this.#restart('the watch ended'));
      watcher.on('put', () => mine() && this.#moved());
      watcher.on('delete', () => mine() && this.#moved());
    }
  }

  mark(): WatchMark {
    return { live: !this.#closed && this.#watchers.length > 0 && this.#watchers.every((w) => this.#connected.has(w)), epoch: this.#epoch };
  }

  close(): void {
    this.#closed = true;
    this.#stop();
  }

  #moved(change: () => void = () => undefined): void {
    change();
    this.#epoch++;
  }

  #stop(): void {
    const watchers = this.#watchers;
    this.#watchers = [];
    this.#connected.clear();
    this.#epoch++;
    for (const w of watchers) void w.cancel().catch(() => undefined);
  }

  #restart(why: string): void {
    if (this.#closed) return;
    this.log(`election watch restarted: ${why}`);
    this.#stop();
    this.start();
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
  /** The `master` key as this round sees it (name and term), null when absent or unreadable. */
  readonly master: { readonly name: string; readonly term: string } | null;
  readonly nowMs: number;
  readonly backstopMs: number;
}

/**
 * Whether this round may repeat the last refusal without reading a snapshot. Pure. Only a refusal
 * that nothing but a change of `leader` or a `master_lease/*` key can lift, judged on a snapshot
 * read while the watch was live at the same epoch as now, for the same recorded master, and
 * younger than the backstop.
 */
export function skipElectionSnapshot(s: SkipInput): boolean {
  const last = s.last;
  if (last === null || !s.mark.live || !last.mark.live) return false;
  if (s.mark.epoch !== last.mark.epoch) return false;
  if (s.master === null || s.master.name !== last.master.name || s.master.term !== last.master.term) return false;
  return s.nowMs - last.atMs < s.backstopMs;
}
