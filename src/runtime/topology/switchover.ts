/**
 * Planned switchover (design.md §5.4): stop the healthy master cleanly, wait until the target
 * replayed its final WAL, promote, then the plan's steps after a promotion (proxies, replicas,
 * commands, the old master rejoined without rewind). Loses no acknowledged write; if the target
 * cannot catch up in time the old master is restarted, never beside another writable server.
 */
import { planSwitchover } from '../../engine/failover-steps.js';
import { describeError } from '../../model/errors.js';
import { lsnDiff, parseLsn } from '../../model/lsn.js';
import { failure, success } from '../../model/rd.js';
import { afterPromotion, afterPromotionInput, finishNote, recordPromotion, settleClusterStatus } from './after-promotion.js';
import { assertMayAct, ref, withMonitoringSession, type TopologyEnv } from './env.js';
import { nameOldMasterAgain } from './master-key-again.js';
import type { TopologyRd } from './failover.js';
import { promoteAndConfirm, settlePromotion, type PromotionSettlement } from './promote.js';
import { StepRunner } from './step-runner.js';
import { syncTargetBeforeSwitchover } from '../sync/switchover-sync.js';
import { secondMasterRisk } from './writable-guard.js';

/** The switchover's plan. */
export function switchoverPlan(env: TopologyEnv, from: string, to: string, remaster: boolean): ReturnType<typeof planSwitchover> {
  const after = afterPromotionInput(env, from, to, { remaster, rejoin: true, proxiesDone: false });
  return planSwitchover({ ...after, from });
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
  const deadline = env.clock().getTime() + timeoutMs;
  let last = 'nothing replayed yet';
  for (;;) {
    try {
      const replay = await withMonitoringSession(env, ref(env, name), async (s) =>
        parseLsn((await s.query<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn'))[0]?.lsn ?? null),
      );
      if (replay && lsnDiff(replay, target) > 0) return { ok: true, details: `${name} replayed ${replay}, past the final checkpoint ${lsn}` };
      last = `replayed ${String(replay)}`;
    } catch (err) {
      last = describeError(err);
    }
    if (env.clock().getTime() >= deadline) return { ok: false, details: `${name} did not replay up to ${lsn} within ${timeoutMs} ms (${last})` };
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
  await runner.begin(switchoverPlan(env, oldMaster, target, remaster));
  const timeoutMs = env.ctx().config.failover.switchover_timeout_seconds * 1000;

  const stop = await runner.step('stop_master', oldMaster, async () => {
    const sync = await syncTargetBeforeSwitchover(env, oldMaster, target);
    if (!sync.ok) return { ok: false, details: `not stopping ${oldMaster}: ${sync.details}` };
    const server = ref(env, oldMaster);
    // The catch-up above may take seconds: leadership is checked again right before the stop.
    assertMayAct(env, `clean stop of ${oldMaster}`);
    const outcome = await env.plugins.get('restart', server.restart_method).control(env.ctx(), server, 'stop');
    return outcome.ok ? { ok: true, details: `${sync.details}${outcome.details}` } : { ok: false, details: `clean stop failed: ${outcome.details}` };
  });
  let finalLsn = '';
  const replayed = stop.ok
    ? (await runner.step('final_checkpoint', oldMaster, async () => {
        finalLsn = await finalCheckpoint(env, oldMaster);
        return { ok: true, details: `final checkpoint at ${finalLsn}` };
      })).ok && (await runner.step('wait_replay', target, () => waitReplayed(env, target, finalLsn, timeoutMs))).ok
    : false;
  let promoted = false;
  // Whether pg_promote was asked at all (a refused master-key write asks nothing: nothing to settle).
  let asked = false;
  if (replayed) {
    promoted = (
      await runner.step('promote', target, async () => {
        const risk = await secondMasterRisk(env, target);
        if (risk !== null) return { ok: false, details: `not promoting ${target}: ${risk}` };
        const outcome = await promoteAndConfirm(env, target);
        asked = outcome.asked;
        return outcome;
      })
    ).ok;
  }
  if (replayed && !promoted && asked) {
    // The promotion may still complete: settle it before deciding to restart the old master.
    let settled = 'uncertain' as PromotionSettlement;
    await runner.step('settle_promotion', target, async () => {
      const result = await settlePromotion(env, target, 1000);
      settled = result.outcome;
      return { ok: result.outcome !== 'uncertain', details: result.details };
    });
    if (settled === 'promoted') promoted = true;
    else if (settled === 'uncertain') {
      env.book.putServer(target, { ...env.book.get(target), enabled: false, fenced: true, fence_unconfirmed: true }, 'fenced: its promotion may have completed out of reach');
      const details = `switchover to ${target} stopped: its promotion can be neither confirmed nor cancelled; ${target} is fenced and ${oldMaster} is left stopped`;
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
      const risk = await secondMasterRisk(env, oldMaster);
      if (risk !== null) return { ok: false, details: `not restarting ${oldMaster}: ${risk}` };
      const named = await nameOldMasterAgain(env, oldMaster);
      if (!named.ok) return named;
      assertMayAct(env, `restart of ${oldMaster}`);
      const outcome = await env.plugins.get('restart', server.restart_method).control(env.ctx(), server, 'start');
      if (!outcome.ok) return { ok: false, details: `${named.details}${outcome.details}` };
      await env.checks.verifyServer(oldMaster);
      return { ok: true, details: `${named.details}${oldMaster} restarted as master` };
    });
    const details = `switchover to ${target} aborted: ${runner.record.steps.filter((s) => s.outcome === 'failed' && s.name !== 'rollback').map((s) => s.details).join('; ')}; ${restart.ok ? `${oldMaster} restarted` : `old master not restarted: ${restart.details}`}`;
    const record = await runner.finish('ROLLED_BACK', details);
    return failure(details, { reason_code: 'switchover_aborted', history_id: record.id });
  }

  recordPromotion(env, oldMaster, target);
  const problems = await afterPromotion(env, runner, afterPromotionInput(env, oldMaster, target, { remaster, rejoin: true, proxiesDone: false }), false);
  settleClusterStatus(env, problems);
  const details = `switched over from ${oldMaster} to ${target}${finishNote(problems)}`;
  const record = await runner.finish('SUCCESS', details);
  return success(details, { newmaster: target, history_id: record.id });
}
