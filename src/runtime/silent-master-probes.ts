/**
 * A master that stopped answering is probed on its database port back-to-back, each probe with the
 * full connect timeout, from its first failed check until it answers again (or the monitoring
 * stops). Once its agent lease lapsed, the failover's questions about that port (revalidate, the
 * fence's check, the second-master check) take a NO ANSWER of a probe that ENDED after the lapse
 * was seen instead of waiting out a new connect timeout of their own: the same full-timeout
 * question, asked at most a poll interval earlier — never one that ended before the lapse. Any
 * other answer (writable, read-only, refused, starting) is not reused: the port is asked again
 * (a stopped master restarted by systemd, or a fenced one, must be seen as it is now). Effects
 * injected: the probe and the clock.
 */
import type { DatabaseAnswer } from './topology/fence.js';

export interface ProbeRecord {
  readonly startedMs: number;
  readonly endedMs: number;
  readonly answer: DatabaseAnswer;
}

/**
 * Whether `probe` answers for a question asked at `nowMs` about a master whose lease lapse was seen
 * at `lapseMs`: it ended at or after the lapse and at most `maxAgeMs` before now. Pure.
 */
export function probeUsable(probe: ProbeRecord, lapseMs: number, nowMs: number, maxAgeMs: number): boolean {
  return probe.endedMs >= lapseMs && nowMs - probe.endedMs <= maxAgeMs;
}

export class SilentMasterProbes {
  #name: string | null = null;
  #last: ProbeRecord | null = null;
  #inFlight: Promise<ProbeRecord> | null = null;
  #generation = 0;

  constructor(
    private readonly ask: (name: string) => Promise<DatabaseAnswer>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Starts probing `name` (a no-op while it already is). */
  follow(name: string): void {
    if (this.#name === name) return;
    this.stop();
    this.#name = name;
    void this.#loop(name, this.#generation);
  }

  /** Stops probing and forgets every answer (the probe in flight ends on its own, ignored). */
  stop(): void {
    this.#generation += 1;
    this.#name = null;
    this.#last = null;
    this.#inFlight = null;
  }

  /**
   * 'no_answer' when a probe of `name` usable after a lapse seen at `lapseMs` got none: the last
   * one when usable (probeUsable), else the one in flight (awaited: it ends after the lapse). null
   * otherwise — any answer, or `name` not being probed: ask the port yourself.
   */
  async answerAfter(name: string, lapseMs: number, maxAgeMs: number): Promise<'no_answer' | null> {
    if (this.#name !== name) return null;
    const last = this.#last;
    if (last !== null && last.answer !== 'no_answer') return null;
    if (last !== null && probeUsable(last, lapseMs, this.now(), maxAgeMs)) return 'no_answer';
    const inFlight = this.#inFlight;
    if (inFlight === null) return null;
    const generation = this.#generation;
    const record = await inFlight;
    return generation === this.#generation && record.answer === 'no_answer' ? 'no_answer' : null;
  }

  async #loop(name: string, generation: number): Promise<void> {
    while (generation === this.#generation) {
      const startedMs = this.now();
      const probe = this.ask(name).then(
        (answer): ProbeRecord => ({ startedMs, endedMs: this.now(), answer }),
        (): ProbeRecord => ({ startedMs, endedMs: this.now(), answer: 'no_answer' }),
      );
      this.#inFlight = probe;
      const record = await probe;
      if (generation !== this.#generation) return;
      this.#last = record;
      // It answers (writable, read-only, refusing, starting): no longer silent; keep the answer, stop probing.
      if (record.answer !== 'no_answer') {
        this.#inFlight = null;
        return;
      }
      // A timeout is the usual pace; an instant failure (no route) is not a busy loop.
      if (record.endedMs - startedMs < 200) await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
