/**
 * Slows down password guessing: after a wrong password, every request from that address waits
 * before it is even checked, `baseMs` after the first failure, doubling per further failure, up
 * to `maxMs`. A correct password resets the address; an address quiet for `forgetMs` is
 * forgotten, and at most `maxAddresses` are remembered (the oldest are dropped), so the table
 * stays small under a flood of addresses. Waiting is a timer: other callers are not held up.
 */

export interface ThrottleOptions {
  baseMs: number;
  maxMs: number;
  forgetMs?: number;
  maxAddresses?: number;
  now?: () => number;
}

interface Failures {
  count: number;
  lastAt: number;
}

/** Failures in a row per address, and the delay they impose. */
export class FailureThrottle {
  private readonly failures = new Map<string, Failures>();
  private readonly forgetMs: number;
  private readonly maxAddresses: number;
  private readonly now: () => number;

  constructor(private readonly options: ThrottleOptions) {
    this.forgetMs = options.forgetMs ?? 15 * 60_000;
    this.maxAddresses = options.maxAddresses ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** How long a request from `address` waits before its credentials are checked. */
  delayMs(address: string): number {
    const entry = this.current(address);
    if (!entry || this.options.baseMs <= 0) return 0;
    return Math.min(this.options.maxMs, this.options.baseMs * 2 ** Math.min(entry.count - 1, 30));
  }

  /** Count a wrong password; returns the failures in a row from that address. */
  recordFailure(address: string): number {
    const count = (this.current(address)?.count ?? 0) + 1;
    // Delete first so the address moves to the end: the Map's order is oldest-first.
    this.failures.delete(address);
    this.failures.set(address, { count, lastAt: this.now() });
    while (this.failures.size > this.maxAddresses) {
      const oldest = this.failures.keys().next().value;
      if (oldest === undefined) break;
      this.failures.delete(oldest);
    }
    return count;
  }

  recordSuccess(address: string): void {
    this.failures.delete(address);
  }

  private current(address: string): Failures | undefined {
    const entry = this.failures.get(address);
    if (entry && this.now() - entry.lastAt > this.forgetMs) {
      this.failures.delete(address);
      return undefined;
    }
    return entry;
  }
}
