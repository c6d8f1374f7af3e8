/**
 * Failover, switchover and promotion, step by step, in the seed's order with its rollback rules
 * (design.md §5.7): select → fence the old master → promote the first candidate that confirms →
 * (point of no return) → remaster the other replicas → post-failover commands → rejoin the old
 * master. Before the point of no return a failure rolls back (the old master is restarted);
 * after it, failures only degrade the cluster to warning.
 */
import { describeRefusals } from '../../engine/candidates.js';
import type { Refusal } from '../../engine/selection.js';
import { describeError } from '../../model/errors.js';
import type { PromotionSettlement } from './promote.js';
import { lsnDiff, parseLsn } from '../../model/lsn.js';
import { failure, success, type Rd } from '../../model/rd.js';
import { isAvailableStatus } from '../../model/status.js';
import { ref, withSession, type TopologyEnv } from './env.js';
import { candidateFacts, snapshotReplicas, type ReplicaSnapshot } from './facts.js';
import { fenceServer, type FenceResult } from './fence.js';
import { promoteAndConfirm, settlePromotion } from './promote.js';
import { rejoinAsReplica } from './rejoin.js';
import { remasterReplica } from './remaster.js';
import { StepRunner } from './step-runner.js';
import { connectionFailover } from '../connection/proxies.js';

export interface FailoverPlan {
  kind: 'failover' | 'switchover';
  from: string | null;
  to: string | null;
  candidates: string[];
  refusals: Refusal[];
  steps: string[];
}

export type TopologyRd = Rd<{ reason_code?: string; refusals?: Refusal[]; plan?: FailoverPlan; history_id?: string; newmaster?: string }>;

/** Candidate order from the selection plugin, with `preferred` moved first when it is viable. */
async function selectCandidates(
  env: TopologyEnv,
  snapshots: readonly ReplicaSnapshot[],
  options: { preferred: string | null; ignoreLag: boolean },
): Promise<{ order: string[]; refusals: Refusal[] }> {
  const config = env.ctx().config;
  const plugin = env.plugins.get('select', config.failover.selection_method);
  const facts = candidateFacts(env, snapshots).map((c) => (options.ignoreLag ? { ...c, lagMb: null, replayLagBytes: null } : c));
  const result = plugin.select({ candidates: facts, maxReplayLagMb: config.failover.max_replay_lag });
  if (options.preferred === null) return result;
  if (result.order.includes(options.preferred)) {
    return { order: [options.preferred, ...result.order.filter((n) => n !== options.preferred)], refusals: result.refusals };
  }
  return { order: [], refusals: result.refusals.filter((r) => r.name === options.preferred) };
}

function otherReplicas(env: TopologyEnv, except: readonly string[]): string[] {
  return env.book.names().filter((n) => {
    const s = env.book.get(n);
    return s.role === 'replica' && s.enabled && !except.includes(n);
  });
}

/** Mark the book after a promotion: new master in, old master fenced out. */
function recordPromotion(env: TopologyEnv, oldMaster: string | null, newMaster: string): void {
  if (oldMaster !== null) {
    const old = env.book.get(oldMaster);
    env.book.putServer(oldMaster, { ...old, role: 'replica', enabled: false, fenced: true }, `fenced: replaced by ${newMaster}; rejoin (pg_rewind) or reclone to use it again`);
    env.book.applyStatus(oldMaster, { status: 'down', message: `fenced old master, replaced by ${newMaster}` });
  }
  const promoted = env.book.get(newMaster);
  env.book.putServer(newMaster, { ...promoted, role: 'master', enabled: true, fenced: false }, `promoted to master${oldMaster ? ` replacing ${oldMaster}` : ''}`);
  env.book.applyStatus(newMaster, { status: 'healthy', message: 'promoted to new master' });
}

/**
 * The connection failover step, when one is configured: every proxy is pointed at `master`.
 * Returns the problem to report, or null. A failure never rolls back: the promotion stands.
 */
export async function repointProxies(env: TopologyEnv, runner: StepRunner, master: string): Promise<string | null> {
  if (env.ctx().config.failover.connection_failover_method === null) {
    runner.skip('connection_failover', null, 'no connection failover configured');
    return null;
  }
  const result = await runner.step('connection_failover', master, async () => {
    const rd = await connectionFailover(env, master);
    return { ok: rd.result === 'SUCCESS', details: rd.details };
  });
  return result.ok ? null : result.details;
}

