/**
 * Carries out role discovery at start (boot.ts decides) until it succeeded: the agent calls `step`
 * at the start of each round. An attempt that failed (the recorded master unreachable for its
 * CHECKPOINT, pg_rewind failed, a copy or initdb failed, pg_ctl start failed) is logged with its
 * reason and tried again after a growing pause (bootRetryDelayMs), never every round; PostgreSQL is
 * never started writable meanwhile (it is not started at all, and the folder keeps standby.signal:
 * boot-standby.ts). Once a start succeeded or PostgreSQL was found running, it is done for good.
 */
import type { HandyRepConfig } from '../config/schema.js';
import { describeError } from '../model/errors.js';
import type { ProcessGroupWatcher } from '../nodes/run-process.js';
import type { EtcdContext } from '../store/etcd/client.js';
import { inspectFolder, type NodeEnv } from '../runtime/clone/target-node.js';
import type { MonotonicMs } from './agent-lease.js';
import { agentNodeEnv, serverRef } from './agent-plugin-context.js';
import { cloneFromMaster } from './boot-clone.js';
import { readPartialCopy, removeCopyMarker } from './copy-marker.js';
import { destructiveRefusal } from './commands/command-guard.js';
import { configuredSlot, dropIdleSlot, prepareStandby } from './boot-standby.js';
import { claimMasterForBootstrap, confirmBootstrap } from './bootstrap-claim.js';
import { ensureHandyRepRoles, initdbNode } from './bootstrap-initdb.js';
import { bootRetryDelayMs, decideBoot, type BootPlan } from './boot.js';
import type { LocalPostgres } from './local-postgres.js';
import type { BootStep } from './boot-step.js';
import { readMasterView } from './master-read.js';

export interface BootRunnerDeps {
  readonly config: HandyRepConfig;
  readonly node: string;
  readonly pg: LocalPostgres;
  readonly etcd: EtcdContext;
  /** Deadline of one etcd call. */
  readonly callMs: number;
  readonly loopMs: number;
  /** The agent's master lease (agent.ts), taken before a start as master (boot-lease.ts). */
  readonly lease: BootMasterLease;
  readonly log: (line: string) => void;
  readonly now: MonotonicMs;
  /** Told of every command's process group while it runs (copy-groups.ts), so a stop can kill a copy. */
  readonly groups?: ProcessGroupWatcher;
  /** Aborted when the agent stops: no copy, rewind or initdb starts after it, a running copy is cancelled. */
  readonly signal?: AbortSignal;
  /** Told when a step begins (copy, rewind, standby settings, start, initdb) and when it ended (null): boot-step-keeper.ts. */
  readonly onStep?: (step: BootStep | null) => void;
  /** Drops this node's slot on the master when idle (boot-standby.ts dropIdleSlot); replaced in tests. */
  readonly dropSlot?: (master: string, slot: string) => Promise<string>;
}

export interface BootMasterLease {
  /** Grants the lease and puts `master_lease/<node>` if the `master` key is unchanged since `masterModRevision`; null when held, else why not. */
  take(masterModRevision: string): Promise<string | null>;
  /** One renewal (while pg_ctl start runs, the rounds do not renew). */
  renew(): Promise<void>;
  /** Held and renewed within ttl − safety_margin. */
  fresh(): boolean;
  /** Held by this process, fresh or not (no rewind or copy then: commands/command-guard.ts); absent: never held. */
  held?(): boolean;
  release(): Promise<void>;
}

/** `soon`: not a failure of this node (another agent won the bootstrap): ask again next round. */
type Outcome = { readonly ok: boolean; readonly details: string; readonly soon?: boolean };

export class BootRunner {
  readonly #d: BootRunnerDeps;
  readonly #env: NodeEnv;
  #done = false;
  #failures = 0;
  #notBeforeMs = -Infinity;
  #lastSentence = '';
  #lastSoon = '';

  constructor(deps: BootRunnerDeps) {
    this.#d = deps;
    this.#env = agentNodeEnv(deps.config, (line) => deps.log(`agent ${deps.node}: boot: ${line}`), deps.groups);
  }

  /** Whether role discovery decided for good (a start succeeded, or PostgreSQL was found running). */
  get done(): boolean {
    return this.#done;
  }

  /** Role discovery once more: after a fence of this node's master, or to follow an elected master. */
  again(): void {
    this.#done = false;
    this.#failures = 0;
    this.#notBeforeMs = -Infinity;
    this.#lastSentence = '';
  }

