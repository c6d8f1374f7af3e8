/**
 * The failover_check schedule (seed 001 "Polling and Automated Failover", fixing reference §2.5):
 * fixed-rate, not "sleep after": a check starts every poll_interval seconds measured from the
 * schedule, a full verification replaces the poll whenever verify_interval has passed, and a
 * cycle that throws is logged, counted and reported while the next one runs anyway. Never two
 * cycles at once: a cycle that overruns its slot delays the next, it does not overlap it.
 */
import type { EventLog } from '../log/event-log.js';
import { describeError } from '../model/errors.js';

export interface MonitorStatus {
  running: boolean;
  cycles: number;
  errors: number;
  last_error: string | null;
  last_cycle_ts: string | null;
  last_result: string | null;
  last_duration_ms: number | null;
}

export interface MonitorDeps {
  /** One check; `verify` asks for a full verification instead of a poll. Returns a sentence. */
  check: (verify: boolean) => Promise<string>;
  intervals: () => { pollSeconds: number; verifySeconds: number };
  log: EventLog;
  now?: () => number;
}

export class Monitor {
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private nextAt = 0;
  private lastVerifyAt = Number.NEGATIVE_INFINITY;
  private wakeRequested = false;
  private readonly state: MonitorStatus = {
    running: false,
    cycles: 0,
    errors: 0,
    last_error: null,
    last_cycle_ts: null,
    last_result: null,
    last_duration_ms: null,
  };

  constructor(private readonly deps: MonitorDeps) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  status(): MonitorStatus {
    return { ...this.state };
  }

  /** Start the schedule; the first cycle is a full verification, at once. Idempotent. */
  start(): void {
    if (this.state.running) return;
    this.state.running = true;
    this.nextAt = this.now();
    this.lastVerifyAt = Number.NEGATIVE_INFINITY;
    this.arm(0);
  }

  /** Stop scheduling and wait for the cycle in flight to finish. Idempotent. */
  async stop(): Promise<void> {
    this.state.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.inFlight) await this.inFlight;
  }

  /** Run the next cycle as soon as the current one (if any) ends. */
  wake(): void {
    if (!this.state.running) return;
    if (this.inFlight) {
      this.wakeRequested = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.arm(0);
  }

  private arm(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      this.inFlight = this.cycle().finally(() => {
        this.inFlight = null;
        this.scheduleNext();
      });
    }, Math.max(0, delayMs));
  }

  private scheduleNext(): void {
    if (!this.state.running) return;
    const { pollSeconds } = this.deps.intervals();
    const now = this.now();
    this.nextAt += pollSeconds * 1000;
    // Behind by more than a slot (a long failover, a frozen process): resume from now, no burst.
    if (this.nextAt < now) this.nextAt = now;
    const delay = this.wakeRequested ? 0 : this.nextAt - now;
    this.wakeRequested = false;
    this.arm(delay);
  }

  private async cycle(): Promise<void> {
    const started = this.now();
    const { verifySeconds } = this.deps.intervals();
    const verify = started - this.lastVerifyAt >= verifySeconds * 1000;
    if (verify) this.lastVerifyAt = started;
    try {
      const sentence = await this.deps.check(verify);
      this.state.last_result = sentence;
      this.deps.log.debug('CHECK', sentence);
    } catch (err) {
      this.state.errors += 1;
      this.state.last_error = describeError(err);
      this.deps.log.error('CHECK', `failover check failed unexpectedly (reported as a bug; the next check runs anyway): ${describeError(err)}`);
    } finally {
      this.state.cycles += 1;
      this.state.last_cycle_ts = new Date().toISOString();
      this.state.last_duration_ms = this.now() - started;
    }
  }
}
