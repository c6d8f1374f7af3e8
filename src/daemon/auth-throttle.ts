/**
 * The password-guessing policy (pure: time comes from `now`, no timers, no I/O). Every request is
 * admitted or refused before its credentials are checked, and settled once the check is done.
 *
 * - Counting unit: the address prefix (address-prefix.ts: /32 for IPv4, /64 for IPv6), and all
 *   prefixes together (a guesser with many /64s still meets the global limit).
 * - A password attempt counts from the moment it is admitted (in flight), not only once it failed:
 *   50 parallel guesses see each other, so at most `perPrefixLimit` of them reach the check.
 * - Wrong passwords in the last `windowMs`, plus attempts in flight, at or above the limit: the
 *   request is refused (429 with Retry-After) without checking the password. Below it, the check
 *   waits `baseMs` doubled per counted attempt, up to `maxMs`.
 * - A wrong password is a guess at every password, so only a proven admin password clears the
 *   prefix's count; the read password proves nothing about the admin one and clears nothing.
 *   The global count only ages out.
 * - At most `maxPending` requests (with or without credentials) wait for their authentication
 *   decision at once; more are refused at once.
 */

export interface ThrottleOptions {
  /** Delay before checking the password after one counted attempt; 0 = no delay. */
  baseMs: number;
  /** Cap of that delay. */
  maxMs: number;
  /** Wrong (or in flight) passwords per address prefix within the window before refusing; 0 = no limit. */
  perPrefixLimit?: number;
  /** The same over all addresses together; 0 = no limit. */
  globalLimit?: number;
  windowMs?: number;
  /** Requests waiting for their authentication decision at once; 0 = no limit. */
  maxPending?: number;
  /** Prefixes remembered at most (the least recently seen go first). */
  maxPrefixes?: number;
  now?: () => number;
}

/** What a caller proved: the role its password holds, or that it was wrong; `other` counts nothing. */
export type AttemptVerdict = 'wrong-password' | 'proven-read' | 'proven-admin' | 'other';

/** Why a request was refused before its check. */
export type RefusalReason = 'address' | 'global' | 'parallel';

/** Handed out by `admit`, given back to `settle` exactly once. */
export interface ThrottleTicket {
  readonly prefix: string;
  readonly counted: boolean;
}

export type Admission =
  | { kind: 'check'; delayMs: number; ticket: ThrottleTicket }
  | { kind: 'refuse'; reason: RefusalReason; retryAfterSeconds: number };

interface PrefixState {
  /** Times of wrong passwords, oldest first; at most the per-prefix limit of them kept. */
  failures: number[];
  pending: number;
}

export const THROTTLE_DEFAULTS = {
  perPrefixLimit: 10,
  globalLimit: 100,
  windowMs: 60_000,
  maxPending: 64,
  maxPrefixes: 10_000,
} as const;

/** The policy's state; see the file comment. */
export class FailureThrottle {
  private readonly prefixes = new Map<string, PrefixState>();
  private readonly global: PrefixState = { failures: [], pending: 0 };
  private pendingRequests = 0;
  private readonly limits: Required<Omit<ThrottleOptions, 'now'>>;
  private readonly now: () => number;

  constructor(options: ThrottleOptions) {
    this.limits = { ...THROTTLE_DEFAULTS, ...withoutUndefined(options) } as Required<Omit<ThrottleOptions, 'now'>>;
    this.now = options.now ?? Date.now;
  }

  /** Admit or refuse one request from `prefix`; `presentsPassword`: it carries credentials to check. */
  admit(prefix: string, presentsPassword: boolean): Admission {
    const { maxPending, perPrefixLimit, globalLimit, baseMs, maxMs } = this.limits;
    if (maxPending > 0 && this.pendingRequests >= maxPending) return { kind: 'refuse', reason: 'parallel', retryAfterSeconds: 1 };
    let delayMs = 0;
    if (presentsPassword) {
      const now = this.now();
      const own = this.stateOf(prefix, now);
      this.prune(this.global, now);
      if (perPrefixLimit > 0 && own.failures.length + own.pending >= perPrefixLimit) {
        return { kind: 'refuse', reason: 'address', retryAfterSeconds: this.retryAfter(own, now) };
      }
      if (globalLimit > 0 && this.global.failures.length + this.global.pending >= globalLimit) {
        return { kind: 'refuse', reason: 'global', retryAfterSeconds: this.retryAfter(this.global, now) };
      }
      const counted = own.failures.length + own.pending;
      if (counted > 0 && baseMs > 0) delayMs = Math.min(maxMs, baseMs * 2 ** Math.min(counted - 1, 30));
      own.pending += 1;
      this.global.pending += 1;
    }
    this.pendingRequests += 1;
    return { kind: 'check', delayMs, ticket: { prefix, counted: presentsPassword } };
  }

  /** The check of an admitted request is over; returns the prefix's wrong passwords in the window. */
  settle(ticket: ThrottleTicket, verdict: AttemptVerdict): number {
    this.pendingRequests = Math.max(0, this.pendingRequests - 1);
    if (!ticket.counted) return 0;
    const now = this.now();
    const own = this.stateOf(ticket.prefix, now);
    own.pending = Math.max(0, own.pending - 1);
    this.global.pending = Math.max(0, this.global.pending - 1);
    if (verdict === 'wrong-password') {
      pushCapped(own.failures, now, this.limits.perPrefixLimit || KEPT_WITHOUT_LIMIT);
      if (this.limits.globalLimit > 0) pushCapped(this.global.failures, now, this.limits.globalLimit);
    } else if (verdict === 'proven-admin') {
      own.failures = [];
    }
    const count = own.failures.length;
    if (count === 0 && own.pending === 0) this.prefixes.delete(ticket.prefix);
    return count;
  }

  /** Requests waiting for their authentication decision now. */
  get pending(): number {
    return this.pendingRequests;
  }

  /** The prefix's state, moved to the newest end of the map (least recently seen are dropped first). */
  private stateOf(prefix: string, now: number): PrefixState {
    const state = this.prefixes.get(prefix) ?? { failures: [], pending: 0 };
    this.prune(state, now);
    this.prefixes.delete(prefix);
    this.prefixes.set(prefix, state);
    for (const [oldest, old] of this.prefixes) {
      if (this.prefixes.size <= this.limits.maxPrefixes) break;
      // One with attempts in flight stays: its settle must find it (there are at most maxPending).
      if (old.pending === 0 && oldest !== prefix) this.prefixes.delete(oldest);
    }
    return state;
  }

  private prune(state: PrefixState, now: number): void {
    const from = now - this.limits.windowMs;
    let drop = 0;
    while (drop < state.failures.length && (state.failures[drop] as number) <= from) drop += 1;
    if (drop > 0) state.failures.splice(0, drop);
  }

  /** Seconds until the oldest counted failure leaves the window (at least 1). */
  private retryAfter(state: PrefixState, now: number): number {
    const oldest = state.failures[0];
    const ms = oldest === undefined ? this.limits.maxMs : oldest + this.limits.windowMs - now;
    return Math.max(1, Math.ceil(ms / 1000));
  }
}

/** Failures kept per prefix when it has no limit: enough for the delay to reach any cap. */
const KEPT_WITHOUT_LIMIT = 64;

function pushCapped(times: number[], now: number, cap: number): void {
  times.push(now);
  if (times.length > cap) times.splice(0, times.length - cap);
}

function withoutUndefined(options: ThrottleOptions): Partial<ThrottleOptions> {
  return Object.fromEntries(Object.entries(options).filter(([key, value]) => value !== undefined && key !== 'now'));
}