  async step(): Promise<void> {
    const d = this.#d;
    if (this.#done || d.signal?.aborted) return;
    // A PostgreSQL started meanwhile (by hand, between two attempts) is adopted at once.
    const { observation } = await d.pg.observe();
    if (!observation.pidAlive && d.now() < this.#notBeforeMs) return;
    const { view: master, modRevision } = await readMasterView(this.#d.etcd, this.#d.etcd.deadlineMs);
    const self = serverRef(d.config, d.node);
    const folder = observation.pidAlive ? 'pgdata' : (await inspectFolder(this.#env, self)).folder;
    const partial = observation.pidAlive ? null : this.#partialCopy(self.pgdata);
    const plan = decideBoot({
      node: d.node,
      master,
      running: observation.pidAlive,
      servers: Object.keys(d.config.servers),
      folder,
      bootstrap: d.config.agent.bootstrap_node === d.node ? 'initdb' : 'off',
      reclone: d.config.agent.reclone,
      partialCopy: partial,
    });
    if (plan.sentence !== this.#lastSentence) this.#say(plan.sentence);
    this.#lastSentence = plan.sentence;
    if (plan.kind === 'leave') {
      this.#done = !plan.retry;
      return;
    }
    const outcome = await this.#execute(plan, modRevision).catch((err: unknown): Outcome => ({ ok: false, details: describeError(err) }));
    if (outcome.ok) {
      this.#done = true;
      this.#say(outcome.details);
      return;
    }
    if (outcome.soon) {
      this.#failures = 0;
      this.#notBeforeMs = d.now() + d.loopMs;
      // Asked every round (a refused bootstrap): said once until it changes.
      if (outcome.details !== this.#lastSoon) this.#say(outcome.details);
      this.#lastSoon = outcome.details;
      return;
    }
    this.#failures += 1;
    const delayMs = bootRetryDelayMs(this.#failures, d.loopMs);
    this.#notBeforeMs = d.now() + delayMs;
    // Said again on the next attempt even when unchanged: each attempt is logged.
    this.#lastSentence = '';
    this.#say(`attempt ${this.#failures} failed, PostgreSQL not started, next attempt in ${(delayMs / 1000).toFixed(1)} s: ${outcome.details}`);
  }

  /**
   * Starts PostgreSQL writable, holding the master lease first (boot-lease.ts), renewed while
   * pg_ctl start runs; released when the start failed.
   */
  async #startMaster(masterModRevision: string, role: string, details: string): Promise<Outcome> {
    const refused = await this.#d.lease.take(masterModRevision);
    if (refused !== null) return { ok: false, details: `not started as the master: ${refused}` };
    const renewing = setInterval(() => void this.#d.lease.renew().catch(() => undefined), this.#d.loopMs);
    let started: Outcome;
    try {
      started = await this.#start(role, null, `master lease held; ${details}`);
    } finally {
      clearInterval(renewing);
    }
    // A start that failed or timed out may leave a postmaster still coming up (pg_ctl -w gives up,
    // the server does not); a lease that went stale meanwhile no longer protects it. Either way
    // it is stopped BEFORE the lease goes: never writable without the lease.
    const lost = started.ok && !this.#d.lease.fresh();
    if (!started.ok || lost) {
      const how = await this.#d.pg.stopForSure(2000, true);
      await this.#d.lease.release();
      return { ok: false, details: `${lost ? 'the master lease went stale while PostgreSQL started' : started.details}; PostgreSQL stopped (${how}) before the lease was released` };
    }
    return started;
  }

  /** The mark a copy killed midway left (copy-marker.ts); one that never touched the folder is dropped here. */
  #partialCopy(pgdata: string): { redo: boolean; sentence: string } | null {
    const verdict = readPartialCopy(pgdata, this.#d.node);
    switch (verdict.kind) {
      case 'none':
        return null;
      case 'forget':
        removeCopyMarker(pgdata, this.#d.node);
        this.#say(`${verdict.sentence}: copy marker removed`);
        return null;
      case 'redo':
        return { redo: true, sentence: verdict.sentence };
      case 'blocked':
        return { redo: false, sentence: verdict.sentence };
    }
  }

  #say(line: string): void {
    this.#d.log(`agent ${this.#d.node}: boot: ${line}`);
  }

  /** pg_ctl start; `master`: the master it follows (null: it starts as the master). */
  async #start(role: string, master: string | null, details: string): Promise<Outcome> {
    const started = await this.#during({ step: 'start', source: null, master, reclone: false }, () => this.#d.pg.start(Math.max(60_000, this.#d.config.etcd.ttl * 1000)));
    return started ? { ok: true, details: `started as ${role} (${details})` } : { ok: false, details: `pg_ctl start failed (see the PostgreSQL log) after: ${details}` };
  }

  async #execute(plan: Exclude<BootPlan, { kind: 'leave' }>, masterModRevision: string): Promise<Outcome> {
    switch (plan.kind) {
      case 'start_master':
        return this.#startMaster(masterModRevision, 'the master', 'this node is the recorded master');
      case 'start_standby':
      case 'clone':
        return this.#followWithoutLeak(plan.master, () => this.#follow(plan));
      case 'bootstrap': {
        const claim = await claimMasterForBootstrap(this.#d.etcd, this.#d.node, this.#d.callMs);
        if (!claim.won) return { ok: false, soon: true, details: `not bootstrapping: ${claim.details}` };
        this.#say(`${claim.details}; running initdb`);
        return this.#initdbAndStart(claim.modRevision);
      }
      case 'initdb':
        return this.#initdbAndStart(masterModRevision);
    }
  }

  /**
   * An attempt to follow `master` (its slot is created on the master before the copy or rewind,
   * so the WAL from then on is kept): when it fails, the slot is dropped again if no WAL receiver
   * uses it, so a node that never joins does not make the master keep WAL (an agent killed in the
   * middle of an attempt leaves it until its next attempt ends).
   */
  async #followWithoutLeak(master: string, attempt: () => Promise<Outcome>): Promise<Outcome> {
    const outcome = await attempt().catch((err: unknown): Outcome => ({ ok: false, details: describeError(err) }));
    const slot = configuredSlot(this.#d.config, this.#d.node);
    if (outcome.ok || slot === null) return outcome;
    const dropped = await (this.#d.dropSlot ?? ((m: string, s: string) => dropIdleSlot(this.#d.config, m, s)))(master, slot);
    return { ...outcome, details: `${outcome.details}; ${dropped}` };
  }

  async #follow(plan: Extract<BootPlan, { kind: 'start_standby' | 'clone' }>): Promise<Outcome> {
    const { config, node } = this.#d;
    const signal = this.#d.signal ?? new AbortController().signal;
    // As for the controller's commands: nothing rewrites or replaces the data of a node whose agent
    // still holds its master lease (a start as master that has not released it yet).
    const refused = destructiveRefusal(plan.kind === 'clone' ? 'clone' : 'rewind', { node, recordedMaster: plan.master, leaseHeld: this.#d.lease.held?.() ?? false, leaseKeyPresent: false, postgres: 'stopped' });
    if (refused !== null) return { ok: false, details: `not made a standby of ${plan.master}: ${refused.message}` };
    if (plan.kind === 'clone') {
      const cloned = await this.#copying(plan.master, false, () => cloneFromMaster(this.#env, config, node, plan.master, false, signal));
      if (!cloned.ok) return { ok: false, details: `clone from ${plan.master} failed: ${cloned.details}` };
      return this.#start(`a standby of ${plan.master}`, plan.master, `cloned: ${cloned.details}`);
    }
    const onStep = (step: 'rewind' | 'standby_settings'): void => this.#tell({ step, source: step === 'rewind' ? plan.master : null, master: plan.master, reclone: false });
    const prepared = await this.#during(null, () => prepareStandby(config, node, plan.master, this.#env.ctx.controllerShell, signal, onStep));
    if (prepared.ok) return this.#start(`a standby of ${plan.master}`, plan.master, prepared.details);
    if (!prepared.rewindFailed || !plan.reclone) return { ok: false, details: `cannot make it a standby of ${plan.master}: ${prepared.details}` };
    this.#say(`pg_rewind cannot join this node to ${plan.master}, recloning it (the old data folder is moved aside, not deleted): ${prepared.details}`);
    const cloned = await this.#copying(plan.master, true, () => cloneFromMaster(this.#env, config, node, plan.master, true, signal));
    if (!cloned.ok) return { ok: false, details: `reclone from ${plan.master} failed: ${cloned.details}` };
    return this.#start(`a standby of ${plan.master}`, plan.master, `recloned: ${cloned.details}`);
  }

  /** A copy of `master`, told to onStep while it runs (the member record says so meanwhile). */
  #copying<T>(master: string, reclone: boolean, copy: () => Promise<T>): Promise<T> {
    return this.#during({ step: 'copy', source: master, master, reclone }, copy);
  }

  /** `step` begins now (told to onStep). */
  #tell(step: Omit<BootStep, 'since'>): void {
    this.#d.onStep?.({ ...step, since: new Date().toISOString() });
  }

  /** Runs `work` as `step` (null: the work tells its own steps), told null when it ended, also when it failed. */
  async #during<T>(step: Omit<BootStep, 'since'> | null, work: () => Promise<T>): Promise<T> {
    if (step !== null) this.#tell(step);
    try {
      return await work();
    } finally {
      this.#d.onStep?.(null);
    }
  }

  /** initdb, start as the master, HandyRep's roles, then the claim confirmed (timeline 1). */
  async #initdbAndStart(masterModRevision: string): Promise<Outcome> {
    const { config, node, pg } = this.#d;
    if (this.#d.signal?.aborted) return { ok: false, details: 'the agent is stopping: initdb not started' };
    const made = await this.#during({ step: 'initdb', source: null, master: null, reclone: false }, () => initdbNode(this.#env, config, node));
    if (!made.ok) return made;
    const started = await this.#startMaster(masterModRevision, 'the master of a new cluster', made.details);
    if (!started.ok) return started;
    const notes: string[] = [];
    try {
      notes.push(await ensureHandyRepRoles(config, pg.settings.socketDir, pg.settings.port));
    } catch (err) {
      notes.push(`HandyRep's roles NOT created (create them by hand): ${describeError(err)}`);
    }
    try {
      notes.push((await confirmBootstrap(this.#d.etcd, node, this.#d.callMs)) ? 'master key confirmed' : 'master key not confirmed (it changed)');
    } catch (err) {
      notes.push(`master key not confirmed: ${describeError(err)}`);
    }
    return { ok: true, details: `${started.details}; ${notes.join('; ')}` };
  }
}
