/**
 * Runs the steps of one topology change and keeps its record: each step is written to the
 * journal before it runs and again when it ends (design.md §5.5), logged once, and the finished
 * record goes to the failover history. Each step must be the next one of the change's plan (the
 * step table in engine/failover-steps.ts) or one of the table's recovery steps: the executor and
 * the dry-run plan cannot drift apart unnoticed. Steps never throw out of here: an exception is
 * a failed step with its message.
 *
 * The journal is deleted only once servers.save durably holds the change's outcome: a
 * controller killed in between finds the journal and recovers, instead of starting with half a
 * state and no history.
 */
import { randomUUID } from 'node:crypto';
import { expectedPath, stepSpec, type PlannedStep } from '../../engine/failover-steps.js';
import { describeError } from '../../model/errors.js';
import type { FailoverRecord, StepRecord, TopologyChangeKind, TopologyOutcome } from '../../model/failover-record.js';
import { clearJournal, journalPath, writeJournal } from '../../store/journal.js';
import type { TopologyEnv } from './env.js';

export interface StepResult {
  ok: boolean;
  details: string;
}

/** Journal and state writes are retried this often, this far apart, before giving up. */
const WRITE_ATTEMPTS = 3;
const WRITE_RETRY_MS = 200;

export class StepRunner {
  readonly record: FailoverRecord;
  private readonly startedMs: number;
  private plan: PlannedStep[] = [];
  private cursor = 0;

  constructor(
    private readonly env: TopologyEnv,
    kind: TopologyChangeKind,
    reason: string,
    from: string | null,
    to: string | null,
  ) {
    this.startedMs = env.clock().getTime();
    this.record = {
      id: randomUUID(),
      kind,
      reason,
      started: new Date(this.startedMs).toISOString(),
      finished: null,
      duration_ms: null,
      from,
      to,
      outcome: 'RUNNING',
      details: '',
      steps: [],
    };
  }

  /** Starts the journal. Throws when it cannot be written: nothing may run unjournaled. */
  async begin(plan: readonly PlannedStep[] = []): Promise<void> {
    this.env.log.warn('FAILOVER', `${this.record.kind} started: ${this.record.reason}`);
    this.setPlan(plan);
    const problem = await this.journal();
    if (problem !== null) throw new Error(`the failover journal cannot be written, nothing was done: ${problem}`);
  }

  /** The plan the remaining steps follow (set again once the candidates are known). */
  setPlan(plan: readonly PlannedStep[]): void {
    this.plan = [...plan];
    this.record.plan = expectedPath(plan);
    const done = this.record.steps.length;
    this.cursor = 0;
    // Steps already run keep their place: the new plan starts after them.
    for (const step of this.record.steps.slice(0, done)) this.advance(step.name, step.server);
  }

  get planned(): readonly PlannedStep[] {
    return this.plan;
  }

  /** Run one journaled step. A step whose journal entry cannot be written does not run. */
  async step(name: string, server: string | null, run: () => Promise<StepResult>): Promise<StepResult> {
    this.checkPlanned(name, server);
    const step: StepRecord = { name, server, started: this.env.clock().toISOString(), finished: null, outcome: 'running', details: '' };
    this.record.steps.push(step);
    const before = await this.journal();
    let result: StepResult;
    const notLeading = this.env.mayAct?.() ?? null;
    if (before !== null) {
      result = { ok: false, details: `not run: the failover journal cannot be written (${before})` };
    } else if (notLeading !== null) {
      // Abandoned at the step boundary: the journal stays for the controller that leads now.
      result = { ok: false, details: `not run: ${notLeading}` };
    } else {
      try {
        result = await run();
      } catch (err) {
        result = { ok: false, details: `unexpected error: ${describeError(err)}` };
      }
    }
    step.finished = this.env.clock().toISOString();
    step.outcome = result.ok ? 'ok' : 'failed';
    step.details = result.details;
    const after = await this.journal();
    if (after !== null) {
      // The step has happened (a promotion cannot be undone): it is not reported as failed, but
      // the record, the alert and the final details say the journal missed it; the next write
      // (the next step, or finish) tries again with the whole record.
      const what = `${name}${server ? ` ${server}` : ''} (${result.ok ? 'ok' : 'failed'}): ${after}`;
      this.record.journal_failures = [...(this.record.journal_failures ?? []), what];
      this.env.log.error('FAILOVER', `${this.record.kind} ${this.record.id}: the outcome of step ${name} could not be journaled after ${WRITE_ATTEMPTS} attempts: ${after}`, server ?? undefined, 'CRITICAL');
    }
    const line = `${this.record.kind} step ${name}${server ? ` (${server})` : ''}: ${result.ok ? 'ok' : 'FAILED'}: ${result.details}`;
    if (result.ok) this.env.log.info('FAILOVER', line, server ?? undefined);
    else this.env.log.error('FAILOVER', line, server ?? undefined);
    return result;
  }