/** The steps after the point of no return. Returns the notes of what did not work. */
async function afterPromotion(env: TopologyEnv, runner: StepRunner, oldMaster: string | null, newMaster: string, remaster: boolean, rejoinOld: { rewind: boolean } | null): Promise<string[]> {
  const problems: string[] = [];
  const config = env.ctx().config;
  // Clients first (the original's flowchart order): the proxies point at the new master before
  // the slower remastering of the other replicas.
  const repointed = await repointProxies(env, runner, newMaster);
  if (repointed !== null) problems.push(repointed);
  if (remaster) {
    const others = otherReplicas(env, [newMaster]);
    const results = await Promise.all(others.map(async (r) => [r, await runner.step('remaster', r, () => remasterReplica(env, r, newMaster))] as const));
    for (const [r, result] of results) {
      if (!result.ok) {
        problems.push(result.details);
        env.book.applyStatus(r, { status: 'warning', message: `remastering to ${newMaster} failed: ${result.details}` });
      }
    }
  } else {
    runner.skip('remaster', null, 'remaster is off');
  }
  for (const [name, command] of Object.entries(config.extra_failover_commands)) {
    const result = await runner.step(`extra_command:${name}`, null, async () => {
      const plugin = env.plugins.get('command', command.command);
      return plugin.run(env.ctx(), { newMaster: ref(env, newMaster), oldMaster }, command.parameters);
    });
    if (!result.ok) problems.push(`post-failover command ${name} failed: ${result.details}`);
  }
  if (oldMaster !== null && rejoinOld) {
    const result = await runner.step('rejoin', oldMaster, () => rejoinAsReplica(env, oldMaster, newMaster, rejoinOld.rewind));
    if (!result.ok) {
      problems.push(result.details);
      env.book.applyStatus(oldMaster, { status: 'down', message: `fenced old master; ${result.details}` });
    }
  }
  await env.checks.verifyServer(newMaster);
  return problems;
}

function finishNote(problems: string[]): string {
  return problems.length === 0 ? '' : `; with problems: ${problems.join('; ')}`;
}

/**
 * Failover away from a failed (or operator-abandoned) master. `preferred` puts a chosen replica
 * first; `snapshots` may reuse facts the detection just gathered.
 */
