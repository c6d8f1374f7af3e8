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
  #staleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: EtcdContext,
    private readonly what: string,
    private readonly freshForMs: number,
    /** Called once when the lease becomes stale while held (its own timer: a stalled round cannot delay it). */
    private readonly onStale: () => void,
    private readonly now: MonotonicMs = monotonicMs,
  ) {}

  get held(): boolean {
    return this.#id !== null;
  }

  get id(): string | null {
    return this.#id;
  }

  /** Whether the lease is held and was renewed recently enough (see the module comment). */
  fresh(): boolean {
    return this.#id !== null && this.now() - this.#lastRenewalSentMs < this.freshForMs;
  }

  /** Grants the lease when not held, else renews it; false when etcd said it expired (then not held). */
  async hold(callMs: number): Promise<boolean> {
    const sentMs = this.now();
    if (this.#id === null) {
      const grant = await withDeadline(`grant the ${this.what}`, callMs, () => this.ctx.client.leaseClient.leaseGrant({ TTL: this.ctx.ttlSeconds }));
      this.#id = grant.ID;
      this.#renewed(sentMs);
      return true;
    }
    const id = this.#id;
    const ttl = await withDeadline(`renew the ${this.what}`, callMs, () => this.#keepaliveOnce(id, callMs));
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

  close(): void {
    this.#forget();
  }

  #renewed(sentMs: number): void {
    this.#lastRenewalSentMs = Math.max(this.#lastRenewalSentMs, sentMs);
    clearTimeout(this.#staleTimer);
    const waitMs = Math.max(0, this.#lastRenewalSentMs + this.freshForMs - this.now());
    this.#staleTimer = setTimeout(() => {
      if (this.#id !== null && !this.fresh()) this.onStale();
    }, waitMs + 1);
    this.#staleTimer.unref();
  }

  async #keepaliveOnce(leaseId: string, callMs: number): Promise<string> {
    const stream = await this.ctx.client.leaseClient.leaseKeepAlive({ deadline: Date.now() + callMs });
    return new Promise((resolve, reject) => {
      stream.on('data', (reply: { TTL: string }) => {
        resolve(reply.TTL);
        stream.end();
      });
      stream.on('error', reject);
      stream.write({ ID: leaseId });
    });
  }
}
