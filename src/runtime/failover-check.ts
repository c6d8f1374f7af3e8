/**
 * The monitoring policy (seed 004 failover_check): poll or verify, keep old masters fenced, and
 * when the master fails its check, judge it — retries, vantage points, how its host answers —
 * through the one pure decision (engine/failover-decision.ts), then act on that decision. The
 * recovery of an interrupted change judges through the same `judgeMaster`.
 */
import type { AdoptionVerdict } from '../engine/agents-master-adoption.js';
import { agentsMasterFirst } from './topology/adopt-agents-master.js';
import { decideFailover, type FailoverDecision, type MasterReach } from '../engine/failover-decision.js';
import { judgeMasterFailure } from '../engine/master-failure.js';
import { failure, success, type Rd } from '../model/rd.js';
import { serverRef } from './checks.js';
import { observeRunning } from './observe.js';
import { ref, withinQuickDeadline, type TopologyEnv } from './topology/env.js';
import { enabledReplicaNames, snapshotReplicas, vantageReports, withFreshWalReceivers, type ReplicaSnapshot } from './topology/facts.js';
import type { VantageReport } from '../engine/master-failure.js';
import { combineAgentReads, NO_AGENT_RECORDS, type AgentRecordsRead } from '../engine/agent-vantage.js';
import { runFailover, type FailoverExpectation, type TopologyRd } from './topology/failover.js';
import { answeredWithoutAttempt } from './topology/no-attempt.js';
import { enforceFencing, rejoinFenced } from './topology/fenced.js';
import { secondMasterRisk } from './topology/writable-guard.js';
import { recordJudgement } from './master-judgement.js';
import { maintainSyncStandbys } from './sync/sync-maintainer.js';
import { describeError } from '../model/errors.js';

export type FailoverCheckRd = Rd<{ failover_ok?: boolean; reason_code?: string; history_id?: string }>;

export interface FailoverCheckDeps {
  env: () => TopologyEnv;
  /** Wait until state changes are saved. */
  flush: () => Promise<void>;
  /** Run a topology change alone (single flight), reported to the failover listeners. */
  topology: (run: () => Promise<TopologyRd>) => Promise<TopologyRd>;
  /** Run a mutating action alone. */
  mutate: <T>(run: () => Promise<T>) => Promise<T>;
  /**
   * Run a question alone in the action queue, without waiting for the state save after it (it
   * changes nothing; a save in flight may be a table write to a dead master). Absent = mutate.
   */
  queued?: <T>(run: () => Promise<T>) => Promise<T>;
  topologyInFlight: () => boolean;
  /** Refresh this controller's heartbeat on the master (other controllers see it's alive). */
  beat: () => Promise<void>;
  /** Whether no other controller started earlier is alive (null), or why this one must not act. */
  notSenior: () => Promise<string | null>;
  /** Why nothing may act automatically now (paused, planned stop), or null. */
  hold: () => string | null;
  paused: () => boolean;
  /** The master was stopped on purpose through HandyRep. */
  plannedDown: (name: string) => boolean;
  /** The last facts that found the master unanswering (reused by the lease-lapse judgement); absent = none kept. */
  recentFacts?: RecentMasterFacts;
  /** The back-to-back probes of a silent master (silent-master-probes.ts); absent = none. */
  silentProbes?: { follow: (name: string) => void; stop: () => void };
  /**
   * etcd: starts the reads for taking into the book a master an agents' election made (the
   * `master` key, bounded by topology/adopt-agents-master.ts ADOPTION_CHECK_READ_MS); the step it
   * returns judges and, when it verifies, adopts, run alone. Absent = no etcd (no agents' elections).
   */
  startAdoption?: () => () => Promise<AdoptionVerdict>;
}

/**
 * The facts the failover check gathers when the master fails its check, kept for the judgement the
 * lapse of its agent lease starts (lease-lapse-judgement.ts): the same episode, so probes that
 * already waited out their connect timeouts (or are waiting them out) are not started again. The
 * last gathering that completed is preferred (its answers are in); else the one still running.
 * Forgotten once the master answers.
 */
