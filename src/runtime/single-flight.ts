/**
 * One run at a time per key, shared by the callers that ask meanwhile. Verifications use it: each
 * opens sessions on the master, runs ssh and commits a write, so a hundred callers asking at once
 * must cost one verification, not a hundred (a read password would otherwise be enough to exhaust
 * max_connections).
 *
 * - `join`: share the run in progress, or the one waiting to start. For readers who want a fresh
 *   answer: a run that is in progress when they ask finishes after they asked.
 * - `fresh`: share only a run that has not started yet; otherwise wait for the one in progress and
 *   start a new one. For steps that just changed the cluster and must not get an answer observed
 *   before their change.
 * A run that fails fails for everyone who shared it.
 */

export type FlightShare = 'join' | 'fresh';

interface Slot {
  running: Promise<unknown> | null;
  queued: Promise<unknown> | null;
}

const ignore = (): void => undefined;

/** See the file comment. */
export class SingleFlight {
  private readonly slots = new Map<string, Slot>();

  /** Runs `work` under `key`, or hands out the promise of a run this caller may share. */
  run<T>(key: string, share: FlightShare, work: () => Promise<T>): Promise<T> {
    const slot = this.slots.get(key) ?? { running: null, queued: null };
    this.slots.set(key, slot);
    // The key's promises all come from `work`s given with that key: callers use one type per key.
    if (slot.queued) return slot.queued as Promise<T>;
    if (share === 'join' && slot.running) return slot.running as Promise<T>;
    const previous = slot.running;
    const begin = (): Promise<T> => {
      if (slot.queued === flight) slot.queued = null;
      slot.running = flight;
      return work();
    };
    const flight: Promise<T> = (previous ? previous.then(ignore, ignore) : Promise.resolve())
      .then(begin)
      .finally(() => {
        if (slot.running === flight) slot.running = null;
        if (slot.running === null && slot.queued === null && this.slots.get(key) === slot) this.slots.delete(key);
      });
    if (previous) slot.queued = flight;
    else slot.running = flight;
    return flight;
  }

  /** Keys with a run in progress or waiting (for tests and diagnostics). */
  get activeKeys(): number {
    return this.slots.size;
  }
}
