/**
 * Runs the steps of one topology change and keeps its record: each step is written to the
 * journal before it runs and again when it ends (design.md §5.5), logged once, and the finished
 * record goes to the failover history. Steps never throw out of here: an exception is a failed
 * step with its message.
 */
import { randomUUID } from 'node:crypto';
import { describeError } from '../../model/errors.js';
import type { FailoverRecord, StepRecord, TopologyChangeKind, TopologyOutcome } from '../../model/failover-record.js';
import { clearJournal, writeJournal } from '../../store/journal.js';
import type { TopologyEnv } from './env.js';

export interface StepResult {
  ok: boolean;
  details: string;
}

export class StepRunner {
  readonly record: FailoverRecord;
  private readonly startedMs: number;

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

  async begin(): Promise<void> {
    this.env.log.warn('FAILOVER', `${this.record.kind} started: ${this.record.reason}`);
    await writeJournal(this.env.serverFile, this.record);
  }

  /** Run one journaled step. */
  async step(name: string, server: string | null, run: () => Promise<StepResult>): Promise<StepResult> {
    const step: StepRecord = { name, server, started: this.env.clock().toISOString(), finished: null, outcome: 'running', details: '' };
    this.record.steps.push(step);
    await writeJournal(this.env.serverFile, this.record);
    let result: StepResult;
    try {
      result = await run();
    } catch (err) {
      result = { ok: false, details: `unexpected error: ${describeError(err)}` };
    }
    step.finished = this.env.clock().toISOString();
    step.outcome = result.ok ? 'ok' : 'failed';
    step.details = result.details;
    await writeJournal(this.env.serverFile, this.record);
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

  /** Close the record: history, journal cleared, one log line. */
  async finish(outcome: Exclude<TopologyOutcome, 'RUNNING'>, details: string): Promise<FailoverRecord> {
    const finishedMs = this.env.clock().getTime();
    this.record.finished = new Date(finishedMs).toISOString();
    this.record.duration_ms = finishedMs - this.startedMs;
    this.record.outcome = outcome;
    this.record.details = details;
    this.env.book.addHistory(this.record);
    await clearJournal(this.env.serverFile);
    const line = `${this.record.kind} ${outcome} in ${this.record.duration_ms} ms: ${details}`;
    if (outcome === 'SUCCESS') this.env.log.warn('FAILOVER', line);
    else this.env.log.error('FAILOVER', line, undefined, 'CRITICAL');
    return this.record;
  }
}
