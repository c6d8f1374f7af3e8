/**
 * The controller's first read of the etcd store, retried while etcd does not answer: a controller
 * started together with etcd (a host's boot, a restart under load) should wait a little for it
 * rather than exit and rely on its supervisor. Bounded, so a controller pointed at a dead etcd
 * still fails with the store's own error; only STORE_UNREACHABLE is retried (a damaged state or a
 * refused credential will not heal by waiting).
 */
import { HandyRepError } from '../model/errors.js';

export interface StartReadRetry {
  /** Attempts in all, the first included (≥ 1). */
  attempts: number;
  delayMs: number;
  sleep: (ms: number) => Promise<void>;
  /** Told of each failed attempt that will be retried. */
  onRetry: (attempt: number, err: HandyRepError) => void;
}

export async function readAtStart<T>(read: () => Promise<T>, retry: StartReadRetry): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await read();
    } catch (err) {
      const unreachable = err instanceof HandyRepError && err.code === 'STORE_UNREACHABLE';
      if (!unreachable || attempt >= retry.attempts) throw err;
      retry.onRetry(attempt, err);
      await retry.sleep(retry.delayMs);
    }
  }
}
