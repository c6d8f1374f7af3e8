/**
 * Every etcd call has a deadline (etcd.retry_timeout): a store without quorum or out of reach
 * answers with an error saying so, never a hang. Errors of the etcd client are mapped here to
 * HandyRep's coded errors, in one place.
 */
import { HandyRepError } from '../../model/errors.js';

/** What the caller was doing, for the message ("write the journal", "renew the leader lease"). */
export async function withDeadline<T>(what: string, deadlineMs: number, call: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new HandyRepError('STORE_UNREACHABLE', `etcd did not answer within ${deadlineMs} ms (${what}): unreachable or without quorum`)),
      deadlineMs,
    );
  });
  try {
    return await Promise.race([call().catch((err: unknown) => Promise.reject(storeError(what, err))), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** A HandyRepError for any failure of an etcd call (coded errors pass through unchanged). */
export function storeError(what: string, err: unknown): HandyRepError {
  if (err instanceof HandyRepError) return err;
  const name = err instanceof Error ? err.constructor.name : typeof err;
  const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return new HandyRepError('STORE_UNREACHABLE', `etcd call failed (${what}): unreachable, without quorum or refusing: ${name}: ${message}`, { cause: err });
}
