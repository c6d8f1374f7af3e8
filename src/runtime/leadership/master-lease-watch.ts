/**
 * The leader's watch on `master_lease/` (engine/lease-watch-trigger.ts): one etcd watch stream on
 * the prefix while this controller leads (opened when its monitoring starts, closed when it stops:
 * on a loss of leadership too), re-opened after an error. A lapsed lease of the recorded master
 * starts its judgement at once instead of at the next poll; the lapses seen are kept so probes of
 * that master may use the short deadline (quickProbeMs). Without agents no key ever changes: the
 * stream stays silent and nothing here runs.
 */
import type { EventLog } from '../../log/event-log.js';
import { describeError } from '../../model/errors.js';
import type { EtcdContext } from '../../store/etcd/client.js';
import { leaseWatchTrigger, quickProbeMs, type LeaseWatchView, type MasterLeaseEvent } from '../../engine/lease-watch-trigger.js';
import type { ServerStatusName } from '../../model/status.js';

/** The watch as an injected effect (etcd in production, a fake in tests). */
export interface MasterLeaseEventSource {
  /** Opens one watch; `onError` when it ended by an error (the caller re-opens). Returns a closer. */
  open(onEvent: (event: MasterLeaseEvent) => void, onError: (err: Error) => void): () => Promise<void>;
}

/** The etcd watch on `master_lease/` (the client resumes a dropped stream from its last revision by itself). */
export function etcdMasterLeaseEvents(ctx: EtcdContext): MasterLeaseEventSource {
  const prefix = ctx.keys.masterLeasePrefix;
  return {
    open(onEvent, onError) {
      const watcher = ctx.client.watch().prefix(prefix).watcher();
      const emit = (kind: MasterLeaseEvent['kind'], kv: { key: Buffer; mod_revision: string }): void => {
        const node = ctx.keys.nameUnder(prefix, kv.key.toString());
        if (node !== null) onEvent({ kind, node, revision: String(kv.mod_revision) });
      };
      watcher.on('put', (kv) => emit('put', kv));
      watcher.on('delete', (kv) => emit('delete', kv));
      // A server-side cancel (e.g. its revision was compacted) ends the watcher: reported, re-opened.
      watcher.on('error', onError);
      return () => watcher.cancel().catch(() => undefined);
    },
  };
}

export interface MasterLeaseWatchDeps {
  source: MasterLeaseEventSource;
  view: () => LeaseWatchView;
  /**
   * The judgement of `master` (and its failover when due); resolves with its one-line outcome.
   * `lapseRevision`: the revision of the lease's delete (null when the source did not say).
   */
  judge: (master: string, lapseRevision: string | null) => Promise<string>;
  log: EventLog;
  /** Wait before re-opening a failed watch. */
  reopenMs?: number;
  /** Longest wait for the stream's close at stop() (default 2 s). */
  closeWaitMs?: number;
}

export class MasterLeaseWatch {
  #close: (() => Promise<void>) | null = null;
  #reopen: NodeJS.Timeout | undefined;
  #judging: Promise<void> | null = null;
  /** Nodes whose lease this watch saw go (performance.now() when it did), with no new one since (cleared when the watch stops). */
  readonly #lapsed = new Map<string, number>();

  constructor(private readonly deps: MasterLeaseWatchDeps) {}

  get running(): boolean {
    return this.#close !== null;
  }

  /** Opens the stream (idempotent); a new stream starts knowing no lapse (none seen under it yet). */
  start(): void {
    if (this.#close !== null) return;
    this.#lapsed.clear();
    this.#open();
  }

  /**
   * Closes the stream (events still in flight are ignored from here on) and forgets the lapses;
   * waits for a judgement in flight. The close itself is waited for at most `closeWaitMs`: etcd
   * may not answer the cancel (an outage), and a shutdown must not hang on it.
   */
  async stop(): Promise<void> {
    clearTimeout(this.#reopen);
    this.#reopen = undefined;
    const close = this.#close;
    this.#close = null;
    this.#lapsed.clear();
    if (close) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([close(), new Promise<void>((resolve) => (timer = setTimeout(resolve, this.deps.closeWaitMs ?? 2000)))]);
      clearTimeout(timer);
    }
    while (this.#judging !== null) await this.#judging;
  }

  /** The short probe deadline for `node` (engine/lease-watch-trigger.ts quickProbeMs), or null. */
  quickProbeMs(node: string, status: ServerStatusName, connectMs: number, agentLease: boolean): number | null {
    return quickProbeMs({ agentLease, leaseLapsed: this.#lapsed.has(node), status }, connectMs);
  }

  /** When this watch saw `node`'s lease go (performance.now()), or null (no lapse since its last lease). */
  lapsedAt(node: string): number | null {
    return this.#lapsed.get(node) ?? null;
  }

  #open(): void {
    let ended = false;
    const close = this.deps.source.open(
      (event) => {
        // Only the current stream counts: one stopped or replaced may still deliver a late event.
        if (!ended && this.#close === close) this.#onEvent(event);
      },
      (err) => {
        if (ended || this.#close !== close) return;
        ended = true;
        this.deps.log.warn('LEADERSHIP', `the watch on the agents' master leases failed (${describeError(err)}); re-opening it (the checks go on meanwhile)`);
        void close();
        // Lapses seen before the error stay known; one missed meanwhile is found by the checks.
        this.#reopen = setTimeout(() => {
          this.#reopen = undefined;
          if (this.#close === close) this.#open();
        }, this.deps.reopenMs ?? 1000);
      },
    );
    this.#close = close;
  }

  #onEvent(event: MasterLeaseEvent): void {
    if (event.kind === 'put') this.#lapsed.delete(event.node);
    else if (!this.#lapsed.has(event.node)) this.#lapsed.set(event.node, performance.now());
    const trigger = leaseWatchTrigger(event, this.deps.view());
    if (!trigger.judge) {
      if (event.kind === 'delete') this.deps.log.debug('CHECK', `master_lease/${event.node} gone: ${trigger.reason}`);
      return;
    }
    // One judgement at a time: a second lapse of the same lease cannot come before a new put.
    if (this.#judging !== null) return;
    this.deps.log.info('CHECK', trigger.reason);
    this.#judging = this.deps
      .judge(trigger.master, event.revision ?? null)
      .then(
        (outcome) => this.deps.log.info('CHECK', `after the lapse of ${trigger.master}'s lease: ${outcome}`),
        (err: unknown) => this.deps.log.error('CHECK', `the judgement after the lapse of ${trigger.master}'s lease failed: ${describeError(err)}`),
      )
      .finally(() => {
        this.#judging = null;
      });
  }
}