export async function runFailover(
  env: TopologyEnv,
  reason: string,
  options: { preferred: string | null; remaster: boolean; snapshots?: readonly ReplicaSnapshot[] },
): Promise<TopologyRd> {
  const oldMaster = env.book.masterName();
  const runner = new StepRunner(env, 'failover', reason, oldMaster, null);
  await runner.begin();

  let order: string[] = [];
  let refusals: Refusal[] = [];
  await runner.step('select', null, async () => {
    const snapshots = options.snapshots ?? (await snapshotReplicas(env));
    ({ order, refusals } = await selectCandidates(env, snapshots, { preferred: options.preferred, ignoreLag: false }));
    return order.length > 0
      ? { ok: true, details: `candidates in order: ${order.join(', ')}${refusals.length ? `; refused: ${describeRefusals(refusals)}` : ''}` }
      : { ok: false, details: `no candidate: ${describeRefusals(refusals)}` };
  });

  if (order.length === 0) {
    let restarted = 'no old master to restart';
    if (oldMaster !== null) {
      const restart = await runner.step('restart_old_master', oldMaster, async () => {
        const rd = await env.nodeControl.restart(oldMaster);
        return { ok: rd.result === 'SUCCESS', details: rd.details };
      });
      restarted = restart.ok ? `old master ${oldMaster} restarted` : `old master ${oldMaster} could not be restarted: ${restart.details}`;
    }
    const details = `no viable replica to fail over to (no candidate: ${describeRefusals(refusals)}); ${restarted}`;
    const record = await runner.finish('FAIL', details);
    return failure(details, { reason_code: 'no_candidate', refusals, history_id: record.id });
  }

  let fence: FenceResult | null = null;
  if (oldMaster !== null) {
    const step = await runner.step('fence', oldMaster, async () => {
      fence = await fenceServer(env, oldMaster);
      if (fence.fenced) env.book.putServer(oldMaster, { ...env.book.get(oldMaster), enabled: false, fenced: true }, `fenced before promotion (${fence.how})`);
      return { ok: fence.fenced, details: fence.details };
    });
    if (!step.ok) {
      const details = `failover aborted: the old master ${oldMaster} cannot be fenced: ${step.details}`;
      const record = await runner.finish('FAIL', details);
      return failure(details, { reason_code: 'fence_failed', history_id: record.id });
    }
  }

  let promoted: string | null = null;
  const promoteErrors: string[] = [];
  for (const candidate of order) {
    const step = await runner.step('promote', candidate, () => promoteAndConfirm(env, candidate));
    if (step.ok) {
      promoted = candidate;
      break;
    }
    promoteErrors.push(step.details);
    // Never leave a pending promotion behind while trying the next candidate.
    let settled = 'uncertain' as PromotionSettlement;
    await runner.step('settle_promotion', candidate, async () => {
      const result = await settlePromotion(env, candidate, 1000);
      settled = result.outcome;
      return { ok: result.outcome !== 'uncertain', details: result.details };
    });
    if (settled === 'promoted') {
      promoted = candidate;
      break;
    }
    if (settled === 'uncertain') {
      const details = `failover stopped: ${promoteErrors.join('; ')}; the promotion of ${candidate} can be neither confirmed nor cancelled, so no other server is promoted and the old master is not restarted`;
      env.book.setClusterStatus('down', details);
      const record = await runner.finish('FAIL', details);
      return failure(details, { reason_code: 'promotion_uncertain', history_id: record.id });
    }
    // Cancelled: it was stopped; bring it back as the standby it still is (best effort).
    await env.nodeControl.startup(candidate).catch(() => undefined);
  }

  if (promoted === null) {
    let rollback = 'no old master to bring back';
    if (oldMaster !== null) {
      const step = await runner.step('rollback', oldMaster, async () => {
        env.book.putServer(oldMaster, { ...env.book.get(oldMaster), enabled: true, fenced: false }, 'failover failed: old master brought back');
        const rd = await env.nodeControl.startup(oldMaster);
        return { ok: rd.result === 'SUCCESS', details: rd.details };
      });
      rollback = step.ok ? `old master ${oldMaster} restarted` : `old master ${oldMaster} could not be restarted: ${step.details}`;
      env.book.applyStatus(oldMaster, step.ok
        ? { status: 'warning', message: 'attempted failover and did not succeed, please check servers' }
        : { status: 'down', message: 'unable to promote any replica or restart the old master' });
    }
    const details = `unable to promote any replica (${promoteErrors.join('; ')}); ${rollback}`;
    const record = await runner.finish('ROLLED_BACK', details);
    return failure(details, { reason_code: 'promotion_failed', history_id: record.id });
  }

  runner.setTarget(promoted);
  recordPromotion(env, oldMaster, promoted);
  const fenced = fence as FenceResult | null;
  const canRejoin = env.ctx().config.failover.auto_rejoin && fenced !== null && fenced.fenced && fenced.how !== 'unreachable';
  const problems = await afterPromotion(env, runner, oldMaster, promoted, options.remaster, canRejoin ? { rewind: true } : null);
  env.book.recomputeCluster();
  if (problems.length > 0 && env.book.clusterStatus.status === 'healthy') env.book.setClusterStatus('warning', problems.join('; '));
  const details = `failed over from ${oldMaster ?? 'no master'} to ${promoted}${finishNote(problems)}`;
  const record = await runner.finish('SUCCESS', details);
  return success(details, { newmaster: promoted, history_id: record.id });
}

/** The shutdown checkpoint location of a cleanly stopped server, from pg_controldata on its node. */
async function finalCheckpoint(env: TopologyEnv, name: string): Promise<string> {
  const server = ref(env, name);
  const result = await env.ctx().shellFor(server).run([`${server.pg_bin_dir}/pg_controldata`, '-D', server.pgdata], { timeoutMs: 15000 });
  if (result.exitCode !== 0) throw new Error(`pg_controldata exited ${String(result.exitCode)}: ${result.stderr.trim()}`);
  const state = /^Database cluster state:\s*(.+)$/m.exec(result.stdout)?.[1]?.trim();
  if (state !== 'shut down') throw new Error(`${name} did not shut down cleanly (cluster state: ${String(state)})`);
  const lsn = parseLsn(/^Latest checkpoint location:\s*(\S+)$/m.exec(result.stdout)?.[1] ?? null);
  if (!lsn) throw new Error('pg_controldata shows no checkpoint location');
  return lsn;
}

