/**
 * Start-up after a controller died mid-change: the journal says which change and which step was
 * running; the servers say what actually happened. Ends with exactly one master:
 *  - a server other than the old master accepts writes → the promotion happened: roll forward
 *    (record it, fence the old master if it is writable too, remaster the rest);
 *  - only the old master accepts writes → nothing irreversible happened: keep it (roll back);
 *  - nobody accepts writes → a switchover restarts the old master; a failover runs again.
 */
import type { FailoverRecord } from '../../model/failover-record.js';
import { failure, success } from '../../model/rd.js';
import { acceptsWrites, fenceServer } from './fence.js';
import type { TopologyEnv } from './env.js';
import { repointProxies, runFailover, type TopologyRd } from './failover.js';
import { remasterReplica } from './remaster.js';
import { settlePromotion } from './promote.js';
import { StepRunner } from './step-runner.js';

export async function recoverInterrupted(env: TopologyEnv, interrupted: FailoverRecord): Promise<TopologyRd> {
  const running = interrupted.steps.filter((s) => s.outcome === 'running').map((s) => `${s.name}${s.server ? ` ${s.server}` : ''}`);
  const where = running.length > 0 ? `during step ${running.join(', ')}` : `after step ${interrupted.steps.at(-1)?.name ?? '(none)'}`;
  env.book.addHistory({ ...interrupted, outcome: 'FAIL', finished: env.clock().toISOString(), details: `interrupted ${where}: the controller stopped` });

  const runner = new StepRunner(env, 'recovery', `recovering the ${interrupted.kind} ${interrupted.id} interrupted ${where}`, interrupted.from, null);
  await runner.begin();
  // A promotion that was running or failed may still complete: settle each before looking.
  const pending = [...new Set(interrupted.steps.filter((s) => s.name === 'promote' && s.outcome !== 'ok' && s.server !== null).map((s) => s.server as string))];
  for (const candidate of pending) {
    let cancelled = false;
    const settled = await runner.step('settle_promotion', candidate, async () => {
      const result = await settlePromotion(env, candidate, env.ctx().config.failover.promote_timeout_seconds * 1000);
      cancelled = result.outcome === 'cancelled';
      return { ok: result.outcome !== 'uncertain', details: result.details };
    });
    // A cancelled promotion left the server stopped; it is still a standby: start it again.
    if (cancelled) await env.nodeControl.startup(candidate).catch(() => undefined);
    if (!settled.ok) {
      env.book.setClusterStatus('down', settled.details);
      const record = await runner.finish('FAIL', `cannot recover safely: ${settled.details}`);
      return failure(record.details, { reason_code: 'promotion_uncertain', history_id: record.id });
    }
  }
  const names = env.book.names().filter((n) => {
    const s = env.book.get(n);
    return s.role === 'master' || s.role === 'replica' || n === interrupted.from;
  });
  const writable = (await Promise.all(names.map(async (n) => [n, await acceptsWrites(env, n)] as const))).filter(([, w]) => w === true).map(([n]) => n);
  const from = interrupted.from;
  const promoted = writable.filter((n) => n !== from);

  if (promoted.length > 0) {
    // Prefer the journal's target; several writable candidates cannot happen through HandyRep.
    const newMaster = interrupted.to !== null && promoted.includes(interrupted.to) ? interrupted.to : (promoted[0] as string);
    runner.setTarget(newMaster);
    if (from !== null && writable.includes(from)) {
      const fence = await runner.step('fence', from, async () => {
        const result = await fenceServer(env, from);
        return { ok: result.fenced, details: result.details };
      });
      if (!fence.ok) {
        env.book.setClusterStatus('down', `two writable masters (${from}, ${newMaster}) and ${from} cannot be fenced`);
        const record = await runner.finish('FAIL', `two writable masters: ${fence.details}`);
        return failure(record.details, { reason_code: 'split_brain', history_id: record.id });
      }
    }
    if (from !== null && from !== newMaster) {
      env.book.putServer(from, { ...env.book.get(from), role: 'replica', enabled: false, fenced: true }, `fenced: replaced by ${newMaster} (recovered)`);
    }
    env.book.putServer(newMaster, { ...env.book.get(newMaster), role: 'master', enabled: true, fenced: false }, 'master (recovered after an interrupted change)');
    if (env.ctx().config.failover.remaster) {
      for (const r of env.book.names().filter((n) => env.book.get(n).role === 'replica' && env.book.get(n).enabled && n !== newMaster)) {
        await runner.step('remaster', r, () => remasterReplica(env, r, newMaster));
      }
    }
    await repointProxies(env, runner, newMaster);
    await env.checks.verifyAll();
    const record = await runner.finish('SUCCESS', `rolled forward: ${newMaster} is the master`);
    return success(record.details, { newmaster: newMaster, history_id: record.id });
  }

  if (from !== null && writable.includes(from)) {
    env.book.putServer(from, { ...env.book.get(from), role: 'master', enabled: true, fenced: false }, 'still the master (recovered after an interrupted change)');
    await env.checks.verifyAll();
    const record = await runner.finish('ROLLED_BACK', `rolled back: ${from} is still the master`);
    return success(record.details, { newmaster: from, history_id: record.id });
  }

  if (interrupted.kind === 'switchover' && from !== null) {
    env.book.putServer(from, { ...env.book.get(from), role: 'master', enabled: true, fenced: false }, 'restarting after an interrupted switchover');
    const start = await runner.step('restart_old_master', from, async () => {
      const rd = await env.nodeControl.startup(from);
      return { ok: rd.result === 'SUCCESS', details: rd.details };
    });
    const record = await runner.finish(start.ok ? 'ROLLED_BACK' : 'FAIL', start.ok ? `rolled back: ${from} restarted as master` : start.details);
    return start.ok ? success(record.details, { newmaster: from, history_id: record.id }) : failure(record.details, { history_id: record.id });
  }

  const record = await runner.finish('FAIL', 'no writable server: running the failover again');
  const again = await runFailover(env, `resuming the ${interrupted.kind} ${interrupted.id} (${record.id})`, { preferred: interrupted.to, remaster: env.ctx().config.failover.remaster });
  return again;
}
