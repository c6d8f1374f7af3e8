/**
 * The agents' password-guessing throttle (review F6, then X1/X2). The daemon's throttle
 * (auth-throttle.ts) refuses EVERY password once `auth_failures_total` wrong ones came from
 * anywhere: on the agents that would let anyone shut HAProxy's checks out of every node (all
 * backends down, though PostgreSQL is fine), and the data path must not depend on a third party
 * (design §9 rule 5). Here a client that PROVED the password is kept apart from guessers:
 *   - "proven": an exact address (not its /64) that sent a correct password within the window.
 *     A proven address with no wrong password of its own in the window is admitted at once,
 *     whatever its prefix or the others did (X2: a guesser in HAProxy's IPv6 /64 or behind its
 *     NAT does not lock HAProxy out). HAProxy proves itself with its first check.
 *   - everybody else, per source prefix (/32, IPv6 /64): refused at `perSourceLimit` wrong (or in
 *     flight) passwords in the window; with failures in the window, a wait of `baseMs` doubled per
 *     counted attempt (up to `maxMs`) before the check, at most `maxPending` such waits at once;
 *   - once `globalLimit` wrong passwords came from all sources together, every source that is not
 *     proven is refused (X1: fresh addresses get no guesses either, so a guesser with many
 *     addresses is capped by the global limit as on the daemon), until failures age out.
 * Cost of X1: an agent restarted during such an attack refuses HAProxy's credentialed checks until
 * the window's failures age out (HAProxy was not proven yet). Correct passwords are not exempted
 * as such: a guesser's right guess is refused like its wrong ones, or the limits would not slow
 * guessing. Pure (time from `now`, no timers).
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
  /** Sources (and proven addresses) remembered at most (the least recent go first). */
  readonly maxSources?: number;
  readonly now?: () => number;
}

/** Where a request comes from: the counting prefix (address-prefix.ts) and the exact address. */
export interface HealthSource {
  readonly prefix: string;
  readonly exact: string;
}

export type HealthAdmission =
  | { readonly kind: 'check'; readonly source: HealthSource; readonly delayMs: number; readonly counted: boolean }
  | { readonly kind: 'refuse'; readonly why: 'source' | 'global' | 'parallel'; readonly retryAfterSeconds: number };

export class HealthThrottle {
  /** Wrong-password times per source, oldest first; map order: least recently failed first. */
  readonly #failed = new Map<string, number[]>();
  readonly #inFlight = new Map<string, number>();
  readonly #all: number[] = [];
  /** Exact address → when it last proved a correct password / last sent a wrong one. */
  readonly #proven = new Map<string, number>();
  readonly #wrongExact = new Map<string, number>();
  #waiting = 0;
  readonly #now: () => number;

  constructor(private readonly options: HealthThrottleOptions) {
    this.#now = options.now ?? Date.now;
  }

  /** Admit or refuse a request from `source`; `withPassword`: it carries credentials. */
  admit(source: HealthSource, withPassword: boolean): HealthAdmission {
    if (!withPassword) return { kind: 'check', source, delayMs: 0, counted: false };
    const { perSourceLimit, globalLimit, maxPending, baseMs, maxMs } = this.options;
    // A client that proved the password, and did not fail itself since: never held back (HAProxy).
    if (this.#recentAt(this.#proven, source.exact) && !this.#recentAt(this.#wrongExact, source.exact)) return { kind: 'check', source, delayMs: 0, counted: false };
    const own = this.#recent(source.prefix);
    const counted = own.length + (this.#inFlight.get(source.prefix) ?? 0);
    // In flight counts too: a burst of parallel guesses meets the limit.
    if (perSourceLimit > 0 && counted >= perSourceLimit) return { kind: 'refuse', why: 'source', retryAfterSeconds: this.#retryAfter(own) };
    this.#prune(this.#all);
    if (globalLimit > 0 && this.#all.length >= globalLimit) return { kind: 'refuse', why: 'global', retryAfterSeconds: this.#retryAfter(this.#all) };
    if (own.length > 0 && maxPending > 0 && this.#waiting >= maxPending) return { kind: 'refuse', why: 'parallel', retryAfterSeconds: 1 };
    const delayMs = own.length > 0 && baseMs > 0 ? Math.min(maxMs, baseMs * 2 ** Math.min(counted - 1, 30)) : 0;
    if (delayMs > 0) this.#waiting += 1;
    this.#inFlight.set(source.prefix, (this.#inFlight.get(source.prefix) ?? 0) + 1);
    return { kind: 'check', source, delayMs, counted: true };
  }

  /** The admitted request's check is over: `wrong` password, `proven` (a correct one), or neither. */
  settle(ticket: Extract<HealthAdmission, { kind: 'check' }>, verdict: 'wrong' | 'proven' | 'other'): void {
    const now = this.#now();
    if (verdict === 'proven') this.#remember(this.#proven, ticket.source.exact, now);
    if (verdict === 'wrong') this.#remember(this.#wrongExact, ticket.source.exact, now);
    if (!ticket.counted) {
      if (verdict === 'wrong') this.#countWrong(ticket.source.prefix, now);
      return;
    }
    if (ticket.delayMs > 0) this.#waiting = Math.max(0, this.#waiting - 1);
    const left = (this.#inFlight.get(ticket.source.prefix) ?? 1) - 1;
    if (left > 0) this.#inFlight.set(ticket.source.prefix, left);
    else this.#inFlight.delete(ticket.source.prefix);
    if (verdict === 'wrong') this.#countWrong(ticket.source.prefix, now);
  }

  #countWrong(prefix: string, now: number): void {
    const own = this.#failed.get(prefix) ?? [];
    this.#prune(own);
    own.push(now);
    if (own.length > Math.max(this.options.perSourceLimit, 64)) own.shift();
    this.#failed.delete(prefix);
    this.#failed.set(prefix, own);
    for (const oldest of this.#failed.keys()) {
      if (this.#failed.size <= (this.options.maxSources ?? 10_000)) break;
      this.#failed.delete(oldest);
    }
    if (this.options.globalLimit > 0) {
      this.#all.push(now);
      if (this.#all.length > this.options.globalLimit) this.#all.shift();
    }
  }

  /** `at` as the latest time of `key` (re-inserted: the map's order is least recent first, the end dropped). */
  #remember(times: Map<string, number>, key: string, at: number): void {
    times.delete(key);
    times.set(key, at);
    for (const oldest of times.keys()) {
      if (times.size <= (this.options.maxSources ?? 10_000)) break;
      times.delete(oldest);
    }
  }

  #recentAt(times: Map<string, number>, key: string): boolean {
    const at = times.get(key);
    return at !== undefined && at > this.#now() - this.options.windowMs;
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
