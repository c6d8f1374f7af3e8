/**
 * A counting semaphore with abortable waits. Used to keep the number of SSH channels open on one
 * connection below sshd's MaxSessions (10 by default); excess commands queue instead of failing.
 */

/** Releases a slot; calling it more than once has no further effect. */
export type Release = () => void;

/** FIFO counting semaphore. */
export class Semaphore {
  private active = 0;
  private readonly waiters: Array<(release: Release) => void> = [];

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('semaphore limit must be a positive integer');
  }

  /** Slots in use. */
  get inUse(): number {
    return this.active;
  }

  /**
   * Resolves with a release function once a slot is free. When `signal` aborts first, rejects with
   * the abort reason and gives up its place in the queue.
   */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.active < this.limit) {
      this.active += 1;
      return Promise.resolve(this.releaser());
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter = (release: Release): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(release);
      };
      const onAbort = (): void => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      // Hand the slot straight to the next waiter, so `active` never dips and overshoots.
      if (next) next(this.releaser());
      else this.active -= 1;
    };
  }
}
