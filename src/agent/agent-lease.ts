/**
 * One etcd lease held by the agent (the master lease, or the lease its member record lives under),
 * timed on a monotonic clock: wall-clock jumps (NTP, an operator's `date -s`) must neither keep a
 * stale master writable nor fence a healthy one. "Fresh" means the last renewal that succeeded was
 * SENT less than ttl − safety_margin ago: etcd restarted the TTL no earlier than that send, so the
 * key cannot have expired in etcd before this node stops considering itself master.
 */
import { performance } from 'node:perf_hooks';
import type { EtcdContext } from '../store/etcd/client.js';
import { withDeadline } from '../store/etcd/store-error.js';

export type MonotonicMs = () => number;
export const monotonicMs: MonotonicMs = () => performance.now();

export class AgentLease {
  #id: string | null = null;
  #lastRenewalSentMs = 0;
  #renewedOnce = false;
  #staleTimer: NodeJS.Timeout | undefined;
  #renewing: { readonly id: string; readonly held: Promise<boolean> } | null = null;
  /** close() was called: a grant or renewal answered afterwards holds nothing and arms no timer. */
  #closed = false;

  constructor(
    private readonly ctx: EtcdContext,
    private readonly what: string,
    private readonly freshForMs: number,
    /**
     * Called once when the lease is about to go stale while held (its own timer: a stalled round
     * cannot delay it), `staleLeadMs` before it does, so what it stops is stopped by then.
     */
    private readonly onStale: () => void,
    private readonly now: MonotonicMs = monotonicMs,
    /** Shared by the agent's leases: one long-lived stream instead of a new one per renewal (idle cost). */
    private readonly channel: KeepaliveChannel = new KeepaliveChannel(),
    private readonly staleLeadMs = 0,
  ) {}

  get held(): boolean {
    return this.#id !== null;
  }

  get id(): string | null {
    return this.#id;
  }

  /** When the last renewal (or grant) that succeeded was sent, on the monotonic clock; null before the first. */
  get lastRenewalSentMs(): number | null {
    return this.#renewedOnce ? this.#lastRenewalSentMs : null;
  }

  /** Whether the lease is held and was renewed recently enough (see the module comment). */
  fresh(): boolean {
    return this.#id !== null && this.now() - this.#lastRenewalSentMs < this.freshForMs;
  }

  /** How long it stays fresh without another renewal, in ms (0 when not held). */
  freshLeftMs(): number {
    return this.#id === null ? 0 : Math.max(0, this.freshForMs - (this.now() - this.#lastRenewalSentMs));
  }

