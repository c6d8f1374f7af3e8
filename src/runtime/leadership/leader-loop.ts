/**
 * The life of a controller under etcd_lease: campaign; on winning, `won` (re-read the state,
 * recover the journal, seed the master key, start monitoring); on losing, `lostNow` at once
 * (monitoring off, logged, alerted — synchronously, while `won` or a topology change may still be
 * running: their next step sees the loss through mayAct), then `afterLoss` (wait for what was in
 * flight) and campaign again. While following, `follow` runs every `followEveryMs` (the store's
 * state as the leader last wrote it).
 */
import type { EventLog } from '../../log/event-log.js';
import { describeError } from '../../model/errors.js';
import type { Term } from '../../store/etcd/leader-record.js';
import type { EtcdLeadership, LeadershipLoss } from '../../store/etcd/leadership.js';

export interface LeaderLoopHooks {
  won(term: Term): Promise<void>;
  lostNow(loss: LeadershipLoss): void;
  afterLoss(loss: LeadershipLoss): Promise<void>;
  follow(): Promise<void>;
}

export class LeaderLoop {
  readonly #abort = new AbortController();
  #running: Promise<void> | null = null;
  #followTimer: NodeJS.Timeout | undefined;
  #lost: ((loss: LeadershipLoss) => void) | null = null;

  constructor(
    private readonly leadership: EtcdLeadership,
    private readonly hooks: LeaderLoopHooks,
    private readonly log: EventLog,
    private readonly followEveryMs: number,
  ) {
    leadership.onLost((loss) => {
      try {
        hooks.lostNow(loss);
      } finally {
        this.#lost?.(loss);
      }
    });
  }

  start(): void {
    if (this.#running) return;
    this.#followTimer = setInterval(() => {
      if (this.leadership.current === null) void this.hooks.follow().catch(() => undefined);
    }, this.followEveryMs);
    void this.hooks.follow().catch(() => undefined);
    this.#running = this.#run();
  }

  /**
   * Stops campaigning and following; resigns a held leadership (a successor need not wait for the
   * lease) only after `drain` (the monitor stopped, the action in flight finished): the term ends
   * here at once, but the key goes last, so no successor acts beside a command still running.
   */
  async stop(drain: () => Promise<void> = async () => undefined): Promise<void> {
    this.#abort.abort();
    clearInterval(this.#followTimer);
    await this.leadership.resign(drain).catch(() => undefined);
    this.#lost?.({ term: '0', reason: 'stopping', atMs: 0 });
    await this.#running;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      let term: Term;
      try {
        term = await this.leadership.campaign(signal);
      } catch (err) {
        if (signal.aborted) return;
        this.log.error('LEADERSHIP', `campaign failed: ${describeError(err)}; trying again`);
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      // Won while stop() ran: its resign found no term yet and its loss signal went to nobody, so
      // this term must be given up here, before anything acts on it (a held, renewed key with no
      // monitor would keep every other controller from leading).
      if (signal.aborted) {
        await this.leadership.resign().catch(() => undefined);
        return;
      }
      let resolveLoss: (loss: LeadershipLoss) => void = () => undefined;
      const loss = new Promise<LeadershipLoss>((resolve) => {
        resolveLoss = resolve;
      });
      this.#lost = resolveLoss;
      // Lost between winning and listening: the listener above already ran lostNow; wait for nothing.
      if (this.leadership.current === null || this.leadership.current.term !== term.term) resolveLoss({ term: term.term, reason: 'lost before it was used', atMs: 0 });
      try {
        await this.hooks.won(term);
      } catch (err) {
        this.log.error('LEADERSHIP', `taking over as leader (term ${term.term}) failed: ${describeError(err)}; giving the leadership up`, undefined, 'CRITICAL');
        this.leadership.markLost(`take-over failed: ${describeError(err)}`);
      }
      const ended = await loss;
      this.#lost = null;
      if (signal.aborted) return;
      await this.hooks.afterLoss(ended).catch((err: unknown) => this.log.error('LEADERSHIP', `after the loss of leadership: ${describeError(err)}`));
    }
  }
}
