/**
 * The agent's command executor (`control_method: agent`): takes the records under its
 * `commands/<node>/` folder (a watch, plus a scan at start and every `rescanMs` for anything a
 * broken watch missed), judges each (command-record.ts: answered, in flight, interrupted, stale
 * term), validates it against the fixed table (command-table.ts) and plans it from the agent's own
 * configuration (command-plan.ts), marks it started, runs it, and writes the result once.
 * Every write is a compare-and-set on the key's revision: a record the leader deleted (it gave up
 * waiting) or that changed meanwhile is never run nor answered.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { HandyRepConfig } from '../../config/schema.js';
import { describeError } from '../../model/errors.js';
import { encodeCommandRecord, judgeRecord, parseCommandRecord, refusal, resultOf, type CommandRecord, type ProgressPart, type ResultPart } from './command-record.js';
import { destructiveRefusal, isDestructive, isStart, startRefusal, type DestructiveFacts, type GuardRefusal } from './command-guard.js';
import { planCommand } from './command-plan.js';
import type { StepRunner } from './command-runner.js';
import { parseCommandRequest } from './command-table.js';
import { NodeLock } from './node-lock.js';

/** One record as read: its id (last key segment), value and revision. */
export interface StoredCommand {
  readonly id: string;
  readonly key: string;
  readonly value: string;
  readonly modRevision: string;
}

/** What the executor needs of etcd (etcd-command-store.ts; a fake in the unit tests). */
export interface CommandStore {
  list(): Promise<StoredCommand[]>;
  get(id: string): Promise<StoredCommand | null>;
  /** The create revision of the `leader` key (the current term), or null when nobody leads. */
  leaderTerm(): Promise<string | null>;
  /** The node the `master` key names, or null (absent or unreadable). */
  recordedMaster(): Promise<string | null>;
  /** Whether `master_lease/<node>` exists (command-guard.ts); absent in stores that cannot tell. */
  masterLeasePresent?(): Promise<boolean>;
  /**
   * Writes `value` if the key is still at `modRevision` (and, with `term`, the `leader` key's create
   * revision is still `term`); the new revision, or null when something changed or is gone.
   */
  replace(id: string, modRevision: string, value: string, term?: string): Promise<string | null>;
  /** Calls `changed` with the id of each record put; returns the stop function. */
  watch(changed: (id: string) => void): Promise<() => void>;
}

export interface ExecutorDeps {
  readonly store: CommandStore;
  readonly run: StepRunner;
  readonly log: (line: string) => void;
  /** Identifies this process in `started` (default: random). */
  readonly processId?: string;
  readonly rescanMs?: number;
  /**
   * Called after a pg_ctl or promote action ran, before its result is written: the agent runs a
   * round, so that its lease and member record already say what the command did when the leader
   * reads the result (a master stopped by the leader has released its lease by then).
   */
  readonly afterPostgresAction?: () => Promise<unknown>;
  /** How long an answer waits for that round (default 1500 ms). */
  readonly roundBudgetMs?: number;
  /** Called before a commanded stop, faststop or kill runs (the agent then treats it as its own stop). */
  readonly beforeStop?: () => void;
  /** Shared with the agent's boot: one of them at a time on the node (default: a lock of its own). */
  readonly lock?: NodeLock;
  /** The least time between two progress writes of a long command (default 1000 ms). */
  readonly progressEveryMs?: number;
  /** How often a running clone looks whether its record was deleted (cancelled; default 1000 ms). */
  readonly cancelPollMs?: number;
  /** This agent's master lease and PostgreSQL, for the guard of a clone or rewind (command-guard.ts). */
  readonly localFacts?: () => Promise<Pick<DestructiveFacts, 'leaseHeld' | 'postgres'>>;
  /** The sentence of a partial copy in the data folder (copy-marker.ts), or null: no start on it. */
  readonly partialCopy?: () => string | null;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A fence's stop, faststop or kill, and a promote: a failover waits for them, so they go before
 * the other waiting commands (an archive batch, a status) — still after the one running.
 */
function isUrgent(stored: StoredCommand): boolean {
  try {
    const request = parseCommandRecord(stored.key, stored.value).command.request;
    if (!isObject(request)) return false;
    return request['action'] === 'promote' || (request['action'] === 'pg_ctl' && (request['op'] === 'stop' || request['op'] === 'faststop' || request['op'] === 'kill'));
  } catch {
    return false;
  }
}

/** The action a stored record asks for, for log lines and `queued` (never trusted further). */
function actionOf(stored: StoredCommand): string {
  try {
    const request = parseCommandRecord(stored.key, stored.value).command.request;
    return isObject(request) && typeof request['action'] === 'string' ? request['action'].slice(0, 40) : '?';
  } catch {
    return '?';
  }
}

/** A command waiting for its turn: read and judged runnable (`ready`), or still being read. */
interface Pending {
  ready: boolean;
  /** A fence's stop or kill, or a promote: run before the others waiting (never beside a running one). */
  urgent: boolean;
  /** Answers it `busy` when it waited its whole timeout without starting. */
  timer: NodeJS.Timeout | undefined;
}

export class CommandExecutor {
  readonly processId: string;
  /** Commands known and not yet started, by id (ids sort in issue order). */
  readonly #pending = new Map<string, Pending>();
  /** The command that runs now (one at a time), or null. */
  #current: { id: string; action: string } | null = null;
  #worker: Promise<void> | null = null;
  #stopWatch: (() => void) | null = null;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #running = new Set<Promise<void>>();
  readonly #lock: NodeLock;
  #stopNow: () => void = () => undefined;
  /** Resolves (null) when stop() is called: a worker waiting for the boot gives up then. */
  readonly #stopping = new Promise<null>((resolve) => (this.#stopNow = () => resolve(null)));