  /**
   * Grants the lease when not held, else renews it; false when etcd said it expired (then not held).
   * A renewal asked for while one is in flight shares it (the boot's and the promotion's interval
   * timers must not stack renewals of one lease on the stream; the shared one dates the renewal
   * by its own, earlier, send).
   */
  hold(callMs: number): Promise<boolean> {
    // Shared only for the lease it renews (not a lease granted after a release meanwhile).
    if (this.#id !== null && this.#renewing !== null && this.#renewing.id === this.#id) return this.#renewing.held;
    const id = this.#id;
    const held = this.#hold(callMs);
    // A grant sets the id only once etcd answered: only a renewal (id held now) is shared.
    if (id !== null) {
      const renewing = { id, held };
      this.#renewing = renewing;
      const done = (): void => {
        if (this.#renewing === renewing) this.#renewing = null;
      };
      held.then(done, done);
    }
    return held;
  }

  async #hold(callMs: number): Promise<boolean> {
    const sentMs = this.now();
    if (this.#id === null) {
      const grant = await withDeadline(`grant the ${this.what}`, callMs, () => this.ctx.client.leaseClient.leaseGrant({ TTL: this.ctx.ttlSeconds }));
      // Closed meanwhile (the agent stops): not held; unrenewed, the lease runs out in etcd.
      if (this.#closed) return false;
      this.#id = grant.ID;
      this.#renewed(sentMs);
      return true;
    }
    const id = this.#id;
    // The lean client bounds the call by callMs itself (an attempt timer per try within the call's
    // budget): a second timer here would wake an idle agent once more every round for nothing.
    const ttl = this.ctx.lean !== undefined ? await this.#keepaliveOnce(id, callMs) : await withDeadline(`renew the ${this.what}`, callMs, () => this.#keepaliveOnce(id, callMs));
    if (this.#id !== id) return false;
    if (ttl === '0' || ttl === '' || Number(ttl) <= 0) {
      this.#forget();
      return false;
    }
    this.#renewed(sentMs);
    return true;
  }

  /** Stops holding it and revokes it in etcd (best effort: unrevoked, it expires by itself). */
  async release(callMs: number): Promise<void> {
    const id = this.#id;
    this.#forget();
    if (id === null) return;
    await withDeadline(`revoke the ${this.what}`, callMs, () => this.ctx.client.leaseClient.leaseRevoke({ ID: id })).catch(() => undefined);
  }

  /** Forgets it without telling etcd (it runs out by itself). */
  #forget(): void {
    this.#id = null;
    clearTimeout(this.#staleTimer);
  }

  /** Forgets it without telling etcd, and may be granted again (a fenced master's agent takes a new lease later). */
  drop(): void {
    this.#forget();
  }

  /** For good (the agent stops): a grant or renewal answered afterwards holds nothing. */
  close(): void {
    this.#closed = true;
    this.#forget();
  }

  #renewed(sentMs: number): void {
    this.#lastRenewalSentMs = Math.max(this.#lastRenewalSentMs, sentMs);
    this.#renewedOnce = true;
    this.#armStaleTimer();
  }

  /**
   * The stale timer, due `staleLeadMs` before the lease stops being fresh. Node times timers in
   * whole milliseconds on libuv's clock, coarser than this monotonic clock: the callback can come a
   * fraction of a millisecond EARLY (measured here: 1 in 200, up to 0.4 ms, despite the +1). An
   * early callback arms the timer again for the rest; skipping it would leave the stop to the next
   * round (seconds later with etcd unreachable: bench:agent saw an isolated master writable 5.9 s
   * after the cut, past the lease's expiry in etcd).
   * Not unref'd: Node keeps the empty list of a cleared UNREF'd timer until its due time and wakes
   * the process then for nothing; armed again at every renewal with a slightly different delay,
   * that was about one idle wake-up a second (close() and a lost lease clear it).
   */
  #armStaleTimer(): void {
    clearTimeout(this.#staleTimer);
    const staleAtMs = this.#lastRenewalSentMs + this.freshForMs - this.staleLeadMs;
    this.#staleTimer = setTimeout(() => {
      if (this.#id === null) return;
      if (this.now() < this.#lastRenewalSentMs + this.freshForMs - this.staleLeadMs) this.#armStaleTimer();
      else this.onStale();
    }, Math.max(0, staleAtMs - this.now()) + 1);
  }

  async #keepaliveOnce(leaseId: string, callMs: number): Promise<string> {
    return this.channel.keepalive(this.ctx, leaseId, callMs);
  }
}

type KeepaliveStream = Awaited<ReturnType<EtcdContext['client']['leaseClient']['leaseKeepAlive']>>;

/**
 * One keep-alive stream kept open and reused; a renewal writes the lease id and waits for the
 * answer naming it. Any error or a missed deadline drops the stream, and the next renewal opens a
 * new one (possibly to another member).
 */
export class KeepaliveChannel {
  #stream: KeepaliveStream | null = null;
  #opening: Promise<KeepaliveStream> | null = null;
  readonly #waiting = new Map<string, { resolve: (ttl: string) => void; reject: (err: unknown) => void }>();

  async keepalive(ctx: EtcdContext, leaseId: string, callMs: number): Promise<string> {
    // The lean client's stream when the context has one (made from the configuration): the idle agent's hot path.
    if (ctx.lean !== undefined) return ctx.lean.keepalive.keepalive(leaseId, callMs);
    // Two renewals in one tick (the master and member leases) share one stream being opened.
    const stream = this.#stream ?? (await (this.#opening ??= this.#open(ctx).finally(() => (this.#opening = null))));
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#drop(new Error(`no keep-alive answer within ${callMs} ms`));
      }, callMs);
      this.#waiting.get(leaseId)?.reject(new Error('superseded by a newer renewal'));
      this.#waiting.set(leaseId, {
        resolve: (ttl) => {
          clearTimeout(timer);
          resolve(ttl);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      stream.write({ ID: leaseId });
    });
  }

  close(): void {
    this.#drop(new Error('closed'));
  }

  async #open(ctx: EtcdContext): Promise<KeepaliveStream> {
    const stream = await ctx.client.leaseClient.leaseKeepAlive();
    stream.on('data', (reply: { ID: string; TTL: string }) => {
      const waiter = this.#waiting.get(reply.ID);
      this.#waiting.delete(reply.ID);
      waiter?.resolve(reply.TTL);
    });
    stream.on('error', (err: unknown) => {
      if (this.#stream === stream) this.#drop(err);
    });
    stream.on('end', () => {
      if (this.#stream === stream) this.#drop(new Error('keep-alive stream ended'));
    });
    this.#stream = stream;
    return stream;
  }

  #drop(err: unknown): void {
    const stream = this.#stream;
    this.#stream = null;
    for (const waiter of this.#waiting.values()) waiter.reject(err);
    this.#waiting.clear();
    if (stream) {
      try {
        stream.end();
      } catch {
        // already broken
      }
    }
  }
}
