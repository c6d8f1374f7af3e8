/**
 * Failover away from a failed (or operator-abandoned) master, in the plan's order
 * (engine/failover-steps.ts), with the seed's rollback rules (design.md §5.7):
 * revalidate → select → fence the old master → promote the first candidate that confirms →
 * (point of no return) → proxies, replicas, post-failover commands, rejoin of the old master.
 * Before the point of no return a failure rolls back (the old master is restarted, never beside
 * another writable server); after it, failures only degrade the cluster to warning.
 */
import { describeRefusals } from '../../engine/candidates.js';
import { planFailover, type PlannedStep } from '../../engine/failover-steps.js';
import type { Refusal } from '../../engine/selection.js';
import { failure, success, type Rd } from '../../model/rd.js';
import { afterPromotion, afterPromotionInput, finishNote, recordPromotion, repointProxies, settleClusterStatus } from './after-promotion.js';
import type { TopologyEnv } from './env.js';
import { nameOldMasterAgain } from './master-key-again.js';
import { snapshotReplicas, type ReplicaSnapshot } from './facts.js';
import { fenceServer, type FenceResult } from './fence.js';
import { promoteAndConfirm, settlePromotion, type PromotionSettlement } from './promote.js';
import { enabledReplicas, selectCandidates } from './select.js';
import { StepRunner } from './step-runner.js';
import { secondMasterRisk } from './writable-guard.js';
import { refusalNote } from '../../engine/refusal-episode.js';
import { noCandidateAbout } from '../../engine/refusal-repeat.js';
import { quietRepeat } from './quiet-refusal.js';

export interface FailoverPlan {
  kind: 'failover' | 'switchover' | 'promote';
  from: string | null;
  to: string | null;
  candidates: string[];
  refusals: Refusal[];
  /** The forward path, "fence john", "promote paul", … (what the executor runs when all goes well). */
  steps: string[];
}

/** What the automatic failover check would decide now (dry runs while the master is down). */
export interface AutomaticVerdict {
  action: string;
  reason_code: string;
  reason: string;
}

export type TopologyRd = Rd<{
  reason_code?: string;
  refusals?: Refusal[];
  plan?: FailoverPlan;
  history_id?: string;
  newmaster?: string;
  fence?: 'confirmed' | 'unconfirmed';
  automatic?: AutomaticVerdict;
}>;

/** What the failover was decided on: it is called off when any of it changed meanwhile. */
export interface FailoverExpectation {
  master: string | null;
  topologyRevision: number;
}

export interface FailoverOptions {
  preferred: string | null;
  remaster: boolean;
  snapshots?: readonly ReplicaSnapshot[];
  /** The verdict's view of the book; defaults to the book as the failover starts. */
  expect?: FailoverExpectation;
  /** The old master cannot be fenced: repoint every proxy away from it before promoting. */
  proxiesFirst?: boolean;
  /** Decided by HandyRep itself (not an operator): called off while failover is on hold. */
  automatic?: boolean;
}

/** The failover's plan for the given candidate order. */
export function failoverPlan(env: TopologyEnv, oldMaster: string | null, order: readonly string[], options: { remaster: boolean; proxiesFirst: boolean }): PlannedStep[] {
  const config = env.ctx().config;
  return planFailover({
    from: oldMaster,
    candidates: order,
    replicas: enabledReplicas(env, oldMaster !== null ? [oldMaster] : []),
    remaster: options.remaster,
    connectionFailover: config.failover.connection_failover_method !== null,
    extraCommands: Object.keys(config.extra_failover_commands),
    rejoin: config.failover.auto_rejoin && oldMaster !== null && !options.proxiesFirst,
    proxiesFirst: options.proxiesFirst,
  });
}