/** Wait until `name` has replayed past `lsn` (its replay position is the end of the last record). */
async function waitReplayed(env: TopologyEnv, name: string, lsn: string, timeoutMs: number): Promise<{ ok: boolean; details: string }> {
  const target = parseLsn(lsn);
  if (!target) return { ok: false, details: `bad LSN ${lsn}` };
  const deadline = Date.now() + timeoutMs;
  let last = 'nothing replayed yet';
  for (;;) {
    try {
      const replay = await withSession(env, ref(env, name), async (s) =>
        parseLsn((await s.query<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn'))[0]?.lsn ?? null),
      );
      if (replay && lsnDiff(replay, target) > 0) return { ok: true, details: `${name} replayed ${replay}, past the final checkpoint ${lsn}` };
      last = `replayed ${String(replay)}`;
    } catch (err) {
      last = describeError(err);
    }
    if (Date.now() >= deadline) return { ok: false, details: `${name} did not replay up to ${lsn} within ${timeoutMs} ms (${last})` };
    await env.sleep(20);
  }
}

/**
 * Planned switchover (design.md §5.4): stop the healthy master cleanly, wait until the target
 * replayed its final WAL, promote, rejoin the old master as a replica without rewind. Loses no
 * acknowledged write; if the target cannot catch up in time the old master is restarted.
 */
export async function runSwitchover(env: TopologyEnv, target: string, remaster: boolean): Promise<TopologyRd> {
  const oldMaster = env.book.masterName();
  if (oldMaster === null) return failure('switchover needs a running master', { reason_code: 'no_master' });
  const runner = new StepRunner(env, 'switchover', `switchover from ${oldMaster} to ${target} requested`, oldMaster, target);
  await runner.begin();
  const timeoutMs = env.ctx().config.failover.switchover_timeout_seconds * 1000;

  const stop = await runner.step('stop_master', oldMaster, async () => {
    const server = ref(env, oldMaster);
    const outcome = await env.plugins.get('restart', server.restart_method).control(env.ctx(), server, 'stop');
    return outcome.ok ? { ok: true, details: outcome.details } : { ok: false, details: `clean stop failed: ${outcome.details}` };
  });
  let finalLsn = '';
  const replayed = stop.ok
    ? (await runner.step('final_checkpoint', oldMaster, async () => {
        finalLsn = await finalCheckpoint(env, oldMaster);
        return { ok: true, details: `final checkpoint at ${finalLsn}` };
      })).ok && (await runner.step('wait_replay', target, () => waitReplayed(env, target, finalLsn, timeoutMs))).ok
    : false;
  let promoted = replayed ? (await runner.step('promote', target, () => promoteAndConfirm(env, target))).ok : false;
  if (replayed && !promoted) {
    // The promotion may still complete: settle it before deciding to restart the old master.
    let settled = 'uncertain' as PromotionSettlement;
    await runner.step('settle_promotion', target, async () => {
      const result = await settlePromotion(env, target, 1000);
      settled = result.outcome;
      return { ok: result.outcome !== 'uncertain', details: result.details };
    });
    if (settled === 'promoted') promoted = true;
    else if (settled === 'uncertain') {
      const details = `switchover to ${target} stopped: its promotion can be neither confirmed nor cancelled; ${oldMaster} is left stopped`;
      env.book.setClusterStatus('down', details);
      const record = await runner.finish('FAIL', details);
      return failure(details, { reason_code: 'promotion_uncertain', history_id: record.id });
    } else {
      await env.nodeControl.startup(target).catch(() => undefined);
    }
  }

  if (!promoted) {
    const restart = await runner.step('rollback', oldMaster, async () => {
      const server = ref(env, oldMaster);
      // The target may have been promoted after all (a confirmation timeout): never start a second master.
      const targetWritable = await withSession(env, ref(env, target), async (s) => (await s.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === false).catch(() => false);
      if (targetWritable) return { ok: false, details: `${target} is writable; not restarting ${oldMaster}` };
      const outcome = await env.plugins.get('restart', server.restart_method).control(env.ctx(), server, 'start');
      if (!outcome.ok) return { ok: false, details: outcome.details };
      await env.checks.verifyServer(oldMaster);
      return { ok: true, details: `${oldMaster} restarted as master` };
    });
    const details = `switchover to ${target} aborted: ${runner.record.steps.filter((s) => s.outcome === 'failed' && s.name !== 'rollback').map((s) => s.details).join('; ')}; ${restart.ok ? `${oldMaster} restarted` : `old master not restarted: ${restart.details}`}`;
    const record = await runner.finish('ROLLED_BACK', details);
    return failure(details, { reason_code: 'switchover_aborted', history_id: record.id });
  }

  recordPromotion(env, oldMaster, target);
  const problems = await afterPromotion(env, runner, oldMaster, target, remaster, { rewind: false });
  env.book.recomputeCluster();
  if (problems.length > 0 && env.book.clusterStatus.status === 'healthy') env.book.setClusterStatus('warning', problems.join('; '));
  const details = `switched over from ${oldMaster} to ${target}${finishNote(problems)}`;
  const record = await runner.finish('SUCCESS', details);
  return success(details, { newmaster: target, history_id: record.id });
}

/** manual_failover: a switchover when the master is healthy, a failover when it is not; or only the plan. */
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
  const unchecked = otherReplicas(env, []).filter((n) => env.book.get(n).status === 'unknown');
  await Promise.all(unchecked.map((n) => env.checks.verifyServer(n)));
  const snapshots = await snapshotReplicas(env);
  const { order, refusals } = await selectCandidates(env, snapshots, { preferred: newmaster, ignoreLag: masterUp });
  const kind = masterUp ? 'switchover' : 'failover';
  const target = order[0] ?? null;
  const others = target ? otherReplicas(env, [target]) : [];
  const steps = masterUp
    ? ['stop_master', 'final_checkpoint', 'wait_replay', `promote ${target ?? '?'}`, `rejoin ${master ?? '?'}`, ...(remaster ? others.map((r) => `remaster ${r}`) : [])]
    : ['select', `fence ${master ?? '(none)'}`, ...order.map((c) => `promote ${c} (if the previous failed)`), ...(remaster ? others.map((r) => `remaster ${r}`) : [])];
  const plan: FailoverPlan = { kind, from: master, to: target, candidates: order, refusals, steps };
  if (target === null) {
    const why = newmaster !== null && refusals.length > 0 ? describeRefusals(refusals) : `no candidate: ${describeRefusals(refusals)}`;
    return failure(`${dryRun ? 'dry run: ' : ''}cannot fail over: ${why}`, { reason_code: 'no_candidate', refusals, plan });
  }
  if (dryRun) return success(`dry run: would ${kind} from ${master ?? 'no master'} to ${target}`, { plan, refusals });
  if (masterUp) return runSwitchover(env, target, remaster);
  return runFailover(env, `manual_failover requested while the master ${master ?? '(none)'} is not running`, { preferred: newmaster, remaster, snapshots });
}

/** promote(newmaster): promote one replica; refused while the current master is running. */
export async function runPromote(env: TopologyEnv, name: string): Promise<TopologyRd> {
  const record = env.book.get(name);
  if (record.role !== 'replica') return failure(`${name} is not a replica (role ${record.role})`, { reason_code: 'not_replica' });
  const master = env.book.masterName();
  if (master !== null && (await env.checks.pollServer(master)).result === 'SUCCESS') {
    return failure(`the master ${master} is running: promoting ${name} would make two masters; use manual_failover`, { reason_code: 'master_running' });
  }
  const runner = new StepRunner(env, 'promote', `promote ${name} requested`, master, name);
  await runner.begin();
  if (master !== null) {
    const fence = await runner.step('fence', master, async () => {
      const result = await fenceServer(env, master);
      return { ok: result.fenced, details: result.details };
    });
    if (!fence.ok) {
      const done = await runner.finish('FAIL', `not promoting ${name}: ${fence.details}`);
      return failure(done.details, { reason_code: 'fence_failed', history_id: done.id });
    }
  }
  const step = await runner.step('promote', name, () => promoteAndConfirm(env, name));
  if (!step.ok) {
    const done = await runner.finish('FAIL', step.details);
    return failure(done.details, { reason_code: 'promotion_failed', history_id: done.id });
  }
  recordPromotion(env, master, name);
  env.book.recomputeCluster();
  const done = await runner.finish('SUCCESS', `${name} promoted to master`);
  return success(done.details, { newmaster: name, history_id: done.id });
}
