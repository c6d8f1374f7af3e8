/**
 * The agents' password-guessing throttle (review F6). The daemon's throttle (auth-throttle.ts)
 * refuses EVERY password once `auth_failures_total` wrong ones came from anywhere: on the agents
 * that would let anyone shut HAProxy's checks out of every node (all backends down, though
 * PostgreSQL is fine), and the data path must not depend on a third party (design §9 rule 5).
 *
 * So here only FAILING sources are slowed or refused: a source (address prefix: /32, IPv6 /64)
 * that sent no wrong password within the window is admitted at once, whatever the others do.
 *   - a source at `perSourceLimit` wrong (or in flight) passwords in the window: refused;
 *   - all sources together at `globalLimit` wrong passwords: every source that failed at least
 *     once in the window is refused, so a guesser with many addresses gets one guess per address
 *     and window, while a client that never failed (HAProxy) goes on;
 *   - a source with failures in the window waits `baseMs` doubled per counted attempt (up to `maxMs`) before its
 *     check, and at most `maxPending` such waits run at once (more are refused at once: they
 *     would otherwise pile up sockets); sources without failures never wait.
 * Correct passwords are not exempted as such: a guesser's correct guess must be refused like its
 * wrong ones, or the throttle would not slow guessing at all. Pure (time from `now`, no timers).
 */

export interface HealthThrottleOptions {
  readonly baseMs: number;
  readonly maxMs: number;
  /** 0 = no limit. */
  readonly perSourceLimit: number;
  /** 0 = no limit. */
  readonly globalLimit: number;
  readonly windowMs: number;
  /** 0 = no limit. */
  readonly maxPending: number;
  /** Sources remembered at most (the least recently failed go first). */
  readonly maxSources?: number;
  readonly now?: () => number;
}

export type HealthAdmission =
  | { readonly kind: 'check'; readonly source: string; readonly delayMs: number; readonly counted: boolean }
  | { readonly kind: 'refuse'; readonly why: 'source' | 'global' | 'parallel'; readonly retryAfterSeconds: number };

export class HealthThrottle {
  /** Wrong-password times per source, oldest first; map order: least recently failed first. */
  readonly #failed = new Map<string, number[]>();
  readonly #inFlight = new Map<string, number>();
  readonly #all: number[] = [];
  #waiting = 0;
  readonly #now: () => number;

  constructor(private readonly options: HealthThrottleOptions) {
    this.#now = options.now ?? Date.now;
  }

  /** Admit or refuse a request from `source`; `withPassword`: it carries credentials. */
  admit(source: string, withPassword: boolean): HealthAdmission {
    if (!withPassword) return { kind: 'check', source, delayMs: 0, counted: false };
    const { perSourceLimit, globalLimit, maxPending, baseMs, maxMs } = this.options;
    const own = this.#recent(source);
    const counted = own.length + (this.#inFlight.get(source) ?? 0);
    // In flight counts too (a burst of parallel guesses meets the limit); a correct client has a
    // few checks in flight at most.
    if (perSourceLimit > 0 && counted >= perSourceLimit) return { kind: 'refuse', why: 'source', retryAfterSeconds: this.#retryAfter(own) };
    // A source that did not fail in the window is never held back further: that is the point
    // (HAProxy's checks go on whatever others send).
    if (own.length > 0) {
      this.#prune(this.#all);
      if (globalLimit > 0 && this.#all.length >= globalLimit) return { kind: 'refuse', why: 'global', retryAfterSeconds: this.#retryAfter(this.#all) };
      if (maxPending > 0 && this.#waiting >= maxPending) return { kind: 'refuse', why: 'parallel', retryAfterSeconds: 1 };
    }
    const delayMs = own.length > 0 && baseMs > 0 ? Math.min(maxMs, baseMs * 2 ** Math.min(counted - 1, 30)) : 0;
    if (delayMs > 0) this.#waiting += 1;
    this.#inFlight.set(source, (this.#inFlight.get(source) ?? 0) + 1);
    return { kind: 'check', source, delayMs, counted: true };
  }

  /** The admitted request's check is over: `wrong` when its password was wrong. */
  settle(ticket: Extract<HealthAdmission, { kind: 'check' }>, wrong: boolean): void {
    if (!ticket.counted) return;
    if (ticket.delayMs > 0) this.#waiting = Math.max(0, this.#waiting - 1);
    const left = (this.#inFlight.get(ticket.source) ?? 1) - 1;
    if (left > 0) this.#inFlight.set(ticket.source, left);
    else this.#inFlight.delete(ticket.source);
    if (!wrong) return;
    const now = this.#now();
    const own = this.#failed.get(ticket.source) ?? [];
    this.#prune(own);
    own.push(now);
    if (own.length > Math.max(this.options.perSourceLimit, 64)) own.shift();
    this.#failed.delete(ticket.source);
    this.#failed.set(ticket.source, own);
    for (const oldest of this.#failed.keys()) {
      if (this.#failed.size <= (this.options.maxSources ?? 10_000)) break;
      this.#failed.delete(oldest);
    }
    if (this.options.globalLimit > 0) {
      this.#all.push(now);
      if (this.#all.length > this.options.globalLimit) this.#all.shift();
    }
  }

  #recent(source: string): readonly number[] {
    const own = this.#failed.get(source);
    if (own === undefined) return [];
    this.#prune(own);
    if (own.length === 0) this.#failed.delete(source);
    return own;
  }

  #prune(times: number[]): void {
    const from = this.#now() - this.options.windowMs;
    let drop = 0;
    while (drop < times.length && (times[drop] as number) <= from) drop += 1;
    if (drop > 0) times.splice(0, drop);
  }

  #retryAfter(times: readonly number[]): number {
    const oldest = times[0];
    const ms = oldest === undefined ? this.options.windowMs : oldest + this.options.windowMs - this.#now();
    return Math.max(1, Math.ceil(ms / 1000));
  }
}
