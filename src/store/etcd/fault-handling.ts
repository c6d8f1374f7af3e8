/**
 * The etcd client's fault handling (etcd3's `faultHandling` option): a circuit breaker per member
 * and a retry over the members. Only transport failures count: a member that cannot be reached
 * (UNAVAILABLE, which etcd also answers without a leader or quorum) or did not answer within the
 * attempt's deadline (DEADLINE_EXCEEDED). An application answer ("requested lease not found",
 * a permission error, a bad argument) is a member that works: it must not open the member's
 * breaker, or one failed call would make every following call of this client (the master's lease
 * renewal, a member write, a controller's guarded write) fail at once without reaching etcd
 * (seen: one put under an ended lease, retried three times on the one member, opened its breaker
 * for a second). Retrying such an answer would only repeat it.
 */
import { circuitBreaker, ConsecutiveBreaker, ConstantBackoff, handleWhen, retry } from 'cockatiel';
import { GRPCDeadlineExceededError, GRPCUnavailableError, type IOptions } from 'etcd3';

/** Whether a failed call or stream says the member was unreachable or silent (not what it answered). */
export function isTransportFailure(err: unknown): boolean {
  return err instanceof GRPCUnavailableError || err instanceof GRPCDeadlineExceededError;
}

export interface FaultHandlingSettings {
  /** Attempts per unary call, each on another member when there are several. */
  readonly attempts: number;
  /** Consecutive transport failures after which a member is skipped. */
  readonly breakAfter: number;
  /** How long a broken member is skipped before one call may try it again, ms. */
  readonly halfOpenAfterMs: number;
}

/**
 * A member that failed `breakAfter` times in a row is skipped for `halfOpenAfterMs` (etcd3's
 * default is five seconds: after a quorum loss heals, leadership must be possible again within the
 * lease TTL); a call that met a transport failure is tried again at once on the next member.
 */
export function etcdFaultHandling(settings: FaultHandlingSettings): NonNullable<IOptions['faultHandling']> {
  const transport = handleWhen(isTransportFailure);
  return {
    host: () => circuitBreaker(transport, { halfOpenAfter: settings.halfOpenAfterMs, breaker: new ConsecutiveBreaker(settings.breakAfter) }),
    global: retry(transport, { maxAttempts: settings.attempts - 1, backoff: new ConstantBackoff(0) }),
  };
}