/** Inside the action queue, right before anything is touched: is the verdict still true? */
async function revalidate(env: TopologyEnv, oldMaster: string | null, expect: FailoverExpectation, automatic: boolean): Promise<{ ok: boolean; details: string }> {
  const hold = automatic ? env.hold() : null;
  if (hold !== null) return { ok: false, details: `automatic failover is on hold: ${hold}` };
  if (oldMaster !== expect.master) return { ok: false, details: `the master changed since the verdict (${expect.master ?? 'none'} → ${oldMaster ?? 'none'})` };
  if (env.book.topologyRevision !== expect.topologyRevision) return { ok: false, details: 'server definitions changed since the verdict (another change ran first)' };
  if (oldMaster === null) return { ok: true, details: 'no master to check' };
  // After a lapse: a full-timeout probe of its port that ended since then and got no answer counts as
  // the fresh poll (silent-master-probes.ts); any other answer, or none usable, and it is polled now.
  if ((await env.recentDatabaseAnswer?.(oldMaster)) === 'no_answer') {
    return { ok: true, details: `the master ${oldMaster} still does not answer (a full-timeout probe of its port that ended after its lease lapsed)` };
  }
  const poll = await env.checks.pollServer(oldMaster);
  if (poll.result === 'SUCCESS') return { ok: false, details: `the master ${oldMaster} answers again: ${poll.details}` };
  return { ok: true, details: `the master ${oldMaster} still fails a fresh poll: ${poll.details}` };
}

export async function runFailover(env: TopologyEnv, reason: string, options: FailoverOptions): Promise<TopologyRd> {
  const oldMaster = env.book.masterName();
  const expect = options.expect ?? { master: oldMaster, topologyRevision: env.book.topologyRevision };
  const automatic = options.automatic ?? false;
  // The same refusal as the episode's, seen from the snapshot: no attempt (no journal, no restart until due).
  if (automatic) {
    const repeated = await quietRepeat(env, { expect, snapshots: options.snapshots, preferred: options.preferred, proxiesFirst: options.proxiesFirst ?? false, revalidate: () => revalidate(env, oldMaster, expect, true) });
    if (repeated !== null) return repeated;
  }
  const refusal = new RefusalFinish(env, automatic, expect);
  const rd = await failoverSteps(env, reason, options, oldMaster, expect, refusal);
  // Any other outcome (or an operator's failover) ends a refusal episode: the next refusal is news.
  if (!refusal.judged) env.refusals?.end();
  return rd;
}

/**
 * How a refused automatic failover is finished: the first of an episode (or a reminder, or a
 * changed refusal) is recorded and alerted, a repeat is logged only (engine/refusal-episode.ts).
 */
class RefusalFinish {
  judged = false;

  constructor(
    private readonly env: TopologyEnv,
    private readonly automatic: boolean,
    private readonly expect: FailoverExpectation,
  ) {}

  /** `restartTried`: the attempt tried to restart the old master (the episode spaces those out). */
  async finish(runner: StepRunner, reasonCode: string, about: string, details: string, restartTried = false): Promise<{ details: string; historyId?: string }> {
    const episodes = this.env.refusals;
    if (!this.automatic || episodes === undefined) return { details, historyId: (await runner.finish('FAIL', details)).id };
    this.judged = true;
    const signature = { master: this.expect.master, reasonCode, about, topologyRevision: this.expect.topologyRevision };
    const verdict = episodes.judge(signature, this.env.clock().getTime(), restartTried);
    const noted = `${details}${refusalNote(verdict)}`;
    const record = await runner.finish('FAIL', noted, { quiet: !verdict.record });
    return verdict.record ? { details: noted, historyId: record.id } : { details: noted };
  }
}

