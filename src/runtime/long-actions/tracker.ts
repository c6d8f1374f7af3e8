/**
 * The long-action tracker: actions that take minutes (a clone) run here, off the poll loop and
 * outside the HandyRep action queue, so polls, verifications and failovers keep running while a
 * data folder is copied. At most one long action per server; each can be cancelled (its
 * AbortSignal fires and the action stops its node-side work); its phase and progress are written
 * to the server's record (`action`, `action_progress`: get_server_info shows them) and logged at
 * each phase change and every 10 %.
 *
 * The tracker does not decide anything about the cluster: the action's own code takes the
 * action queue for the short moments it changes server definitions.
 */
import type { EventLog } from '../../log/event-log.js';
import type { ActionProgress, LongActionKind, LongActionState } from '../../model/long-action.js';
import { describeError } from '../../model/errors.js';
import { failure, type Rd } from '../../model/rd.js';
import type { ServerBook } from '../server-book.js';

/** What a running action uses to report and to learn it was cancelled. */
export interface ActionHandle {
  readonly signal: AbortSignal;
  /** Why it was cancelled (set before the signal fires), else null. */
  readonly cancelReason: string | null;
  phase(text: string): void;
  progress(bytesDone: number | null, bytesTotal: number | null): void;
  /** The progress as it stands. */
  current(): ActionProgress;
}

export interface TrackerDeps {
  book: ServerBook;
  log: EventLog;
  clock: () => Date;
}

interface Running {
  kind: LongActionKind;
  controller: AbortController;
  cancelReason: string | null;
  done: Promise<Rd>;
}

/** Outcome a finished action reports: its RD, and whether it ended by cancellation. */
export type ActionOutcome = Rd & { cancelled?: boolean };

export class LongActionTracker {
  private readonly running = new Map<string, Running>();

  constructor(private readonly deps: TrackerDeps) {}

  /** Servers with a long action in progress. */
  active(): string[] {
    return [...this.running.keys()];
  }

  isRunning(server: string): boolean {
    return this.running.has(server);
  }

  /**
   * Start `run` as the long action of `server`; null when one already runs there. The returned
   * promise never rejects: an exception becomes a FAIL RD.
   */
  start(server: string, kind: LongActionKind, run: (handle: ActionHandle) => Promise<ActionOutcome>): Promise<Rd> | null {
    if (this.running.has(server)) return null;
    const controller = new AbortController();
    const now = this.now();
    let progress: ActionProgress = {
      kind,
      state: 'running',
      phase: 'starting',
      bytes_done: null,
      bytes_total: null,
      percent: null,
      started: now,
      updated: now,
      finished: null,
      details: null,
    };
    let loggedDecile = -1;
    const entry: Running = { kind, controller, cancelReason: null, done: Promise.resolve(failure('not started')) };
    const publish = (): void => {
      if (this.deps.book.has(server)) this.deps.book.applyFacts(server, { action: progress.state === 'running' ? kind : null, action_progress: { ...progress } });
    };
    const handle: ActionHandle = {
      signal: controller.signal,
      get cancelReason() {
        return entry.cancelReason;
      },
      phase: (text) => {
        // Bytes stay: after the copy they say how much was copied.
        progress = { ...progress, phase: text, updated: this.now() };
        this.deps.log.info('CLONE', `${kind} ${server}: ${text}`, server);
        publish();
      },
      progress: (done, total) => {
        const percent = done !== null && total !== null && total > 0 ? Math.min(100, Math.round((done / total) * 1000) / 10) : null;
        progress = { ...progress, bytes_done: done, bytes_total: total, percent, updated: this.now() };
        const decile = percent === null ? -1 : Math.floor(percent / 10);
        if (done === null) loggedDecile = -1;
        if (decile > loggedDecile) {
          loggedDecile = decile;
          this.deps.log.info('CLONE', `${kind} ${server}: ${progress.phase}: ${describeProgress(progress)}`, server);
        }
        publish();
      },
      current: () => ({ ...progress }),
    };
    this.running.set(server, entry);
    publish();
    entry.done = (async (): Promise<Rd> => {
      let outcome: ActionOutcome;
      try {
        outcome = await run(handle);
      } catch (err) {
        outcome = failure(`${kind} of ${server} failed unexpectedly: ${describeError(err)}`);
      }
      const state: LongActionState = outcome.cancelled ? 'cancelled' : outcome.result === 'SUCCESS' ? 'done' : 'failed';
      const end = this.now();
      progress = { ...progress, state, updated: end, finished: end, details: outcome.details };
      publish();
      this.running.delete(server);
      const line = `${kind} ${server} ${state}: ${outcome.details}`;
      if (state === 'done') this.deps.log.info('CLONE', line, server);
      else this.deps.log.error('CLONE', line, server, state === 'failed' ? 'WARNING' : undefined);
      const { cancelled: _cancelled, ...rd } = outcome;
      return rd;
    })();
    return entry.done;
  }

  /** Cancel the long action of `server`. False when none runs. */
  cancel(server: string, reason: string): boolean {
    const entry = this.running.get(server);
    if (!entry) return false;
    if (entry.cancelReason === null) entry.cancelReason = reason;
    entry.controller.abort();
    return true;
  }

  /** The running action's promise, or null. */
  completion(server: string): Promise<Rd> | null {
    return this.running.get(server)?.done ?? null;
  }

  /** Cancel every action and wait for them to end (HandyRep.close). */
  async shutdown(reason: string): Promise<void> {
    const pending = [...this.running.entries()].map(([server, entry]) => {
      this.cancel(server, reason);
      return entry.done;
    });
    await Promise.allSettled(pending);
  }

  private now(): string {
    return this.deps.clock().toISOString();
  }
}

/** "31.2% (98.0 MB of 314.6 MB)", or what is known. */
export function describeProgress(p: Pick<ActionProgress, 'bytes_done' | 'bytes_total' | 'percent'>): string {
  const mb = (b: number): string => `${(b / 1048576).toFixed(1)} MB`;
  if (p.bytes_done === null) return 'no progress reported yet';
  if (p.bytes_total === null) return `${mb(p.bytes_done)} copied`;
  return `${p.percent ?? '?'}% (${mb(p.bytes_done)} of ${mb(p.bytes_total)})`;
}