  constructor(
    private readonly config: Readonly<HandyRepConfig>,
    private readonly node: string,
    private readonly deps: ExecutorDeps,
  ) {
    this.processId = deps.processId ?? `${node}-${process.pid}-${randomBytes(4).toString('hex')}`;
    this.#lock = deps.lock ?? new NodeLock();
  }

  /** Watches and scans until stop(); a failed watch start is logged, the scans go on. */
  async start(): Promise<void> {
    this.#scanLoop(0);
    // In the background: creating a watch waits for etcd, which may be unreachable for a long time.
    void this.deps.store
      .watch((id) => this.#track(this.#enqueue(id, null)))
      .then((stop) => {
        if (this.#stopped) stop();
        else this.#stopWatch = stop;
      })
      .catch((err: unknown) => this.deps.log(`agent ${this.node}: commands: watch not started (${describeError(err)}), scanning every ${this.#rescanMs()} ms`));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopNow();
    clearTimeout(this.#timer);
    this.#stopWatch?.();
    for (const pending of this.#pending.values()) clearTimeout(pending.timer);
    await Promise.allSettled([...this.#running, this.#worker]);
  }

  /** One scan now, and waits until every command it found has been handled (tests). */
  async scan(): Promise<void> {
    await this.#scanOnce();
    while (this.#worker !== null || [...this.#running].length > 0) await Promise.allSettled([...this.#running, this.#worker]);
  }

  async #scanOnce(): Promise<void> {
    const records = await this.deps.store.list();
    await Promise.allSettled(records.map((stored) => this.#track(this.#enqueue(stored.id, stored))));
  }

  #rescanMs(): number {
    // Well under the controller's pickup time (3 s at least), so a lost watch costs no command.
    return this.deps.rescanMs ?? 1000;
  }

  #scanLoop(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.#scanOnce()
        .catch((err: unknown) => this.deps.log(`agent ${this.node}: commands: scan failed: ${describeError(err)}`))
        .finally(() => this.#scanLoop(this.#rescanMs()));
    }, ms);
  }

  #track(job: Promise<void>): Promise<void> {
    const tracked = job.catch((err: unknown) => this.deps.log(`agent ${this.node}: commands: ${describeError(err)}`)).finally(() => this.#running.delete(tracked));
    this.#running.add(tracked);
    return tracked;
  }

  /**
   * A record seen (watch or scan): answered at once when it is not to run (interrupted, stale term,
   * invalid key), else put in the queue; made to wait (`queued` in the record) when something runs.
   */
  async #enqueue(id: string, known: StoredCommand | null): Promise<void> {
    if (this.#stopped || this.#pending.has(id) || this.#current?.id === id) return;
    const pending: Pending = { ready: false, urgent: false, timer: undefined };
    this.#pending.set(id, pending);
    try {
      const stored = known ?? (await this.deps.store.get(id));
      const verdict = stored === null ? null : await this.#verdictOf(stored);
      if (stored === null || verdict === null || verdict !== 'run') {
        this.#pending.delete(id);
        // Not to run: answered here (interrupted, stale term) by the same code that runs the others.
        if (stored !== null && verdict !== null) await this.#handleOnce(stored);
        return;
      }
      pending.urgent = isUrgent(stored);
      pending.ready = true;
      const ahead = this.#aheadOf(id);
      if (ahead !== null) await this.#makeWait(id, ahead);
    } catch (err) {
      if (!pending.ready) this.#pending.delete(id);
      throw err;
    } finally {
      this.#kick();
    }
  }

  /** 'run', or the verdict kind of a record that is not to run; null: not a record to answer. */
  async #verdictOf(stored: StoredCommand): Promise<string | null> {
    let record: CommandRecord;
    try {
      record = parseCommandRecord(stored.key, stored.value);
    } catch {
      return 'invalid';
    }
    if (record.result !== null) return null;
    const verdict = judgeRecord(record, this.processId, record.started === null ? await this.deps.store.leaderTerm() : null);
    return verdict.kind === 'skip' ? null : verdict.kind;
  }

  /** What runs (or waits) before `id`: the running command, an earlier queued one, the boot; null: nothing. */
  #aheadOf(id: string): string | null {
    if (this.#current !== null) return `command ${this.#current.id} (${this.#current.action})`;
    const earlier = [...this.#pending.keys()].find((other) => other < id);
    if (earlier !== undefined) return `command ${earlier}`;
    return this.#lock.holder()?.label ?? null;
  }

  /**
   * Marks the record `queued` (so the controller waits past its pickup time) and bounds the wait:
   * a command that has not started within its own timeout is answered `busy`, never run late.
   */
  async #makeWait(id: string, behind: string): Promise<void> {
    const pending = this.#pending.get(id);
    if (pending === undefined || pending.timer !== undefined) return;
    const stored = await this.deps.store.get(id);
    if (stored === null) return;
    const record = parseCommandRecord(stored.key, stored.value);
    if (record.started !== null || record.result !== null) return;
    const since = new Date().toISOString();
    pending.timer = setTimeout(() => this.#track(this.#giveUp(id, behind, since)), record.command.timeout_ms);
    const written = await this.deps.store.replace(id, stored.modRevision, encodeCommandRecord({ ...record, queued: { behind, at: since } }));
    this.deps.log(`agent ${this.node}: command ${id} waits behind ${behind}${written === null ? ' (its record changed meanwhile)' : ''}`);
  }

  async #giveUp(id: string, behind: string, since: string): Promise<void> {
    if (!this.#pending.has(id)) return;
    this.#pending.delete(id);
    const stored = await this.deps.store.get(id);
    if (stored === null) return;
    const record = parseCommandRecord(stored.key, stored.value);
    if (record.started !== null || record.result !== null) return;
    const now = this.#current !== null ? `command ${this.#current.id} (${this.#current.action})` : (this.#lock.holder()?.label ?? behind);
    await this.#answer(stored, record, refusal('busy', `busy: not started within its timeout (${record.command.timeout_ms} ms): it waited since ${since} behind ${now}; nothing run`));
  }

  /** Starts the worker if it is not running: it runs the queue's commands one at a time, in id order. */
  #kick(): void {
    if (this.#worker !== null || this.#stopped) return;
    this.#worker = this.#work()
      .catch((err: unknown) => this.deps.log(`agent ${this.node}: commands: ${describeError(err)}`))
      .finally(() => {
        this.#worker = null;
        const first = this.#first();
        if (first !== null && this.#pending.get(first)?.ready === true) this.#kick();
      });
  }

  /** The next to run: the earliest urgent one that is ready, else the earliest. */
  #first(): string | null {
    let first: string | null = null;
    let urgent: string | null = null;
    for (const [id, pending] of this.#pending) {
      if (first === null || id < first) first = id;
      if (pending.ready && pending.urgent && (urgent === null || id < urgent)) urgent = id;
    }
    return urgent ?? first;
  }

  async #work(): Promise<void> {
    for (;;) {
      const id = this.#first();
      // An earlier command still being read holds the line: its reader kicks the worker again.
      if (this.#stopped || id === null || this.#pending.get(id)?.ready !== true) return;
      let release = this.#lock.tryEnter(`command ${id}`);
      if (release === null) {
        await this.#makeWait(id, this.#lock.holder()?.label ?? 'the agent\'s boot').catch(() => undefined);
        const granted = this.#lock.enter(`command ${id}`);
        const got = await Promise.race([granted, this.#stopping]);
        if (got === null) {
          // Stopped while waiting for the boot: the lock, once granted, goes straight back.
          void granted.then((late) => late());
          return;
        }
        release = got;
      }
      try {
        const pending = this.#pending.get(id);
        // Answered busy (or the executor stopped) while it waited for the lock.
        if (pending === undefined || this.#stopped) continue;
        clearTimeout(pending.timer);
        this.#pending.delete(id);
        const stored = await this.deps.store.get(id);
        if (stored === null) continue;
        this.#current = { id, action: actionOf(stored) };
        await this.#handleOnce(stored).catch((err: unknown) => this.deps.log(`agent ${this.node}: command ${id}: ${describeError(err)}`));
      } finally {
        this.#current = null;
        release();
      }
    }
  }

  async #handleOnce(stored: StoredCommand): Promise<void> {
    let record: CommandRecord;
    try {
      record = parseCommandRecord(stored.key, stored.value);
    } catch (err) {
      // Not a record we can answer in kind (no command part to keep): logged, left for the leader.
      this.deps.log(`agent ${this.node}: command ${stored.id} ignored: ${describeError(err)}`);
      return;
    }
    if (record.result !== null) return;
    const verdict = judgeRecord(record, this.processId, record.started === null ? await this.deps.store.leaderTerm() : null);
    switch (verdict.kind) {
      case 'skip':
        return;
      case 'interrupted':
        await this.#answer(stored, record, refusal('interrupted', `interrupted: the agent process that started it (${record.started?.by ?? '?'}) ended before it answered; not run again`));
        return;
      case 'stale_term':
        await this.#answer(stored, record, refusal('stale_term', verdict.message));
        return;
      case 'run':
        break;
    }
    const { command } = record;
    if (command.node !== this.node || command.id !== stored.id) {
      await this.#answer(stored, record, refusal('invalid', `invalid command: record ${command.node}/${command.id} under the key of ${this.node}/${stored.id}`));
      return;
    }
    const guarded = isObject(command.request) ? await this.#guard(command.request) : null;
    if (guarded !== null) {
      // The commands that replace or rewrite a node's data never run on a node that is or may be a
      // master, whatever the controller believed when it wrote them; no start on a partial copy.
      this.deps.log(`agent ${this.node}: command ${command.id} from ${command.controller} refused (${guarded.code})`);
      await this.#answer(stored, record, refusal('invalid', `invalid command: ${guarded.message}`));
      return;
    }
    if (isObject(command.request) && command.request['action'] === 'promote') {
      // The leader records the new master before it promotes (design §9 rule 1): a promote of a node
      // the master key does not name is nobody's legitimate step.
      const master = await this.deps.store.recordedMaster();
      if (master !== this.node) {
        await this.#answer(stored, record, refusal('invalid', `invalid command: promote refused, the master key names ${master ?? 'no node'}, not ${this.node}`));
        return;
      }
    }
    const parsed = parseCommandRequest(command.request, command.stdin);
    const plan = parsed.ok ? planCommand(this.config, this.node, parsed.request) : parsed;
    if (!plan.ok) {
      this.deps.log(`agent ${this.node}: command ${command.id} from ${command.controller} refused: ${plan.problem}`);
      await this.#answer(stored, record, refusal('invalid', plan.problem));
      return;
    }
    const startedRecord: CommandRecord = { ...record, started: { by: this.processId, at: new Date().toISOString() } };
    const revision = await this.deps.store.replace(stored.id, stored.modRevision, encodeCommandRecord(startedRecord), command.term);
    if (revision === null) {
      // Deleted or changed meanwhile (not ours to run), or the term ended since it was read.
      const now = await this.deps.store.get(stored.id);
      const leaderTerm = now === null ? null : await this.deps.store.leaderTerm();
      if (now !== null && leaderTerm !== command.term) await this.#answer(now, record, refusal('stale_term', `stale term: command written under term ${command.term}, the leader changed before it was taken (now ${leaderTerm ?? 'none'})`));
      return;
    }
    const action = parsed.ok ? parsed.request.action : '?';
    const op = parsed.ok && parsed.request.action === 'pg_ctl' ? parsed.request.op : null;
    // A stop, faststop or kill the leader asked for is on purpose: the agent must not take it for a crash.
    if (op === 'stop' || op === 'faststop' || op === 'kill') this.deps.beforeStop?.();
    const progress = this.#progressWriter(stored.id, revision, startedRecord);
    const deleted = plan.step.kind === 'clone' ? this.#watchDeletion(stored.id) : null;
    let result: ResultPart;
    try {
      result = resultOf(await this.deps.run(plan.step, command.timeout_ms, progress.report, deleted?.signal), plan.step.kind === 'argv' && plan.step.wholeOutput === true);
    } catch (err) {
      result = refusal('failed', `${action} could not be run: ${describeError(err)}`);
    } finally {
      deleted?.stop();
    }
    const last = await progress.settled();
    const changesPostgres = action === 'promote' || action === 'systemctl' || (op !== null && op !== 'status' && op !== 'reload');
    if (changesPostgres && this.deps.afterPostgresAction) {
      // Bounded: the controller waits for the answer only its pickup margin (3 s at least) past the command.
      let timer: NodeJS.Timeout | undefined;
      const budget = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.deps.roundBudgetMs ?? 1500)));
      const round = this.deps.afterPostgresAction().catch((err: unknown) => this.deps.log(`agent ${this.node}: round after command ${command.id} failed: ${describeError(err)}`));
      await Promise.race([round, budget]);
      clearTimeout(timer);
    }
    this.deps.log(`agent ${this.node}: command ${command.id} ${action} from ${command.controller}: ${result.refused ? result.refused.message : `exit ${String(result.exit_code)}${result.timed_out ? ' (timed out)' : ''}`}`);
    await this.deps.store.replace(stored.id, last.revision, encodeCommandRecord({ ...startedRecord, ...(last.part ? { progress: last.part } : {}), result }));
  }

  /**
   * A long command is cancelled by deleting its record (the controller's cancel_clone, or its
   * leader's lease ending): looked at every `cancelPollMs` while it runs.
   */
  #watchDeletion(id: string): { signal: AbortSignal; stop: () => void } {
    const abort = new AbortController();
    const timer = setInterval(() => {
      void this.deps.store.get(id).then(
        (now) => {
          if (now === null) abort.abort();
        },
        () => undefined,
      );
    }, this.deps.cancelPollMs ?? 1000);
    return { signal: abort.signal, stop: () => clearInterval(timer) };
  }

  /**
   * Writes a long command's progress into its record (compare-and-set, one write at a time, at most
   * every `progressEveryMs`), so that the waiting controller can show it; `settled` gives the
   * record's revision for the result write.
   */
  #progressWriter(id: string, startRevision: string, startedRecord: CommandRecord) {
    let revision = startRevision;
    let part: ProgressPart | null = null;
    let writing: Promise<void> = Promise.resolve();
    let lastAt = -Infinity;
    const everyMs = this.deps.progressEveryMs ?? 1000;
    return {
      report: (bytesDone: number | null, bytesTotal: number | null): void => {
        const now = performance.now();
        if (now - lastAt < everyMs) return;
        lastAt = now;
        const next: ProgressPart = { bytes_done: bytesDone, bytes_total: bytesTotal, at: new Date().toISOString() };
        writing = writing.then(async () => {
          const written = await this.deps.store.replace(id, revision, encodeCommandRecord({ ...startedRecord, progress: next })).catch(() => null);
          if (written !== null) {
            revision = written;
            part = next;
          }
        });
      },
      settled: async (): Promise<{ revision: string; part: ProgressPart | null }> => {
        await writing;
        return { revision, part };
      },
    };
  }

  /** Why a clone, rewind or start must not run on this node now (command-guard.ts), or null. */
  async #guard(request: Record<string, unknown>): Promise<GuardRefusal | null> {
    const action = request['action'];
    if (isStart(action, request['op'])) return startRefusal(this.deps.partialCopy?.() ?? null);
    if (!isDestructive(action)) return null;
    const recordedMaster = await this.deps.store.recordedMaster();
    const leaseKeyPresent = (await this.deps.store.masterLeasePresent?.()) ?? false;
    const local = (await this.deps.localFacts?.()) ?? { leaseHeld: false, postgres: 'stopped' as const };
    return destructiveRefusal(action, { node: this.node, recordedMaster, leaseKeyPresent, ...local });
  }

  async #answer(stored: StoredCommand, record: CommandRecord, result: ResultPart): Promise<void> {
    await this.deps.store.replace(stored.id, stored.modRevision, encodeCommandRecord({ ...record, result }));
  }
}
