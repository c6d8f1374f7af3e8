/**
 * The authentication step of every operation call: Basic credentials → the auth plugin → allowed,
 * 401 or 403. Wrong passwords are logged with the caller's address and the function (never the
 * password or user name, which may be a mistyped password) and slow that address down.
 */
import type { OperationSpec } from '../api/operations.js';
import type { AuthOutcome, AuthPlugin, PluginContext } from '../plugins/types.js';
import type { FailureThrottle } from './auth-throttle.js';
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

/** The auth binding of the moment, the slow-down table and the log. */
export interface AuthGateDeps {
  binding: () => AuthBinding;
  throttle: FailureThrottle;
  log: DaemonLog;
  sleep?: (ms: number) => Promise<void>;
}

/** One call to decide: its Authorization header, caller address and function. */
export interface AuthAttempt {
  authorization: string | undefined;
  address: string;
  spec: OperationSpec;
}

const sleepMs = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Decides each operation call; see the file comment. */
export class AuthGate {
  constructor(private readonly deps: AuthGateDeps) {}

  /** Decide one call. Throws only when the plugin itself fails (the route answers 500). */
  async check(attempt: AuthAttempt): Promise<AuthOutcome> {
    const { throttle, log } = this.deps;
    const delay = throttle.delayMs(attempt.address);
    if (delay > 0) await (this.deps.sleep ?? sleepMs)(delay);
    const credentials = parseBasicAuth(attempt.authorization);
    const { plugin, ctx } = this.deps.binding();
    const outcome = await plugin.authenticate(ctx, {
      username: credentials?.username ?? null,
      password: credentials?.password ?? null,
      functionName: attempt.spec.name,
      access: attempt.spec.access,
      remoteAddress: attempt.address,
    });
    const fn = attempt.spec.name;
    if (outcome.ok) {
      if (credentials) throttle.recordSuccess(attempt.address);
    } else if (outcome.status === 403) {
      log.warn('AUTH', `${fn} refused to ${attempt.address}: ${outcome.reason}`);
    } else if (credentials) {
      // Only a presented, wrong password counts: a first request without credentials is normal.
      const count = throttle.recordFailure(attempt.address);
      const next = throttle.delayMs(attempt.address);
      log.warn('AUTH', `authentication failed for ${fn} from ${attempt.address}: ${outcome.reason} (${count} in a row; next request waits ${next} ms)`);
    }
    return outcome;
  }
}
