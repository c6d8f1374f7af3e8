/**
 * Who may read the agent's health endpoints. The same pieces as the daemon's: HTTP Basic parsing
 * (basic-auth.ts) and simple_password_auth's constant-time check, read password or admin
 * password, as for the read-only function get_status; the `daemon` section's guessing limits, but
 * applied by health-throttle.ts, which holds back only sources that sent wrong passwords (review
 * F6: others' guesses must not shut HAProxy's checks out).
 *
 * `agent.require_password: false` (default) is Patroni's behaviour: its GET endpoints are open,
 * because HAProxy's checks carry no credentials. Credentials that are sent are still checked
 * (a wrong one gets 401, as the daemon's /health), so a misconfigured client learns it at once.
 */
import type { HandyRepConfig } from '../config/schema.js';
import { addressPrefix } from '../daemon/address-prefix.js';
import { throttleOptionsOf } from '../daemon/auth-throttle.js';
import { parseBasicAuth, type BasicCredentials } from '../daemon/basic-auth.js';
import { decideSimplePassword } from '../plugins/auth/simple_password_auth.js';
import { HealthThrottle } from './health-throttle.js';

export type HealthAuthOutcome = { ok: true } | { ok: false; status: 401 | 403 | 429; reason: string; retryAfterSeconds?: number };

/** The decision for one request's credentials (null = none sent). Pure. */
export function decideHealthAuth(config: Readonly<HandyRepConfig>, credentials: BasicCredentials | null): HealthAuthOutcome {
  const anyPassword = config.passwords.read_password !== '' || config.passwords.admin_password !== '';
  if (credentials === null) return config.agent.require_password ? { ok: false, status: 401, reason: 'credentials required' } : { ok: true };
  if (!config.agent.require_password && !anyPassword) return { ok: true };
  const outcome = decideSimplePassword(config, { username: credentials.username, password: credentials.password, functionName: 'get_status', access: 'read', remoteAddress: '' });
  return outcome.ok ? { ok: true } : { ok: false, status: outcome.status, reason: outcome.reason };
}

/** The peer's exact address: an IPv4-mapped IPv6 address as its IPv4 one, without an IPv6 zone. */
export function exactAddress(address: string): string {
  const bare = address.replace(/%.*$/, '');
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(bare) ? bare.slice(7) : bare.toLowerCase();
}

/** The decision plus the throttle (effects: counts per source address, a delay after wrong passwords). */
export class HealthAuth {
  readonly #throttle: HealthThrottle;

  constructor(private readonly config: Readonly<HandyRepConfig>) {
    const limits = throttleOptionsOf(config.daemon);
    this.#throttle = new HealthThrottle({
      baseMs: limits.baseMs,
      maxMs: limits.maxMs,
      perSourceLimit: limits.perPrefixLimit ?? 0,
      globalLimit: limits.globalLimit ?? 0,
      windowMs: limits.windowMs ?? 60_000,
      maxPending: limits.maxPending ?? 0,
    });
  }

  async check(authorization: string | undefined, address: string): Promise<HealthAuthOutcome> {
    const credentials = parseBasicAuth(authorization);
    if (credentials === null && !this.config.agent.require_password) return { ok: true };
    const admission = this.#throttle.admit({ prefix: addressPrefix(address), exact: exactAddress(address) }, credentials !== null);
    if (admission.kind === 'refuse') return { ok: false, status: 429, reason: 'too many wrong passwords; retry later', retryAfterSeconds: admission.retryAfterSeconds };
    let verdict: 'wrong' | 'proven' | 'other' = 'other';
    try {
      if (admission.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, admission.delayMs));
      const outcome = decideHealthAuth(this.config, credentials);
      if (credentials !== null) verdict = outcome.ok ? 'proven' : outcome.status === 401 ? 'wrong' : 'other';
      return outcome;
    } finally {
      this.#throttle.settle(admission, verdict);
    }
  }
}
