/**
 * What follows a confirmed promotion (past the point of no return): the book records the new
 * master, then clients, replicas, post-failover commands and the old master, in the plan's order
 * (engine/failover-steps.ts). Failures here never roll back: they leave the cluster in warning.
 */
import type { AfterPromotionInput } from '../../engine/failover-steps.js';
import { connectionFailover } from '../connection/proxies.js';
import { ref, type TopologyEnv } from './env.js';
import { rejoinAsReplica } from './rejoin.js';
import { remasterReplica } from './remaster.js';
import { enabledReplicas } from './select.js';
import type { StepRunner } from './step-runner.js';

/**
 * Mark the book after a promotion: new master in, old master fenced out (`unconfirmed` when it
 * could not be reached: the cluster stays in warning until it is seen stopped).
 */
export function recordPromotion(env: TopologyEnv, oldMaster: string | null, newMaster: string, fence: 'confirmed' | 'unconfirmed' = 'confirmed'): void {
  if (oldMaster !== null) {
    const old = env.book.get(oldMaster);
    const unconfirmed = fence === 'unconfirmed';
    env.book.putServer(
      oldMaster,
      { ...old, role: 'replica', enabled: false, fenced: true, fence_unconfirmed: unconfirmed },
      `fenced${unconfirmed ? ' (unconfirmed: unreachable)' : ''}: replaced by ${newMaster}; rejoin (pg_rewind) or reclone to use it again`,
    );
    env.book.applyStatus(oldMaster, { status: 'down', message: `fenced old master${unconfirmed ? ' (not confirmed stopped)' : ''}, replaced by ${newMaster}` });
  }
  const promoted = env.book.get(newMaster);
  env.book.putServer(newMaster, { ...promoted, role: 'master', enabled: true, fenced: false, fence_unconfirmed: false }, `promoted to master${oldMaster ? ` replacing ${oldMaster}` : ''}`);
  env.book.applyStatus(newMaster, { status: 'healthy', message: 'promoted to new master' });
}

/** The connection failover step: every proxy pointed at `master`. Null, or the problem. */
export async function repointProxies(env: TopologyEnv, runner: StepRunner, master: string): Promise<string | null> {
  const result = await runner.step('connection_failover', master, async () => {
    const rd = await connectionFailover(env, master);
    return { ok: rd.result === 'SUCCESS', details: rd.details };
  });
  return result.ok ? null : result.details;
}

/** The planning facts of the steps after a promotion of `to`. */
export function afterPromotionInput(env: TopologyEnv, from: string | null, to: string, options: { remaster: boolean; rejoin: boolean; proxiesDone: boolean }): AfterPromotionInput {
  const config = env.ctx().config;
  return {
    to,
    from,
    others: enabledReplicas(env, [to, ...(from !== null ? [from] : [])]),
    remaster: options.remaster,
    connectionFailover: config.failover.connection_failover_method !== null && !options.proxiesDone,
    extraCommands: Object.keys(config.extra_failover_commands),
    rejoin: options.rejoin,
  };
}

/** Runs the post-failover commands not in `alreadyRun`. Returns the problems. */
export async function runExtraCommands(env: TopologyEnv, runner: StepRunner, newMaster: string, oldMaster: string | null, alreadyRun: readonly string[] = []): Promise<string[]> {
  const problems: string[] = [];
  for (const [name, command] of Object.entries(env.ctx().config.extra_failover_commands)) {
    if (alreadyRun.includes(name)) continue;
    const result = await runner.step(`extra_command:${name}`, null, async () => {
      const plugin = env.plugins.get('command', command.command);
      return plugin.run(env.ctx(), { newMaster: ref(env, newMaster), oldMaster }, command.parameters);
    });
    if (!result.ok) problems.push(`post-failover command ${name} failed: ${result.details}`);
  }
  return problems;
}

/** The steps after the point of no return. Returns the notes of what did not work. */
export async function afterPromotion(env: TopologyEnv, runner: StepRunner, input: AfterPromotionInput, rewind: boolean): Promise<string[]> {
  const problems: string[] = [];
  const { to: newMaster, from: oldMaster } = input;
  if (input.connectionFailover) {
    const repointed = await repointProxies(env, runner, newMaster);
    if (repointed !== null) problems.push(repointed);
  }
  if (input.remaster) {
    const results = await Promise.all(input.others.map(async (r) => [r, await runner.step('remaster', r, () => remasterReplica(env, r, newMaster))] as const));
    for (const [r, result] of results) {
      if (!result.ok) {
        problems.push(result.details);
        env.book.applyStatus(r, { status: 'warning', message: `remastering to ${newMaster} failed: ${result.details}` });
      }
    }
  }
  problems.push(...(await runExtraCommands(env, runner, newMaster, oldMaster)));
  if (oldMaster !== null && input.rejoin) {
    const result = await runner.step('rejoin', oldMaster, () => rejoinAsReplica(env, oldMaster, newMaster, rewind));
    if (!result.ok) {
      problems.push(result.details);
      env.book.applyStatus(oldMaster, { status: 'down', message: `fenced old master; ${result.details}` });
    }
  }
  await env.checks.verifyServer(newMaster);
  return problems;
}

export function finishNote(problems: readonly string[]): string {
  return problems.length === 0 ? '' : `; with problems: ${problems.join('; ')}`;
}

/** The cluster status once a change ended: problems leave a healthy-looking cluster in warning. */
export function settleClusterStatus(env: TopologyEnv, problems: readonly string[]): void {
  env.book.recomputeCluster();
  if (problems.length > 0 && env.book.clusterStatus.status === 'healthy') env.book.setClusterStatus('warning', problems.join('; '));
}
