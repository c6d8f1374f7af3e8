/**
 * The authentication step of every operation call: Basic credentials → the throttle (auth-throttle.ts)
 * → the auth plugin → allowed, 401, 403 or 429. Runs before the request body is read (see
 * routes/operation-route.ts). Wrong passwords are logged with the caller's address and the function
 * (never the password or user name, which may be a mistyped password); refusals by the throttle are
 * logged at most once per REFUSAL_LOG_MS with their count, so a flood does not flood the log.
 */
import { OPERATIONS, type OperationSpec } from '../api/operations.js';
import type { AuthOutcome, AuthPlugin, PluginContext } from '../plugins/types.js';
import { addressPrefix } from './address-prefix.js';
import type { AttemptVerdict, FailureThrottle, RefusalReason } from './auth-throttle.js';
import type { DaemonLog } from './backend.js';
import { parseBasicAuth } from './basic-auth.js';

/**
 * The authentication plugin the configuration names and the context it is called with: HandyRep's
 * own (HandyRep.authBinding), so a reload_conf applies new passwords at once.
 */
export interface AuthBinding {
  readonly plugin: AuthPlugin;
  readonly ctx: PluginContext;
}

/** The auth binding of the moment, the throttle and the log. */
export interface AuthGateDeps {
  binding: () => AuthBinding;
  throttle: FailureThrottle;
  log: DaemonLog;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** One call to decide: its Authorization header, caller address and function. */
export interface AuthAttempt {
  authorization: string | undefined;
  address: string;
  spec: OperationSpec;
}

/** The plugin's answer, or a refusal by the throttle before the plugin was asked. */
export type GateOutcome = AuthOutcome | { ok: false; status: 429; reason: string; retryAfterSeconds: number };

/** Counts since start, for /metrics. */
export interface AuthStats {
  /** Password checks by the plugin's verdict. */
  checks: Record<'accepted' | 'rejected' | 'forbidden', number>;
  /** Requests refused before any check. */
  throttled: Record<RefusalReason, number>;
}

const REFUSAL_LOG_MS = 10_000;

const REFUSAL_TEXT: Readonly<Record<RefusalReason, string>> = {
  address: 'too many wrong passwords from this address; retry later',
  global: 'too many wrong passwords from all addresses; retry later',
  parallel: 'too many requests waiting for authentication; retry later',
};

const sleepMs = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Decides each operation call; see the file comment. */
export class AuthGate {
  private readonly counts: AuthStats = { checks: { accepted: 0, rejected: 0, forbidden: 0 }, throttled: { address: 0, global: 0, parallel: 0 } };
  private refusalsUnlogged = 0;
  private lastRefusalLog = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: AuthGateDeps) {}

  /** Decide one call. Throws only when the plugin itself fails (the route answers 500). */
  async check(attempt: AuthAttempt): Promise<GateOutcome> {
    const { throttle } = this.deps;
    const credentials = parseBasicAuth(attempt.authorization);
    const admission = throttle.admit(addressPrefix(attempt.address), credentials !== null);
    if (admission.kind === 'refuse') {
      this.counts.throttled[admission.reason] += 1;
      this.logRefusal(attempt, admission.reason);
      return { ok: false, status: 429, reason: REFUSAL_TEXT[admission.reason], retryAfterSeconds: admission.retryAfterSeconds };
    }
    let verdict: AttemptVerdict = 'other';
    let reason = '';
    try {
      if (admission.delayMs > 0) await (this.deps.sleep ?? sleepMs)(admission.delayMs);
      const { plugin, ctx } = this.deps.binding();
      const outcome = await plugin.authenticate(ctx, {
        username: credentials?.username ?? null,
        password: credentials?.password ?? null,
        functionName: attempt.spec.name,
        access: attempt.spec.access,
        remoteAddress: attempt.address,
      });
      verdict = credentials === null ? 'other' : verdictOf(outcome, attempt.spec);
      if (!outcome.ok) reason = outcome.reason;
      this.count(outcome, credentials !== null);
      if (!outcome.ok && outcome.status === 403) this.deps.log.warn('AUTH', `${attempt.spec.name} refused to ${attempt.address}: ${outcome.reason}`);
      return outcome;
    } finally {
      const failures = throttle.settle(admission, verdict);
      if (verdict === 'wrong-password') {
        this.deps.log.warn('AUTH', `authentication failed for ${attempt.spec.name} from ${attempt.address}: ${reason} (${failures} within the window from its address range)`);
      }
    }
  }

  /**
   * The web functions the credentials may call, as the plugin answers for each (a dashboard
   * session keeps this set, so it follows the plugin's rules, ro_function_list included). Call
   * only after `check` accepted the credentials: not throttled, not counted, nothing logged.
   */
  async allowedFunctions(authorization: string | undefined, address: string): Promise<ReadonlySet<string>> {
    const credentials = parseBasicAuth(authorization);
    const { plugin, ctx } = this.deps.binding();
    const allowed = new Set<string>();
    for (const spec of OPERATIONS) {
      if (!spec.web) continue;
      const outcome = await plugin.authenticate(ctx, {
        username: credentials?.username ?? null,
        password: credentials?.password ?? null,
        functionName: spec.name,
        access: spec.access,
        remoteAddress: address,
      });
      if (outcome.ok) allowed.add(spec.name);
    }
    return allowed;
  }

  /** Counts since start (a copy). */
  stats(): AuthStats {
    return { checks: { ...this.counts.checks }, throttled: { ...this.counts.throttled } };
  }

  private count(outcome: AuthOutcome, presented: boolean): void {
    if (outcome.ok) this.counts.checks.accepted += 1;
    else if (outcome.status === 403) this.counts.checks.forbidden += 1;
    else if (presented) this.counts.checks.rejected += 1;
  }

  private logRefusal(attempt: AuthAttempt, reason: RefusalReason): void {
    this.refusalsUnlogged += 1;
    const now = (this.deps.now ?? Date.now)();
    if (now - this.lastRefusalLog < REFUSAL_LOG_MS) return;
    this.deps.log.warn('AUTH', `refused ${this.refusalsUnlogged} request(s) before checking credentials, the last for ${attempt.spec.name} from ${attempt.address}: ${REFUSAL_TEXT[reason]}`);
    this.refusalsUnlogged = 0;
    this.lastRefusalLog = now;
  }
}

/**
 * What a checked password proved. Admin access is proven by passing on an admin function, or by a
 * plugin naming the user `admin` (simple_password_auth does, for the admin password on any function).
 * A 403 is a right password for the wrong function: it proves the read role, not a failure.
 */
export function verdictOf(outcome: AuthOutcome, spec: Pick<OperationSpec, 'access'>): AttemptVerdict {
  if (!outcome.ok) return outcome.status === 401 ? 'wrong-password' : 'proven-read';
  return spec.access === 'admin' || outcome.user === 'admin' ? 'proven-admin' : 'proven-read';
}
