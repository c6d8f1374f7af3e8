/**
 * The member record while the agent's boot copies (issue 14, gap "a command queued behind the
 * agent's own boot copy waits its own timeout"). The boot's copy runs inside a round, so the round
 * publishes nothing until it ends (hours, for a large master): the member key would expire while
 * the agent lives, a controller could not tell "copying" from "gone", and a command it sent would
 * wait behind the copy until its own timeout. While a boot step runs, this keeper renews the member
 * lease on its own timer (every ttl/3, as the rounds do) and writes a record (PostgreSQL stopped);
 * while a boot clone or reclone copies, the record says so: `boot_copy` = { source, since, reclone }. The controller reads it
 * for a command its agent made wait (src/nodes/boot-copy-busy.ts) and answers it busy at once;
 * the key staying alive keeps the agent-gone detection (agent-gone.ts) meaningful meanwhile.
 */
import { describeError } from '../model/errors.js';
import { memberRecord, type MemberRecord } from './member-record.js';

/** What the boot copies, and since when (ISO, the agent's clock: for people). */
export interface BootCopy {
  readonly source: string;
  /** The master the copy will stream from (the recorded master). */
  readonly master: string;
  readonly since: string;
  readonly reclone: boolean;
}

/** The member record of `node` during its boot: stopped, no SQL facts, the copy named while one runs. Pure. */
export function bootRecord(node: string, recordedMaster: string | null, copy: BootCopy | null, observedAt: string): MemberRecord {
  return {
    ...memberRecord(node, { state: 'stopped' }, null, { state: 'absent' }, null, observedAt),
    recorded_master: copy?.master ?? recordedMaster,
    boot_copy: copy === null ? null : { source: copy.source, since: copy.since, reclone: copy.reclone },
  };
}

export interface BootCopyKeeperDeps {
  readonly node: string;
  /** ttl/3: as often as the rounds renew the member lease. */
  readonly intervalMs: number;
  /** Grants or renews the member lease; false when etcd says it expired. */
  readonly renew: () => Promise<boolean>;
  /** Puts `members/<node>` under the member lease. */
  readonly write: (record: MemberRecord) => Promise<void>;
  /** The master the last round saw recorded (for the record while no copy runs). */
  readonly recordedMaster: () => string | null;
  readonly log: (line: string) => void;
}

/**
 * Held for the whole of a boot step (a rewind or initdb holds the round too): the timer renews
 * and writes every interval, its first tick one interval after hold() (a quick step writes
 * nothing: the round publishes right after it); a copy beginning writes at once.
 */
export class BootCopyKeeper {
  #copy: BootCopy | null = null;
  #timer: NodeJS.Timeout | undefined;
  #lastProblem = '';
  /** The write under way (one at a time: a slow etcd call is not overtaken by the next tick). */
  #inFlight: Promise<void> | null = null;
  /** The copy began or ended while a write was under way: written again right after it. */
  #again = false;
  /** The last record written (or being written) named a copy: its end is written even after release(). */
  #copyWritten = false;

  constructor(private readonly deps: BootCopyKeeperDeps) {}

  get copying(): BootCopy | null {
    return this.#copy;
  }

  /** A boot step begins. */
  hold(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#tick(), this.deps.intervalMs);
    this.#timer.unref();
  }

  /** A copy began or ended (null): written now, so that no reader sees a copy that ended (or misses one). */
  copy(copy: BootCopy | null): void {
    const changed = copy !== this.#copy;
    this.#copy = copy;
    if (changed && this.#timer !== undefined) this.#tick();
  }

  /**
   * The boot step ended: no more periodic writes; the round publishes the ordinary record. A record
   * that still names a copy is followed by one that does not (a controller must not answer a command
   * busy behind a copy that ended): written now, or right after the write under way.
   */
  release(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#copy = null;
    if (this.#copyWritten) this.#tick();
  }

  /** Released, with no copy's end left to write. */
  #done(): boolean {
    return this.#timer === undefined && !(this.#copyWritten && this.#copy === null);
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
        // Released meanwhile (and no copy's end owed): the round publishes the ordinary record.
        if (this.#done()) return;
        const copy = this.#copy;
        this.#copyWritten ||= copy !== null;
        await this.deps.write(bootRecord(this.deps.node, this.deps.recordedMaster(), copy, new Date().toISOString()));
        this.#copyWritten = copy !== null;
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