  /** Record a step that was decided not to run. */
  skip(name: string, server: string | null, details: string): void {
    const ts = this.env.clock().toISOString();
    this.record.steps.push({ name, server, started: ts, finished: ts, outcome: 'skipped', details });
  }

  setTarget(to: string | null): void {
    this.record.to = to;
  }

  /** Record how the old master was fenced: 'unconfirmed' when it could not be reached. */
  setFence(fence: 'confirmed' | 'unconfirmed'): void {
    this.record.fence = fence;
  }

  /**
   * Close the record: history, state saved durably, then the journal cleared, one log line. If
   * servers.save cannot be written the journal stays (the next start recovers from it).
   * `quiet`: a repeat of a refusal already recorded (engine/refusal-episode.ts): logged only, not
   * added to the history nor alerted.
   */
  async finish(outcome: Exclude<TopologyOutcome, 'RUNNING'>, details: string, options: { quiet?: boolean } = {}): Promise<FailoverRecord> {
    const finishedMs = this.env.clock().getTime();
    this.record.finished = new Date(finishedMs).toISOString();
    this.record.duration_ms = finishedMs - this.startedMs;
    this.record.outcome = outcome;
    const missed = this.record.journal_failures;
    this.record.details = missed?.length ? `${details}; the journal could not record: ${missed.join('; ')}` : details;
    if (options.quiet !== true) this.env.book.addHistory(this.record);
    if (await this.retried(() => this.env.persist())) {
      const store = this.env.store;
      await (store ? store.clearJournal() : clearJournal(this.env.serverFile)).catch((err: unknown) => {
        // Left behind, it would be "recovered" at the next start: an operator must look.
        this.env.log.error('FAILOVER', `the finished ${this.record.kind} ${this.record.id} could not be removed from the journal ${journalPath(this.env.serverFile)}: ${describeError(err)}; delete it before the next start`, undefined, 'CRITICAL');
      });
    } else {
      this.env.log.error('FAILOVER', `${this.record.kind} ${this.record.id} finished but the state file cannot be written: the journal is kept so the next start recovers it`, undefined, 'CRITICAL');
    }
    const line = `${this.record.kind} ${outcome} in ${this.record.duration_ms} ms: ${this.record.details}`;
    if (outcome === 'SUCCESS') this.env.log.warn('FAILOVER', line);
    else this.env.log.error('FAILOVER', line, undefined, options.quiet === true ? undefined : 'CRITICAL');
    return this.record;
  }

  /** Writes the journal (retried); null when written, else why not. */
  private async journal(): Promise<string | null> {
    let problem = '';
    const ok = await this.retried(async () => {
      try {
        const store = this.env.store;
        await (store ? store.writeJournal(this.record) : writeJournal(this.env.serverFile, this.record));
        return true;
      } catch (err) {
        problem = describeError(err);
        return false;
      }
    });
    return ok ? null : problem;
  }

  private async retried(attempt: () => Promise<boolean>): Promise<boolean> {
    for (let i = 1; i <= WRITE_ATTEMPTS; i += 1) {
      if (await attempt()) return true;
      if (i < WRITE_ATTEMPTS) await this.env.sleep(WRITE_RETRY_MS);
    }
    return false;
  }

  /** A planned step moves the cursor past it; anything else not in the table's recovery path is a bug. */
  private checkPlanned(name: string, server: string | null): void {
    if (stepSpec(name)?.path === 'recovery') return;
    if (this.advance(name, server)) return;
    this.record.off_plan = [...(this.record.off_plan ?? []), `${name}${server ? ` ${server}` : ''}`];
    this.env.log.error('FAILOVER', `${this.record.kind} step ${name}${server ? ` (${server})` : ''} is not in its plan (${expectedPath(this.plan).join(', ')}): reported as a bug`);
  }

  private advance(name: string, server: string | null): boolean {
    for (let i = this.cursor; i < this.plan.length; i += 1) {
      const planned = this.plan[i] as PlannedStep;
      if (planned.name === name && planned.server === server) {
        this.cursor = i + 1;
        return true;
      }
    }
    return false;
  }
}
