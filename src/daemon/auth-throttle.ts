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
import type { DaemonSection } from '../config/schema.js';

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

/** An admitted request, given back to `settle` exactly once. */
export interface ThrottleTicket {
  readonly kind: 'check';
  /** Wait this long before checking the password. */
  readonly delayMs: number;
  readonly prefix: string;
  /** It carries a password: counted as in flight until settled. */
  readonly counted: boolean;
}

export type Admission = ThrottleTicket | { kind: 'refuse'; reason: RefusalReason; retryAfterSeconds: number };

export const THROTTLE_DEFAULTS = {
  perPrefixLimit: 10,
  globalLimit: 100,
  windowMs: 60_000,
  maxPending: 64,
  maxPrefixes: 10_000,
} as const;

/** The limits a configuration's `daemon` section sets (the daemon's and the agents' endpoints use them). */
export function throttleOptionsOf(settings: DaemonSection): ThrottleOptions {
  return {
    baseMs: settings.auth_failure_delay_seconds * 1000,
    maxMs: settings.auth_failure_delay_max_seconds * 1000,
    perPrefixLimit: settings.auth_failures_per_address,
    globalLimit: settings.auth_failures_total,
    windowMs: settings.auth_failure_window_seconds * 1000,
    maxPending: settings.max_unauthenticated_requests,
  };
}

const NO_FAILURES: readonly number[] = Object.freeze([]);

/** Failures kept per prefix when it has no limit: enough for the delay to reach any cap. */
const KEPT_WITHOUT_LIMIT = 64;

/**
 * The policy's state; see the file comment. Kept light on the path of a correct password (every
 * authenticated request): one counter in and out of a map, no per-request objects beyond the ticket.
 */
export class FailureThrottle {
  /** Times of wrong passwords per prefix, oldest first, at most the per-prefix limit; least recently failed first. */
  private readonly failures = new Map<string, number[]>();
  /** Password attempts in flight per prefix. */
  private readonly inFlight = new Map<string, number>();
  private readonly globalFailures: number[] = [];
  private globalInFlight = 0;
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
      const own = this.failuresOf(prefix);
      const ownInFlight = this.inFlight.get(prefix) ?? 0;
      const counted = own.length + ownInFlight;
      if (perPrefixLimit > 0 && counted >= perPrefixLimit) {
        return { kind: 'refuse', reason: 'address', retryAfterSeconds: this.retryAfter(own) };
      }
      if (this.globalFailures.length > 0) this.prune(this.globalFailures);
      if (globalLimit > 0 && this.globalFailures.length + this.globalInFlight >= globalLimit) {
        return { kind: 'refuse', reason: 'global', retryAfterSeconds: this.retryAfter(this.globalFailures) };
      }
      if (counted > 0 && baseMs > 0) delayMs = Math.min(maxMs, baseMs * 2 ** Math.min(counted - 1, 30));
      this.inFlight.set(prefix, ownInFlight + 1);
      this.globalInFlight += 1;
    }
    this.pendingRequests += 1;
    return { kind: 'check', delayMs, prefix, counted: presentsPassword };
  }

  /** The check of an admitted request is over; returns the prefix's wrong passwords in the window. */
  settle(ticket: ThrottleTicket, verdict: AttemptVerdict): number {
    this.pendingRequests = Math.max(0, this.pendingRequests - 1);
    if (!ticket.counted) return 0;
    const { prefix } = ticket;
    const left = (this.inFlight.get(prefix) ?? 1) - 1;
    if (left > 0) this.inFlight.set(prefix, left);
    else this.inFlight.delete(prefix);
    this.globalInFlight = Math.max(0, this.globalInFlight - 1);
    if (verdict === 'proven-admin') {
      this.failures.delete(prefix);
      return 0;
    }
    if (verdict !== 'wrong-password') return this.failuresOf(prefix).length;
    const now = this.now();
    const own = this.failures.get(prefix) ?? [];
    this.prune(own);
    pushCapped(own, now, this.limits.perPrefixLimit || KEPT_WITHOUT_LIMIT);
    // Re-inserted: the map's order is least recently failed first, the end that is dropped.
    this.failures.delete(prefix);
    this.failures.set(prefix, own);
    for (const oldest of this.failures.keys()) {
      if (this.failures.size <= this.limits.maxPrefixes) break;
      this.failures.delete(oldest);
    }
    if (this.limits.globalLimit > 0) pushCapped(this.globalFailures, now, this.limits.globalLimit);
    return own.length;
  }

  /** Requests waiting for their authentication decision now. */
  get pending(): number {
    return this.pendingRequests;
  }

  /** The prefix's failures within the window (a shared empty list when it has none). */
  private failuresOf(prefix: string): readonly number[] {
    const own = this.failures.get(prefix);
    if (own === undefined) return NO_FAILURES;
    this.prune(own);
    if (own.length === 0) this.failures.delete(prefix);
    return own;
  }

  private prune(times: number[]): void {
    const from = this.now() - this.limits.windowMs;
    let drop = 0;
    while (drop < times.length && (times[drop] as number) <= from) drop += 1;
    if (drop > 0) times.splice(0, drop);
  }

  /** Seconds until the oldest counted failure leaves the window (at least 1). */
  private retryAfter(times: readonly number[]): number {
    const oldest = times[0];
    const ms = oldest === undefined ? this.limits.maxMs : oldest + this.limits.windowMs - this.now();
    return Math.max(1, Math.ceil(ms / 1000));
  }
}

function pushCapped(times: number[], now: number, cap: number): void {
  times.push(now);
  if (times.length > cap) times.splice(0, times.length - cap);
}

function withoutUndefined(options: ThrottleOptions): Partial<ThrottleOptions> {
  return Object.fromEntries(Object.entries(options).filter(([key, value]) => value !== undefined && key !== 'now'));
}