export class RecentMasterFacts {
  #settled: KeptFacts | null = null;
  #running: KeptFacts | null = null;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** `topologyRevision`: the book's when the gathering started (its replica set). */
  note(master: string, facts: PendingMasterFacts, topologyRevision: number): void {
    const kept: KeptFacts = { master, facts, atMs: this.now(), settled: false, topologyRevision };
    this.#running = kept;
    void settleMasterFacts(facts).then(
      () => {
        kept.settled = true;
        if (this.#running === kept) this.#running = null;
        // forget() since: nothing is kept; an older gathering never replaces a newer one.
        if (this.#settled === null || this.#settled.atMs <= kept.atMs) this.#settled = kept.forgotten ? this.#settled : kept;
      },
      () => undefined,
    );
  }

  forget(): void {
    for (const kept of [this.#settled, this.#running]) if (kept) kept.forgotten = true;
    this.#settled = null;
    this.#running = null;
  }

  /**
   * The facts about `master` whose gathering started at most `maxAgeMs` ago under `topologyRevision`
   * (the same replica set: the majority is over the replicas enabled now), completed ones first.
   */
  get(master: string, maxAgeMs: number, topologyRevision: number): { facts: PendingMasterFacts; settled: boolean } | undefined {
    for (const kept of [this.#settled, this.#running]) {
      if (kept !== null && kept.master === master && kept.topologyRevision === topologyRevision && this.now() - kept.atMs <= maxAgeMs) {
        return { facts: kept.facts, settled: kept.settled };
      }
    }
    return undefined;
  }
}

interface KeptFacts {
  master: string;
  facts: PendingMasterFacts;
  atMs: number;
  settled: boolean;
  topologyRevision: number;
  forgotten?: boolean;
}

/**
 * Can the controller stop (or see stopped) the master over its control channel? Within the short
 * deadline once its agent lease lapsed while it did not answer (env.ts withinQuickDeadline): then
 * the lease decides under agent_lease, and a slow channel only makes the judgement stricter.
 */
export async function masterReach(env: TopologyEnv, master: string): Promise<MasterReach> {
  const running = await withinQuickDeadline(env, master, observeRunning({ ctx: env.ctx(), plugins: env.plugins }, ref(env, master)), null);
  return running !== null ? 'control' : 'none';
}

export interface Judgement {
  decision: FailoverDecision;
  snapshots: readonly ReplicaSnapshot[];
  expect: FailoverExpectation;
}

/** What the vantage points and the master's host said: the facts a judgement decides on. */
export interface MasterFacts {
  snapshots: readonly ReplicaSnapshot[];
  /** The controller's own probes from the replica hosts. */
  vantage: VantageReport[];
  reach: MasterReach;
  /**
   * The agents' member records read at the same time (failover.agent_vantage; else none), with the
   * store's revision of that read: the onset after which an agent's "does not see" is news.
   */
  agentRecords: AgentRecordsRead;
}

/** The agents' member records when failover.agent_vantage is on; an unreadable etcd gives none. */
function readAgentRecords(env: TopologyEnv): Promise<AgentRecordsRead> {
  if (!env.ctx().config.failover.agent_vantage || !env.agentVantage) return Promise.resolve(NO_AGENT_RECORDS);
  return env.agentVantage().catch(() => NO_AGENT_RECORDS);
}

/** The facts of a judgement while they are being gathered (each part settles on its own). */
export interface PendingMasterFacts {
  snapshots: Promise<readonly ReplicaSnapshot[]>;
  vantage: Promise<VantageReport[]>;
  reach: Promise<MasterReach>;
  agentRecords: Promise<AgentRecordsRead>;
}

/** Starts asking the replicas (snapshots, vantage probes), the master's host and the agents' records, in parallel. */
export function startMasterFacts(env: TopologyEnv, master: string): PendingMasterFacts {
  const masterRef = serverRef(master, env.book.get(master));
  const names = enabledReplicaNames(env);
  const snapshots = snapshotReplicas(env, names);
  const pending = { snapshots, vantage: vantageReports(env, masterRef, names, snapshots), reach: masterReach(env, master), agentRecords: readAgentRecords(env) };
  // Each part is awaited later, maybe by a judgement that never comes: no unhandled rejection meanwhile.
  for (const part of Object.values(pending)) (part as Promise<unknown>).catch(() => undefined);
  return pending;
}

/** All parts of `pending`, with `reach` replaced when given. */
export async function settleMasterFacts(pending: PendingMasterFacts, reach: Promise<MasterReach> = pending.reach): Promise<MasterFacts> {
  const [snapshots, vantage, reached, agentRecords] = await Promise.all([pending.snapshots, pending.vantage, reach, pending.agentRecords]);
  return { snapshots, vantage, reach: reached, agentRecords };
}

export function gatherMasterFacts(env: TopologyEnv, master: string): Promise<MasterFacts> {
  return settleMasterFacts(startMasterFacts(env, master));
}

/**
 * The master failed the controller's checks: ask the vantage points and its host (in parallel)
 * and decide. `restartTried` is set once failover.restart_master's restart was tried. `facts`,
 * when given, were gathered while the retries ran (they count only because the retries failed).
 * `onset`: the agents' records as read when the master first failed (from `facts` when not given);
 * without either, the agents can hold the failover but not say "does not see".
 */
export async function judgeMaster(
  env: TopologyEnv,
  master: string,
  context: { paused: boolean; plannedDown: boolean; restartTried: boolean; expect: FailoverExpectation; record?: boolean; onset?: AgentRecordsRead },
  facts?: MasterFacts,
): Promise<Judgement> {
  const config = env.ctx().config.failover;
  const gathered = facts ?? (await gatherMasterFacts(env, master));
  const { reach, agentRecords } = gathered;
  // The records are read again now (one etcd read): only probes that started after the first read
  // can say "does not see", and a "sees" at either read holds the failover (combineAgentReads).
  // Facts gathered earlier are seconds old: the replicas' WAL receivers (and positions) are read
  // again too (one query each).
  const early = context.onset ?? (facts ? agentRecords : NO_AGENT_RECORDS);
  const [late, snapshots] = await Promise.all([
    facts || context.onset ? readAgentRecords(env) : agentRecords,
    facts ? snapshotReplicas(env, enabledReplicaNames(env)) : gathered.snapshots,
  ]);
  const probed = facts ? withFreshWalReceivers(gathered.vantage, snapshots) : gathered.vantage;
  const vantage = combineAgentReads(probed, early, late, master);
  const verdict = judgeMasterFailure(false, vantage, config.replica_sees_master_seconds);
  // Read only when it can decide: an unreachable master under agent_lease.
  const masterLease = config.unreachable_master === 'agent_lease' && reach === 'none' ? ((await env.masterLease?.state(master)) ?? 'unknown') : null;
  const decision = decideFailover({
    master,
    paused: context.paused,
    plannedDown: context.plannedDown,
    topologyChangeRunning: false,
    controllerReached: false,
    vantage: verdict,
    reach,
    autoFailover: config.auto_failover,
    restartMaster: config.restart_master,
    restartTried: context.restartTried,
    unreachableMaster: config.unreachable_master,
    masterLease,
    masterLeaseNote: masterLease === null ? null : (env.masterLease?.note?.(master) ?? null),
    connectionFailover: config.connection_failover_method !== null,
    unconfirmedFences: env.book.names().filter((n) => n !== master && env.book.get(n).fenced && env.book.get(n).fence_unconfirmed === true),
  });
  // Statuses and the episode's one alert follow the judgement (a failed master HandyRep will not
  // fail over is 'held': warning, one CRITICAL alert).
  const held = decision.action === 'warn' && verdict.failed ? { code: decision.reason_code, reason: decision.reason } : null;
  // A dry run asks without recording (no status change, no alert).
  if (context.record ?? true) recordJudgement(env.book, env.ctx().config, master, verdict, held);
  return { decision, snapshots, expect: context.expect };
}

export async function failoverCheck(deps: FailoverCheckDeps, verify: boolean): Promise<FailoverCheckRd> {
  const env = deps.env();
  const [rd, fenceNotes] = await Promise.all([verify ? env.checks.verifyAll() : env.checks.pollAll(), enforceFencing(env)]);
  // A failed master's facts are asked for at once, while the state is saved: the save also writes
  // the master's handyrep table, which for a lost host waits out a connect timeout (or two).
  const failed = rd.result !== 'SUCCESS' ? env.book.masterName() : null;
  const facts = failed !== null && !deps.topologyInFlight() ? startMasterFacts(env, failed) : undefined;
  if (failed !== null && facts) deps.recentFacts?.note(failed, facts, env.book.topologyRevision);
  if (failed !== null) deps.silentProbes?.follow(failed);
  // The agents' master (below) is read while the state is saved, not after it.
  const adoption = rd.result !== 'SUCCESS' && !deps.topologyInFlight() ? deps.startAdoption?.() : undefined;
  await deps.flush();
  const fenceNote = fenceNotes.length > 0 ? `; ${fenceNotes.join('; ')}` : '';
  const cluster = (): string => `cluster ${env.book.clusterStatus.status}`;
  if (rd.result === 'SUCCESS') {
    deps.recentFacts?.forget();
    env.refusals?.end(); // the master answers: a later refusal is a new episode
    deps.silentProbes?.stop();
    await noteMasterLease(env);
    // Before the heartbeat: a master waiting for a lost synchronous standby is unblocked first.
    const syncNote = deps.topologyInFlight() || !syncManaged(env) ? null : await deps.mutate(() => maintainSyncAsSenior(deps));
    await deps.beat();
    if (syncNote !== null) return success(`${cluster()}: ${rd.details}; ${syncNote}${fenceNote}`, { failover_ok: rd.failover_ok });
    if (verify && !deps.topologyInFlight()) {
      const rejoined = await deps.mutate(async () => ((await deps.notSenior()) === null ? rejoinFenced(env) : []));
      if (rejoined.length > 0) return success(`${cluster()}: ${rd.details}; ${rejoined.join('; ')}${fenceNote}`, { failover_ok: rd.failover_ok });
    }
    return success(`${cluster()}: ${rd.details}${fenceNote}`, { failover_ok: rd.failover_ok });
  }
  // Before judging the book's master failed: the agents may have replaced it while no controller led
  // (one bounded etcd read, started above; the probes only when the key names another master an
  // election made). An error or a slow etcd adopts nothing: the judgement goes on.
  if (adoption && !deps.topologyInFlight()) {
    const first = await agentsMasterFirst(adoption);
    if (first.go === 'adopted') return success(`${cluster()}: ${rd.details}; ${first.why}${fenceNote}`, { failover_ok: rd.failover_ok });
    // An agents' promotion in flight: judging the book's master now could only record a failover
    // that the master key refuses; the next check adopts it once confirmed, or judges once it is not.
    if (first.go === 'wait') return failure(`${cluster()}: ${rd.details}; ${first.why}${fenceNote}`, { failover_ok: rd.failover_ok, reason_code: first.code });
  }
  const master = env.book.masterName();
  if (master === null) return failure(`${cluster()}: ${rd.details}; no failover without a single enabled master${fenceNote}`, { failover_ok: false });
  if (deps.topologyInFlight()) return failure(`${cluster()}: ${rd.details}; a topology change is in progress, not deciding`, { failover_ok: rd.failover_ok });
  return judgeFailedMaster(deps, master, rd.details + fenceNote, master === failed ? facts : undefined);
}

/** agent_lease: whether the healthy master's agent holds its lease (what makes its later absence a proof). */
async function noteMasterLease(env: TopologyEnv): Promise<void> {
  const master = env.book.masterName();
  if (master !== null && env.ctx().config.failover.unreachable_master === 'agent_lease') await env.masterLease?.noteHealthy(master);
}

/**
 * synchronous_mode is on, or a set it left is still recorded (to be cleared). Never in deployment
 * agents: the master's agent keeps the set there (agent/sync/; a controller refuses that
 * configuration at start and reload, this is the second lock).
 */
function syncManaged(env: TopologyEnv): boolean {
  const config = env.ctx().config;
  if (config.handyrep.deployment === 'agents') return false;
  return config.failover.synchronous_mode !== 'off' || env.book.syncRecord() !== null;
}

/** synchronous_standby_names kept as synchronous_mode asks, by the senior controller only; never throws. */
async function maintainSyncAsSenior(deps: FailoverCheckDeps): Promise<string | null> {
  const env = deps.env();
  try {
    if (deps.topologyInFlight() || (await deps.notSenior()) !== null) return null;
    return await maintainSyncStandbys(env);
  } catch (err) {
    env.log.warn('SYNC', `synchronous standbys not maintained this cycle: ${describeError(err)}`);
    return null;
  }
}

/** The master failed its check: retry, then judge and act on the decision. */
async function judgeFailedMaster(deps: FailoverCheckDeps, master: string, firstFailure: string, started?: PendingMasterFacts): Promise<FailoverCheckRd> {
  const env = deps.env();
  const failover = env.ctx().config.failover;
  const expect: FailoverExpectation = { master, topologyRevision: env.book.topologyRevision };
  // The vantage points are asked while the retries run (issue 12): their answer is used only
  // when every retry fails, and costs no time then.
  const pending = started ?? startMasterFacts(env, master);
  if (!started) deps.recentFacts?.note(master, pending, expect.topologyRevision);
  const early = settleMasterFacts(pending).then(
    (facts) => facts,
    () => undefined,
  );
  for (let attempt = 1; attempt <= failover.fail_retries; attempt += 1) {
    await env.sleep(failover.fail_retry_interval * 1000);
    if (deps.topologyInFlight()) {
      await early;
      return failure(`master check failed (${firstFailure}); a topology change started meanwhile`);
    }
    const poll = await env.checks.pollServer(master);
    await deps.flush();
    if (poll.result === 'SUCCESS') {
      deps.recentFacts?.forget(); // it answered: what was gathered about its failure is no longer this episode
      await early; // nothing is left running behind the check
      return success(`master ${master} answered on retry ${attempt} after: ${firstFailure}`);
    }
  }
  let restartTried = false;
  let facts = await early;
  // The episode's first read of the agents' records stays the onset after a restart attempt too.
  const onset = facts?.agentRecords;
  for (;;) {
    const judgement = await judgeMaster(env, master, { paused: deps.paused(), plannedDown: deps.plannedDown(master), restartTried, expect, ...(onset ? { onset } : {}) }, facts);
    facts = undefined; // after a restart attempt, ask again
    const { decision } = judgement;
    const extra = { reason_code: decision.reason_code };
    switch (decision.action) {
      case 'none':
        return success(`master ${master}: ${decision.reason}`, extra);
      case 'warn': {
        await deps.flush();
        return failure(`master ${master} failed its check (${firstFailure}); ${decision.reason}`, { ...extra, failover_ok: decision.reason_code === 'auto_failover_off' });
      }
      case 'restart_master': {
        restartTried = true;
        const restart = await deps.mutate(() => restartIfStillDue(deps, env, master, expect));
        if (restart.result === 'SUCCESS') return success(`${decision.reason}; master restarted`, extra);
        if (restart.reason_code !== undefined) return failure(`master ${master}: restart called off: ${restart.details}`, { reason_code: restart.reason_code });
        continue;
      }
      case 'failover':
        return automaticFailover(deps, judgement);
    }
  }
}

/**
 * Runs the failover a judgement decided, in the action queue. Called off quietly (no history
 * entry) when another judgement's change ran first: the monitor's and the lease watch's judgements
 * of one episode may both decide it.
 */
export async function automaticFailover(deps: FailoverCheckDeps, judgement: Judgement): Promise<FailoverCheckRd> {
  const env = deps.env();
  const { decision, expect } = judgement;
  const stale = (): boolean => env.book.masterName() !== expect.master || env.book.topologyRevision !== expect.topologyRevision;
  const calledOff = `master ${expect.master ?? 'none'}: another change ran first (the master or the server definitions changed since the verdict)`;
  // The usual race: the other judgement's failover is running (or done) by the time this one decided.
  if (deps.topologyInFlight()) return success(`master ${expect.master ?? 'none'}: a topology change is already in progress, not deciding`);
  // Asked in the action queue, behind whatever was queued first, and outside the topology wrapper:
  // a no-op is not reported to the failover listeners as a failed failover.
  if (await (deps.queued ?? deps.mutate)(async () => stale())) return success(calledOff, { reason_code: 'stale_verdict' });
  let ranFirst = false;
  const result = await deps.topology(async () => {
    // Something queued between the two (rare): called off here, before anything is touched.
    if (stale()) {
      ranFirst = true;
      return answeredWithoutAttempt(failure(calledOff, { reason_code: 'stale_verdict' }));
    }
    return runFailover(env, decision.reason, { preferred: null, remaster: env.ctx().config.failover.remaster, snapshots: judgement.snapshots, expect, proxiesFirst: decision.proxiesFirst, automatic: true });
  });
  const done = { ...(result.reason_code ? { reason_code: result.reason_code } : {}), ...(result.history_id ? { history_id: result.history_id } : {}) };
  if (ranFirst) return success(result.details, done);
  return result.result === 'SUCCESS' ? success(result.details, done) : failure(`master down, failover failed: ${result.details}`, done);
}

/**
 * Inside the action queue, the restart of a failed master is re-checked like a failover: the
 * same master, no topology change since the verdict, nothing on hold, this controller senior,
 * and no other server writable (a restart must never start a second master).
 */
async function restartIfStillDue(deps: FailoverCheckDeps, env: TopologyEnv, master: string, expect: FailoverExpectation): Promise<Rd<{ reason_code?: string }>> {
  if (env.book.masterName() !== master || env.book.topologyRevision !== expect.topologyRevision) {
    return failure('the topology changed since the verdict', { reason_code: 'stale_verdict' });
  }
  const hold = deps.hold();
  if (hold !== null) return failure(hold, { reason_code: 'on_hold' });
  const notSenior = await deps.notSenior();
  if (notSenior !== null) return failure(notSenior, { reason_code: 'not_senior_controller' });
  const risk = await secondMasterRisk(env, master);
  if (risk !== null) return failure(`not restarting: ${risk}`, { reason_code: 'second_master' });
  return env.nodeControl.restart(master);
}

/** Recovery's judgement of an old master: the same retries, then the same decision. */
export async function judgeAfterRestart(deps: FailoverCheckDeps, master: string, expect: FailoverExpectation): Promise<Judgement | { reachable: true; details: string }> {
  const env = deps.env();
  const failover = env.ctx().config.failover;
  let onset: AgentRecordsRead | undefined;
  for (let attempt = 0; attempt <= failover.fail_retries; attempt += 1) {
    if (attempt > 0) await env.sleep(failover.fail_retry_interval * 1000);
    const poll = await env.checks.pollServer(master);
    if (poll.result === 'SUCCESS') {
      deps.recentFacts?.forget();
      return { reachable: true, details: poll.details };
    }
    // The agents' records as of the first failed poll: the onset of their "does not see".
    onset ??= await readAgentRecords(env);
  }
  return judgeMaster(env, master, { paused: deps.paused(), plannedDown: deps.plannedDown(master), restartTried: false, expect, ...(onset ? { onset } : {}) });
}
