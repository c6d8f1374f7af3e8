/**
 * The Linux watchdog as a last line of defence: armed while this node holds the master lease, fed
 * on every successful renewal, disarmed (magic close, "V") when the lease is released normally. An
 * agent that hangs or is killed while holding the lease stops feeding it, and the kernel resets
 * the machine, taking the writable PostgreSQL with it. Node cannot set the device's timeout (an
 * ioctl); it must be configured to at most ttl − safety_margin (see docs/node-agent.md).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { WATCHDOG_MODES } from '../config/schema.js';

export type WatchdogMode = (typeof WATCHDOG_MODES)[number];

export class Watchdog {
  #fd: number | null = null;

  constructor(
    readonly mode: WatchdogMode,
    readonly device: string,
  ) {}

  /** Whether the agent may run: in `required` mode the device must open (it is closed again at once, disarmed). */
  check(): string | null {
    if (this.mode !== 'required') return null;
    try {
      this.arm();
      this.disarm();
      return null;
    } catch (err) {
      return `watchdog is required but ${this.device} cannot be opened: ${(err as Error).message}`;
    }
  }

  get armed(): boolean {
    return this.#fd !== null;
  }

  /** Opens the device (arms it); in `auto` mode a failure leaves it off. Throws only in `required` mode. */
  arm(): void {
    if (this.mode === 'off' || this.#fd !== null) return;
    try {
      this.#fd = openSync(this.device, 'w');
    } catch (err) {
      if (this.mode === 'required') throw err;
    }
  }

  /** Feeds it (any byte but "V"). */
  feed(): void {
    if (this.#fd === null) return;
    try {
      writeSync(this.#fd, 'x');
    } catch {
      // A failed feed is a missed one: the device resets the machine if the next ones fail too.
    }
  }

  /** Magic close: the device stops counting. */
  disarm(): void {
    const fd = this.#fd;
    if (fd === null) return;
    this.#fd = null;
    try {
      writeSync(fd, 'V');
    } finally {
      closeSync(fd);
    }
  }
}