async function failoverSteps(env: TopologyEnv, reason: string, options: FailoverOptions, oldMaster: string | null, expect: FailoverExpectation, refusal: RefusalFinish): Promise<TopologyRd> {
  const proxiesFirst = options.proxiesFirst ?? false;
  const runner = new StepRunner(env, 'failover', reason, oldMaster, null);
  await runner.begin(failoverPlan(env, oldMaster, [], { remaster: options.remaster, proxiesFirst }));

  const valid = await runner.step('revalidate', oldMaster, () => revalidate(env, oldMaster, expect, options.automatic ?? false));
  if (!valid.ok) {
    const record = await runner.finish('FAIL', `failover called off: ${valid.details}`);
    return failure(record.details, { reason_code: 'stale_verdict', history_id: record.id });
  }

  let order: string[] = [];
  let refusals: Refusal[] = [];
  await runner.step('select', null, async () => {
    const snapshots = options.snapshots ?? (await snapshotReplicas(env));
    let warning: string | undefined;
    ({ order, refusals, warning } = await selectCandidates(env, snapshots, { preferred: options.preferred, ignoreLag: false, master: oldMaster }));
    const warned = warning !== undefined ? `; ${warning}` : '';
    // Proxies repointed before the promotion point at one candidate: try that one only.
    if (proxiesFirst) order = order.slice(0, 1);
    return order.length > 0
      ? { ok: true, details: `candidates in order: ${order.join(', ')}${refusals.length ? `; refused: ${describeRefusals(refusals)}` : ''}${warned}` }
      : { ok: false, details: `no candidate: ${describeRefusals(refusals)}${warned}` };
  });
  runner.setPlan(failoverPlan(env, oldMaster, order, { remaster: options.remaster, proxiesFirst }));

  if (order.length === 0) return noCandidate(env, runner, oldMaster, refusals, refusal);

  let fence: FenceResult | null = null;
  let afterFence: Rejudgement | null = null;
  if (oldMaster !== null) {
    const step = await runner.step('fence', oldMaster, async () => {
      fence = await fenceServer(env, oldMaster);
      if (fence.fenced) {
        env.book.putServer(oldMaster, { ...env.book.get(oldMaster), enabled: false, fenced: true, fence_unconfirmed: false }, `fenced before promotion (${fence.how})`);
        afterFence = await judgeAgainAfterFence(env, oldMaster, order, options.preferred, proxiesFirst);
        return { ok: true, details: `${fence.details}${afterFence?.note ?? ''}` };
      }
      if (fence.unreachable && proxiesFirst) {
        env.book.putServer(oldMaster, { ...env.book.get(oldMaster), enabled: false, fenced: true, fence_unconfirmed: true }, 'fence unconfirmed: unreachable; proxies are repointed before the promotion');
        afterFence = await judgeAgainAfterFence(env, oldMaster, order, options.preferred, proxiesFirst);
        return { ok: true, details: `${fence.details}; fence unconfirmed (failover.unreachable_master: promote)${afterFence?.note ?? ''}` };
      }
      return { ok: false, details: fence.details };
    });
    if (!step.ok) {
      const details = `failover aborted: the old master ${oldMaster} cannot be fenced: ${step.details}`;
      env.book.setClusterStatus('warning', details);
      const record = await runner.finish('FAIL', details);
      return failure(details, { reason_code: 'fence_failed', history_id: record.id });
    }
  }
  const fenced = fence as FenceResult | null;
  const fenceState = fenced === null || fenced.fenced ? 'confirmed' : 'unconfirmed';
  runner.setFence(fenceState);
  const rejudged = afterFence as Rejudgement | null;
  if (rejudged !== null && rejudged.order.join(',') !== order.join(',')) {
    order = rejudged.order;
    refusals = rejudged.refusals;
    runner.setPlan(failoverPlan(env, oldMaster, order, { remaster: options.remaster, proxiesFirst }));
    if (order.length === 0) return rollBack(env, runner, oldMaster, [`no candidate once the old master was fenced: ${describeRefusals(refusals)}`]);
  }

  if (proxiesFirst) {
    const first = order[0] as string;
    const problem = await repointProxies(env, runner, first);
    if (problem !== null) {
      // Clients may still reach the old master: promoting now could make two masters in use.
      if (oldMaster !== null) env.book.putServer(oldMaster, { ...env.book.get(oldMaster), enabled: true, fenced: false, fence_unconfirmed: false }, 'failover aborted: proxies could not all be repointed');
      const details = `failover aborted: ${oldMaster ?? 'the old master'} cannot be fenced and the proxies could not all be repointed away from it: ${problem}`;
      env.book.setClusterStatus('warning', details);
      const record = await runner.finish('FAIL', details);
      return failure(details, { reason_code: 'proxies_not_repointed', history_id: record.id });
    }
  }

  const promotion = await promoteFirstCandidate(env, runner, order, refusal);
  if (promotion.kind === 'stopped') return promotion.rd;
  if (promotion.kind === 'none') return rollBack(env, runner, oldMaster, promotion.errors);

  const promoted = promotion.name;
  runner.setTarget(promoted);
  if (promoted !== order[0]) runner.setPlan(failoverPlan(env, oldMaster, [promoted], { remaster: options.remaster, proxiesFirst }));
  recordPromotion(env, oldMaster, promoted, fenceState);
  // As planned: no rejoin after proxies were repointed first (the plan could not know the fence).
  const rejoin = env.ctx().config.failover.auto_rejoin && fenceState === 'confirmed' && !proxiesFirst && oldMaster !== null;
  const problems = await afterPromotion(env, runner, afterPromotionInput(env, oldMaster, promoted, { remaster: options.remaster, rejoin, proxiesDone: proxiesFirst }), true);
  settleClusterStatus(env, problems);
  const unconfirmed = fenceState === 'unconfirmed' ? `; the old master ${oldMaster ?? ''} is NOT confirmed stopped (fence unconfirmed)` : '';
  const details = `failed over from ${oldMaster ?? 'no master'} to ${promoted}${unconfirmed}${finishNote(problems)}`;
  const record = await runner.finish('SUCCESS', details);
  return success(details, { newmaster: promoted, history_id: record.id, fence: fenceState });
}

