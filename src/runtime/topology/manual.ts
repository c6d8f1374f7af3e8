/**
 * Operator-started changes: manual_failover (a switchover when the master is healthy, a failover
 * when it is not, or only the plan with dry_run) and promote. The dry-run plan is built by the
 * same functions the executors follow.
 */
import { describeRefusals } from '../../engine/candidates.js';
import { describePlan, expectedPath, planPromote } from '../../engine/failover-steps.js';
import { failure, success } from '../../model/rd.js';
import { isAvailableStatus } from '../../model/status.js';
import { recordPromotion } from './after-promotion.js';
import type { TopologyEnv } from './env.js';
import { snapshotReplicas } from './facts.js';
import { failoverPlan, runFailover, type AutomaticVerdict, type FailoverPlan, type TopologyRd } from './failover.js';
import { judgeMaster } from '../failover-check.js';
import { fenceServer } from './fence.js';
import { promoteAndConfirm } from './promote.js';
import { enabledReplicas, selectCandidates, syncVerdictNow } from './select.js';
import { StepRunner } from './step-runner.js';
import { runSwitchover, switchoverPlan } from './switchover.js';
import { secondMasterRisk } from './writable-guard.js';

export async function runManualFailover(env: TopologyEnv, newmaster: string | null, remaster: boolean, dryRun: boolean): Promise<TopologyRd> {
  if (newmaster !== null) {
    const wanted = env.book.get(newmaster);
    if (wanted.role !== 'replica' || !wanted.enabled || wanted.fenced) {
      const what = wanted.fenced ? 'a fenced old master' : !wanted.enabled ? 'disabled' : `a ${wanted.role}, not a replica`;
      return failure(`cannot fail over to ${newmaster}: it is ${what}`, { reason_code: 'not_candidate' });
    }
  }
  const master = env.book.masterName();
  const masterUp = master !== null && (await env.checks.pollServer(master)).result === 'SUCCESS' && isAvailableStatus(env.book.get(master).status);
  // Candidates are judged by their verified status: check the ones never verified (just started).
  const unchecked = enabledReplicas(env).filter((n) => env.book.get(n).status === 'unknown');
  await Promise.all(unchecked.map((n) => env.checks.verifyServer(n)));
  const snapshots = await snapshotReplicas(env);
  const { order, refusals } = await selectCandidates(env, snapshots, { preferred: newmaster, ignoreLag: masterUp, sync: masterUp ? 'prefer' : 'restrict', master });
  const kind = masterUp ? 'switchover' : 'failover';
  const target = order[0] ?? null;
  const steps =
    target === null ? [] : masterUp && master !== null ? switchoverPlan(env, master, target, remaster) : failoverPlan(env, master, order, { remaster, proxiesFirst: false });
  const plan: FailoverPlan = { kind, from: master, to: target, candidates: order, refusals, steps: expectedPath(steps) };
  if (target === null) {
    const why = newmaster !== null && refusals.length > 0 ? describeRefusals(refusals) : `no candidate: ${describeRefusals(refusals)}`;
    return failure(`${dryRun ? 'dry run: ' : ''}cannot fail over: ${why}`, { reason_code: 'no_candidate', refusals, plan });
  }
  if (dryRun) {
    // With the master down, also say what the automatic check would decide (the same decision).
    const automatic = !masterUp && master !== null ? await automaticVerdict(env, master) : undefined;
    const note = automatic ? `; the automatic check would ${automatic.action === 'failover' ? 'fail over' : `not fail over (${automatic.reason_code})`}` : '';
    return success(`dry run: would ${kind} from ${master ?? 'no master'} to ${target}: ${describePlan(steps).join(' → ')}${note}`, { plan, refusals, ...(automatic ? { automatic } : {}) });
  }
  if (masterUp) return runSwitchover(env, target, remaster);
  return runFailover(env, `manual_failover requested while the master ${master ?? '(none)'} is not running`, { preferred: newmaster, remaster, snapshots });
}

async function automaticVerdict(env: TopologyEnv, master: string): Promise<AutomaticVerdict> {
  const { decision } = await judgeMaster(env, master, {
    paused: env.hold() !== null,
    plannedDown: false,
    restartTried: false,
    expect: { master, topologyRevision: env.book.topologyRevision },
    record: false,
  });
  return { action: decision.action, reason_code: decision.reason_code, reason: decision.reason };
}

/** promote(newmaster): promote one replica; refused while the current master is running. */
export async function runPromote(env: TopologyEnv, name: string): Promise<TopologyRd> {
  const record = env.book.get(name);
  if (record.role !== 'replica') return failure(`${name} is not a replica (role ${record.role})`, { reason_code: 'not_replica' });
  const master = env.book.masterName();
  if (master !== null && (await env.checks.pollServer(master)).result === 'SUCCESS') {
    return failure(`the master ${master} is running: promoting ${name} would make two masters; use manual_failover`, { reason_code: 'master_running' });
  }
  // The synchronous rule of a failover holds for a promotion by hand too: refused before anything is touched.
  const before = await syncVerdictNow(env, name, master);
  if (!before.allowed) {
    env.log.warn('SYNC', `promote ${name} refused: ${before.reason}`, name);
    return failure(`cannot promote ${name}: ${before.reason}`, { reason_code: before.code });
  }
  const runner = new StepRunner(env, 'promote', `promote ${name} requested`, master, name);
  await runner.begin(planPromote({ from: master, to: name }));
  let refusal: { code: string; reason: string } | null = null;
  if (master !== null) {
    const fence = await runner.step('fence', master, async () => {
      const result = await fenceServer(env, master);
      if (!result.fenced) return { ok: false, details: result.details };
      // Judged again from positions read after the fence: the old master may have acknowledged commits since.
      const after = await syncVerdictNow(env, name, master);
      if (after.allowed) return { ok: true, details: result.details };
      refusal = { code: after.code, reason: after.reason };
      return { ok: false, details: `${result.details}; judged again after the fence: ${after.reason}` };
    });
    if (!fence.ok) {
      const refused = refusal as { code: string; reason: string } | null;
      const details = refused === null ? `not promoting ${name}: ${fence.details}` : `not promoting ${name}: ${refused.reason}; the old master ${master} is left stopped`;
      const done = await runner.finish('FAIL', details);
      return failure(done.details, { reason_code: refused === null ? 'fence_failed' : refused.code, history_id: done.id });
    }
  }
  const step = await runner.step('promote', name, async () => {
    const risk = await secondMasterRisk(env, name);
    if (risk !== null) return { ok: false, details: `not promoting ${name}: ${risk}` };
    const promoted = await promoteAndConfirm(env, name);
    return before.warning === null ? promoted : { ...promoted, details: `${promoted.details}; ${before.warning}` };
  });
  if (!step.ok) {
    const done = await runner.finish('FAIL', step.details);
    return failure(done.details, { reason_code: 'promotion_failed', history_id: done.id });
  }
  recordPromotion(env, master, name);
  env.book.recomputeCluster();
  const done = await runner.finish('SUCCESS', `${name} promoted to master`);
  return success(done.details, { newmaster: name, history_id: done.id });
}
