/**
 * The member record while the agent's boot runs a step (issue 14). A boot step (a copy, a rewind,
 * an initdb) runs inside a round, so the round publishes nothing until it ends (hours, for a copy
 * of a large master): the member key would expire while the agent lives, a controller could not
 * tell "copying" from "gone", and a command it sent would wait behind the step until its own
 * timeout. While a boot step runs, this keeper renews the member lease on its own timer (every
 * ttl/3, as the rounds do) and writes a record (PostgreSQL stopped) naming the step:
 * `boot_step` = { step, since, source, reclone } (boot-step.ts), and for a copy also `boot_copy` =
 * { source, since, reclone }, the field controllers older than `boot_step` read. The controller
 * reads them for a command its agent made wait (src/nodes/boot-step-busy.ts) and answers it busy
 * at once behind a long step; the key staying alive keeps the agent-gone detection (agent-gone.ts)
 * meaningful meanwhile.
 */
import { describeError } from '../model/errors.js';
import { memberRecord, type MemberRecord, type PositionFacts } from './member-record.js';
import { answeredBusyBehind, bootStepRecord, type BootStep } from './boot-step.js';

/**
 * The member record of `node` during its boot: stopped, no SQL facts, the step named while one runs.
 * `position`: what the agent last published of the master's position (position-watch.ts), kept: an
 * election reads every member's view of the master's furthest position (§5.3). Pure.
 */
export function bootRecord(node: string, recordedMaster: string | null, step: BootStep | null, observedAt: string, position: PositionFacts | null = null): MemberRecord {
  // Not the facts' revision: there are no SQL facts to date.
  const { facts_after_revision: _after, ...kept } = position ?? {};
  return {
    ...memberRecord(node, { state: 'stopped' }, null, { state: 'absent' }, null, observedAt),
    ...kept,
    recorded_master: step?.master ?? recordedMaster,
    boot_copy: step?.step === 'copy' && step.source !== null ? { source: step.source, since: step.since, reclone: step.reclone } : null,
    boot_step: step === null ? null : bootStepRecord(step),
  };
}

/** Whether a record naming `step` must be followed by one that does not, as soon as it ended. */
function owesEnd(step: BootStep | null): boolean {
  return step !== null && answeredBusyBehind(step.step);
}

export interface BootStepKeeperDeps {
  readonly node: string;
  /** ttl/3: as often as the rounds renew the member lease. */
  readonly intervalMs: number;
  /** Grants or renews the member lease; false when etcd says it expired. */
  readonly renew: () => Promise<boolean>;
  /** Puts `members/<node>` under the member lease. */
  readonly write: (record: MemberRecord) => Promise<void>;
  /** The master the last round saw recorded (for the record while no step names one). */
  readonly recordedMaster: () => string | null;
  /** The master's position as the agent last published it (kept in the boot's record); none: not kept. */
  readonly position?: () => PositionFacts | null;
  readonly log: (line: string) => void;
}

/**
 * Held for the whole of a boot step: the timer renews and writes every interval, its first tick
 * one interval after hold() (a quick step writes nothing: the round publishes right after it). A
 * long step (one a command is answered busy behind: boot-step.ts) beginning or ending is written at
 * once; a short one shows in the next periodic write.
 */
export class BootStepKeeper {
  #step: BootStep | null = null;
  #timer: NodeJS.Timeout | undefined;
  #lastProblem = '';
  /** The write under way (one at a time: a slow etcd call is not overtaken by the next tick). */
  #inFlight: Promise<void> | null = null;
  /** The step changed while a write was under way: written again right after it. */
  #again = false;
  /** The last record written (or being written) named a long step: its end is written even after release(). */
  #owed = false;

  constructor(private readonly deps: BootStepKeeperDeps) {}

  get current(): BootStep | null {
    return this.#step;
  }

  /** A boot step begins. */
  hold(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#tick(), this.deps.intervalMs);
    this.#timer.unref();
  }

  /**
   * The boot began a step, or ended one (null). A long step's beginning or end is written now, so
   * that no reader answers busy behind a step that ended (or misses one).
   */
  step(step: BootStep | null): void {
    const before = this.#step;
    this.#step = step;
    if (step !== before && (owesEnd(before) || owesEnd(step)) && this.#timer !== undefined) this.#tick();
  }

  /**
   * The boot step ended: no more periodic writes; the round publishes the ordinary record. A record
   * that still names a long step is followed by one that does not (a controller must not answer a
   * command busy behind a step that ended): written now, or right after the write under way.
   */
  release(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#step = null;
    if (this.#owed) this.#tick();
  }

  /** Released, with no step's end left to write. */
  #done(): boolean {
    return this.#timer === undefined && !(this.#owed && this.#step === null);
  }

  /** Resolves when the writes under way (if any, and one queued behind them) have ended. */
  async settled(): Promise<void> {
    while (this.#inFlight !== null) await this.#inFlight;
  }

  #tick(): void {
    if (this.#done()) return;
    if (this.#inFlight !== null) {
      this.#again = true;
      return;
    }
    this.#inFlight = (async () => {
      try {
        if (!(await this.deps.renew())) throw new Error('etcd says the member lease expired');
        // Released meanwhile (and no step's end owed): the round publishes the ordinary record.
        if (this.#done()) return;
        const step = this.#step;
        this.#owed ||= owesEnd(step);
        await this.deps.write(bootRecord(this.deps.node, this.deps.recordedMaster(), step, new Date().toISOString(), this.deps.position?.() ?? null));
        this.#owed = owesEnd(step);
        this.#lastProblem = '';
      } catch (err) {
        const problem = `member record during the boot not written (tried again in ${this.deps.intervalMs} ms): ${describeError(err)}`;
        if (problem !== this.#lastProblem) this.deps.log(problem);
        this.#lastProblem = problem;
      }
    })().finally(() => {
      this.#inFlight = null;
      if (this.#again) {
        this.#again = false;
        this.#tick();
      }
    });
  }
}