interface Rejudgement {
  order: string[];
  refusals: Refusal[];
  /** Appended to the fence step's details. */
  note: string;
}

/**
 * Under synchronous_mode the candidates are judged again from positions read after the fence:
 * until it stopped, the old master kept acknowledging commits, and with a quorum (n > k) the
 * member judged furthest ahead before may no longer be. Null when synchronous_mode is off (the
 * positions only rank candidates there, and a second round trip would delay every failover).
 */
async function judgeAgainAfterFence(env: TopologyEnv, oldMaster: string, order: readonly string[], preferred: string | null, proxiesFirst: boolean): Promise<Rejudgement | null> {
  if (env.ctx().config.failover.synchronous_mode === 'off') return null;
  const again = await selectCandidates(env, await snapshotReplicas(env), { preferred, ignoreLag: false, master: oldMaster });
  const next = proxiesFirst ? again.order.slice(0, 1) : again.order;
  const same = next.join(',') === order.join(',');
  const note = same
    ? '; judged again from positions read after the fence: same candidates'
    : `; judged again from positions read after the fence: ${next.length > 0 ? `candidates now ${next.join(', ')}` : 'no candidate'}${again.refusals.length > 0 ? ` (refused: ${describeRefusals(again.refusals)})` : ''}`;
  return { order: next, refusals: again.refusals, note };
}

type Promotion = { kind: 'promoted'; name: string } | { kind: 'none'; errors: string[] } | { kind: 'stopped'; rd: TopologyRd };

/**
 * Promote the candidates in order until one confirms. Before each, no other server may be
 * writable. A candidate whose promotion can be neither confirmed nor cancelled may have been
 * promoted: it is fenced (watched like an old master) and nobody else is promoted.
 */
async function promoteFirstCandidate(env: TopologyEnv, runner: StepRunner, order: readonly string[], refusal: RefusalFinish): Promise<Promotion> {
  const errors: string[] = [];
  for (const candidate of order) {
    let risk: string | null = null;
    // Whether pg_promote was asked at all (a refused master-key write asks nothing: nothing to settle).
    let asked = false;
    const step = await runner.step('promote', candidate, async () => {
      risk = await secondMasterRisk(env, candidate);
      if (risk !== null) return { ok: false, details: `not promoting ${candidate}: ${risk}` };
      const outcome = await promoteAndConfirm(env, candidate);
      asked = outcome.asked;
      return outcome;
    });
    if (step.ok) return { kind: 'promoted', name: candidate };
    if (risk !== null) {
      env.book.setClusterStatus('down', `failover stopped: ${step.details}`);
      const done = await refusal.finish(runner, 'second_master', step.details, `failover stopped: ${step.details}`);
      return { kind: 'stopped', rd: failure(done.details, { reason_code: 'second_master', ...(done.historyId ? { history_id: done.historyId } : {}) }) };
    }
    errors.push(step.details);
    if (!asked) continue;
    let settled = 'uncertain' as PromotionSettlement;
    await runner.step('settle_promotion', candidate, async () => {
      const result = await settlePromotion(env, candidate, 1000);
      settled = result.outcome;
      return { ok: result.outcome !== 'uncertain', details: result.details };
    });
    if (settled === 'promoted') return { kind: 'promoted', name: candidate };
    if (settled === 'uncertain') {
      env.book.putServer(candidate, { ...env.book.get(candidate), enabled: false, fenced: true, fence_unconfirmed: true }, 'fenced: its promotion may have completed out of reach');
      const details = `failover stopped: ${errors.join('; ')}; the promotion of ${candidate} can be neither confirmed nor cancelled, so it is fenced, no other server is promoted and the old master is not restarted`;
      env.book.setClusterStatus('down', details);
      const record = await runner.finish('FAIL', details);
      return { kind: 'stopped', rd: failure(details, { reason_code: 'promotion_uncertain', history_id: record.id }) };
    }
    // Cancelled: it was stopped; bring it back as the standby it still is (best effort).
    await env.nodeControl.startup(candidate).catch(() => undefined);
  }
  return { kind: 'none', errors };
}

async function noCandidate(env: TopologyEnv, runner: StepRunner, oldMaster: string | null, refusals: readonly Refusal[], refusal: RefusalFinish): Promise<TopologyRd> {
  let restarted = 'no old master to restart';
  let restartOk = false;
  if (oldMaster !== null) {
    const restart = await runner.step('restart_old_master', oldMaster, async () => {
      const risk = await secondMasterRisk(env, oldMaster);
      if (risk !== null) return { ok: false, details: `not restarting: ${risk}` };
      const rd = await env.nodeControl.restart(oldMaster);
      return { ok: rd.result === 'SUCCESS', details: rd.details };
    });
    restartOk = restart.ok;
    restarted = restart.ok ? `old master ${oldMaster} restarted` : `old master ${oldMaster} could not be restarted: ${restart.details}`;
  }
  const details = `no viable replica to fail over to (no candidate: ${describeRefusals(refusals)}); ${restarted}`;
  // The same refusal: the same candidates refused for the same reasons (their lag figures aside), the restart likewise.
  const done = await refusal.finish(runner, 'no_candidate', noCandidateAbout(refusals, restartOk), details, oldMaster !== null);
  return failure(done.details, { reason_code: 'no_candidate', refusals: [...refusals], ...(done.historyId ? { history_id: done.historyId } : {}) });
}

/** No candidate could be promoted: bring the old master back, unless another server is writable. */
async function rollBack(env: TopologyEnv, runner: StepRunner, oldMaster: string | null, errors: readonly string[]): Promise<TopologyRd> {
  let rollback = 'no old master to bring back';
  if (oldMaster !== null) {
    const step = await runner.step('rollback', oldMaster, async () => {
      const risk = await secondMasterRisk(env, oldMaster);
      if (risk !== null) return { ok: false, details: `not restarting: ${risk}` };
      const named = await nameOldMasterAgain(env, oldMaster);
      if (!named.ok) return named;
      env.book.putServer(oldMaster, { ...env.book.get(oldMaster), enabled: true, fenced: false, fence_unconfirmed: false }, 'failover failed: old master brought back');
      const rd = await env.nodeControl.startup(oldMaster);
      return { ok: rd.result === 'SUCCESS', details: `${named.details}${rd.details}` };
    });
    rollback = step.ok ? `old master ${oldMaster} restarted` : `old master ${oldMaster} could not be restarted: ${step.details}`;
    env.book.applyStatus(
      oldMaster,
      step.ok ? { status: 'warning', message: 'attempted failover and did not succeed, please check servers' } : { status: 'down', message: 'unable to promote any replica or restart the old master' },
    );
  }
  const details = `unable to promote any replica (${errors.join('; ')}); ${rollback}`;
  const record = await runner.finish('ROLLED_BACK', details);
  return failure(details, { reason_code: 'promotion_failed', history_id: record.id });
}
