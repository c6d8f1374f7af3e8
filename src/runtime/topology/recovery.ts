/**
 * Start-up after a controller died mid-change: the journal says which change and which step was
 * running; the servers say what actually happened. Ends with at most one master:
 *  - the journal records a confirmed promotion, or exactly one server other than the old master
 *    accepts writes → roll forward to it (record it, fence the old master if it is writable too,
 *    remaster the rest, repoint the proxies, run the post-failover commands the change had not
 *    run), even when the confirmed one does not answer now; an interrupted adoption of an agents'
 *    master rolls forward to what the adoption records (no remaster: the agents do it);
 *  - an old master fenced before this change that is writable again is fenced, never adopted;
 *  - two promoted servers → stop with FAIL and an alert (never pick one and leave the other);
 *  - only the old master accepts writes → nothing irreversible happened: keep it (roll back);
 *  - nobody accepts writes → a switchover restarts the old master; a failover is judged again
 *    exactly as failover_check would (retries, vantage points, reach): restarted cut off from a
 *    master the replicas still see, the controller does not promote.
 * Which way is a pure decision (engine/roll-forward.ts); whichever, any other enabled master of the
 * book is recorded as replaced in the same synchronous write as the master kept, and a recovery's
 * own journal names the target it chose and the kind it recovers, for a recovery interrupted in turn.
 */
import type { FailoverRecord, TopologyChangeKind } from '../../model/failover-record.js';
import { failure, success } from '../../model/rd.js';
import { isDatabaseRole } from '../../model/server.js';
import { stepSpec } from '../../engine/failover-steps.js';
import { decideRollForward, journalProvenTarget, recoveredKind } from '../../engine/roll-forward.js';
import type { OldMasterFate } from '../../engine/agents-master-adoption.js';
import { runExtraCommands, repointProxies } from './after-promotion.js';
import { recordAdoptedOldMaster, recordAdoption } from './adopt-agents-master.js';
import type { TopologyEnv } from './env.js';
import { nameOldMasterAgain } from './master-key-again.js';
import { runFailover, type FailoverExpectation, type TopologyRd } from './failover.js';
import { acceptsWrites, fenceServer } from './fence.js';
import { oldMasterFateNow } from './old-master-fate.js';
import { remasterReplica } from './remaster.js';
import { settlePromotion } from './promote.js';
import { enabledReplicas } from './select.js';
import { StepRunner } from './step-runner.js';
import { secondMasterRisk } from './writable-guard.js';
import type { Judgement } from '../failover-check.js';
import { restoreSyncAfterInterruptedPromotion } from '../sync/promotion-sync.js';

/** The decision of failover_check for `master` (retries included), as recovery needs it. */
export type JudgeMaster = (master: string, expect: FailoverExpectation) => Promise<Judgement | { reachable: true; details: string }>;

/** The recovery's own plan, set once it knows which way it goes. */
function rollForwardPlan(env: TopologyEnv, from: string | null, to: string, fenceFrom: boolean, commands: readonly string[], remaster: boolean): { name: string; server: string | null }[] {
  const config = env.ctx().config;
  return [
    ...(fenceFrom && from !== null ? [{ name: 'fence', server: from }] : []),
    ...(remaster ? enabledReplicas(env, [to, ...(from !== null ? [from] : [])]).map((r) => ({ name: 'remaster', server: r })) : []),
    ...(config.failover.connection_failover_method !== null ? [{ name: 'connection_failover', server: to }] : []),
    ...commands.map((c) => ({ name: `extra_command:${c}`, server: null })),
  ];
}

/** Servers the interrupted change tried to promote or adopt (a recovery's settle steps and its chosen target included). */
function candidatesOf(interrupted: FailoverRecord): string[] {
  const proven = journalProvenTarget(interrupted);
  const tried = interrupted.steps.filter((s) => (s.name === 'settle_promotion' || stepSpec(s.name)?.provesTarget !== undefined) && s.server !== null).map((s) => s.server as string);
  return [...new Set([...tried, ...(proven !== null ? [proven] : [])])];
}

async function settlePending(env: TopologyEnv, runner: StepRunner, interrupted: FailoverRecord): Promise<TopologyRd | null> {
  // A promotion that was running or failed may still complete: settle each before looking. A
  // recovery that was itself interrupted left its settle steps, which count the same.
  const confirmed = journalProvenTarget(interrupted);
  const pending = [
    ...new Set(
      interrupted.steps
        .filter((s) => (s.name === 'promote' || s.name === 'settle_promotion') && s.outcome !== 'ok' && s.server !== null && s.server !== confirmed)
        .map((s) => s.server as string),
    ),
  ];
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
      env.book.putServer(candidate, { ...env.book.get(candidate), enabled: false, fenced: true, fence_unconfirmed: true }, 'fenced: its promotion may have completed out of reach');
      // The old master keeps whatever fence the interrupted change gave it: unfenced, it could
      // come back writable (a reboot) unwatched while the candidate may be writable out of reach.
      env.book.setClusterStatus('down', settled.details);
      const record = await runner.finish('FAIL', `cannot recover safely: ${settled.details}`);
      return failure(record.details, { reason_code: 'promotion_uncertain', history_id: record.id });
    }
  }
  return null;
}

/**
 * The book's other enabled masters, as seen now (none answers writable: that would have been a
 * split brain): each is recorded as the change's old master is, in the same synchronous book write
 * as the master kept, so no save ever holds two enabled masters.
 */
async function fatesOf(env: TopologyEnv, names: readonly string[]): Promise<[string, OldMasterFate][]> {
  return Promise.all(names.map(async (n) => [n, await oldMasterFateNow(env, n)] as [string, OldMasterFate]));
}

/** An old master replaced by `master`, in the book: the adoption's rule for an adoption, else a failover's fence. */
function recordReplaced(env: TopologyEnv, adoption: boolean, name: string, master: string, fate: OldMasterFate, why: string): void {
  if (adoption) return recordAdoptedOldMaster(env, name, master, fate);
  const unconfirmed = fate === 'unconfirmed';
  env.book.putServer(name, { ...env.book.get(name), role: 'replica', enabled: false, fenced: true, fence_unconfirmed: unconfirmed }, `fenced${unconfirmed ? ' (unconfirmed: unreachable)' : ''}: ${why}`);
}

function demoted(env: TopologyEnv, fates: readonly [string, OldMasterFate][], master: string): void {
  if (fates.length === 0) return;
  env.log.error('FAILOVER', `recovery: the book also named ${fates.map(([n]) => n).join(', ')} master beside ${master}; recorded as replaced by ${master}`, undefined, 'WARNING');
}

async function rollForward(env: TopologyEnv, runner: StepRunner, interrupted: FailoverRecord, kind: TopologyChangeKind, newMaster: string, fromWritable: boolean, demote: readonly string[]): Promise<TopologyRd> {
  const from = interrupted.from;
  const ranCommands = interrupted.steps.filter((s) => s.name.startsWith('extra_command:') && s.outcome === 'ok').map((s) => s.name.slice('extra_command:'.length));
  const commands = Object.keys(env.ctx().config.extra_failover_commands).filter((c) => !ranCommands.includes(c));
  // An adoption rolls forward to what the adoption records (adopt-agents-master.ts): the agents
  // re-point the replicas and rejoin the old master after their election, so the controller
  // remasters nobody, and the old master's fate is the adoption's (deployment agents: never fenced).
  const adoption = kind === 'adoption';
  const remaster = env.ctx().config.failover.remaster && !adoption;
  runner.setPlan(rollForwardPlan(env, from, newMaster, fromWritable, commands, remaster));
  runner.setTarget(newMaster);
  if (from !== null && fromWritable) {
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
  // Fenced for sure when the fence step above stopped it, it answers read-only, its control
  // channel says stopped, or (agent_lease) its agent's master lease is gone while its port refuses
  // or does not answer: a fence's rule, which the adoption records by too (old-master-fate.ts).
  const fate = from === null || from === newMaster ? null : fromWritable ? 'confirmed' : await oldMasterFateNow(env, from);
  const others = await fatesOf(env, demote);
  // From here to the master's record no await, the replaced ones first and the master last: the
  // persister snapshots the book at the first change (persister.ts), so no save, not even one
  // started in the middle, holds two enabled masters.
  for (const [name, f] of others) recordReplaced(env, adoption, name, newMaster, f, `the book named it master beside ${newMaster}, the master recovered`);
  if (adoption) {
    // What the adoption records; deployment agents: the old master an enabled, unfenced replica
    // even when it had to be stopped here.
    recordAdoption(env, fate !== null ? from : null, newMaster, fate);
    if (fate !== null && fromWritable) env.log.error('FAILOVER', `recovery: the old master ${from} ALSO answered writable beside the adopted ${newMaster}; stopped it (the journal proves the adoption of ${newMaster}); look at what ${from} took`, from ?? undefined, 'CRITICAL');
  } else if (from !== null && fate !== null) {
    recordReplaced(env, adoption, from, newMaster, fate, `replaced by ${newMaster} (recovered)`);
  }
  if (fate !== null && (!adoption || env.ctx().config.handyrep.deployment !== 'agents')) runner.setFence(fate === 'unconfirmed' ? 'unconfirmed' : 'confirmed');
  env.book.putServer(newMaster, { ...env.book.get(newMaster), role: 'master', enabled: true, fenced: false, fence_unconfirmed: false }, 'master (recovered after an interrupted change)');
  demoted(env, others, newMaster);
  if (remaster) {
    for (const r of enabledReplicas(env, [newMaster])) await runner.step('remaster', r, () => remasterReplica(env, r, newMaster));
  }
  // As the adoption does (adopt-agents-master.ts): under agent_lease its lease counts as seen held
  // while healthy, so a loss right after this is judged from what was seen, not from a history
  // read that compaction may have emptied. Not awaited; it never throws.
  if (adoption) void env.masterLease?.noteHealthy(newMaster).catch(() => undefined);
  if (env.ctx().config.failover.connection_failover_method !== null) await repointProxies(env, runner, newMaster);
  const problems = await runExtraCommands(env, runner, newMaster, from, ranCommands);
  await env.checks.verifyAll();
  const record = await runner.finish('SUCCESS', `rolled forward: ${newMaster} is the master${problems.length ? `; with problems: ${problems.join('; ')}` : ''}`);
  return success(record.details, { newmaster: newMaster, history_id: record.id });
}

export async function recoverInterrupted(env: TopologyEnv, interrupted: FailoverRecord, judge: JudgeMaster): Promise<TopologyRd> {
  const running = interrupted.steps.filter((s) => s.outcome === 'running').map((s) => `${s.name}${s.server ? ` ${s.server}` : ''}`);
  const where = running.length > 0 ? `during step ${running.join(', ')}` : `after step ${interrupted.steps.at(-1)?.name ?? '(none)'}`;
  env.book.addHistory({ ...interrupted, outcome: 'FAIL', finished: env.clock().toISOString(), details: `interrupted ${where}: the controller stopped` });
  // Saved before the journal is overwritten by the recovery's own record: a crash during the
  // recovery must not lose the interrupted change.
  await env.persist();

  const kind = recoveredKind(interrupted);
  const runner = new StepRunner(env, 'recovery', `recovering the ${interrupted.kind} ${interrupted.id} interrupted ${where}`, interrupted.from, null);
  runner.record.recovers = kind;
  await runner.begin();
  const unsettled = await settlePending(env, runner, interrupted);
  if (unsettled !== null) return unsettled;

  const from = interrupted.from;
  const candidates = candidatesOf(interrupted);
  const confirmed = journalProvenTarget(interrupted);
  const names = env.book.names().filter((n) => {
    const s = env.book.get(n);
    return isDatabaseRole(s.role) || n === from;
  });
  const writable = (await Promise.all(names.map(async (n) => [n, await acceptsWrites(env, n)] as const))).filter(([, w]) => w === true).map(([n]) => n);
  // An old master fenced before this change that is writable again is no promotion of this
  // change: it is fenced again, never rolled forward to.
  const staleFenced = writable.filter((n) => n !== from && !candidates.includes(n) && env.book.get(n).fenced);
  runner.setPlan(staleFenced.map((n) => ({ name: 'fence', server: n })));
  for (const name of staleFenced) {
    await runner.step('fence', name, async () => {
      const result = await fenceServer(env, name);
      return { ok: result.fenced, details: `fenced old master writable again: ${result.details}` };
    });
  }
  const promoted = writable.filter((n) => n !== from && !staleFenced.includes(n));

  const route = decideRollForward({ kind, to: interrupted.to, from, confirmed, promoted, bookMasters: env.book.enabledMasters() });
  if (route.way === 'split_brain') {
    const who = route.servers;
    env.book.setClusterStatus('down', `several servers accept writes or were promoted: ${who.join(', ')}`);
    env.log.error('FAILOVER', `recovery found several promoted servers (${who.join(', ')}): not choosing; an operator must decide`, undefined, 'CRITICAL');
    const record = await runner.finish('FAIL', `several servers were promoted or accept writes (${who.join(', ')}): nothing done, an operator must decide`);
    return failure(record.details, { reason_code: 'split_brain', history_id: record.id });
  }
  if (route.way === 'not_adopted') {
    // The adoption's book change never ran, and the writable server is not the one it verified:
    // nothing is recorded from here (no verification of its key or lease); the next failover check
    // asks the key and adopts through the verified path, or judges. Not a split brain (one writable
    // server): the cluster is not set down, which would hold that check.
    const newMaster = route.writable;
    env.log.error('FAILOVER', `recovery: the interrupted adoption of ${interrupted.to ?? '(none)'} was not recorded, and ${newMaster} answers writable: left to the next failover check's adoption`, newMaster, 'WARNING');
    const record = await runner.finish('FAIL', `not rolled forward: the adoption of ${interrupted.to ?? '(none)'} was not recorded and ${newMaster} (not it) answers writable; the book is unchanged, the next failover check asks the agents' master key`);
    return failure(record.details, { reason_code: 'not_adopted', history_id: record.id });
  }
  // The journal proves a promotion (it accepted a write): that server is the master even when it
  // does not answer now; the monitor judges it from here like any master.
  if (route.way === 'forward') return rollForward(env, runner, interrupted, kind, route.target, from !== null && writable.includes(from), route.demote);
  // Nobody was promoted: a synchronous set written for a candidate before its promotion must not
  // outlive it (the old master's set still says where its acknowledged commits are).
  if (from !== null) await restoreSyncAfterInterruptedPromotion(env, from);

  // Enabled masters of the book the journal does not prove (none answers writable): the old master
  // is the master again, so they are recorded as replaced by it in the same write, before it.
  const others = await fatesOf(env, route.demote);
  if (from !== null && writable.includes(from)) {
    // The key may name the candidate the change was about to promote: its agent would stop `from`.
    const named = await nameOldMasterAgain(env, from);
    if (!named.ok) {
      env.log.error('FAILOVER', `recovery: ${named.details}`, from, 'CRITICAL');
      const record = await runner.finish('FAIL', `${from} still accepts writes, but ${named.details}`);
      return failure(record.details, { reason_code: 'master_key_not_written', history_id: record.id });
    }
    for (const [name, f] of others) recordReplaced(env, kind === 'adoption', name, from, f, `the book named it master beside ${from}, the master kept`);
    env.book.putServer(from, { ...env.book.get(from), role: 'master', enabled: true, fenced: false, fence_unconfirmed: false }, 'still the master (recovered after an interrupted change)');
    demoted(env, others, from);
    await env.checks.verifyAll();
    const record = await runner.finish('ROLLED_BACK', `rolled back: ${named.details}${from} is still the master`);
    return success(record.details, { newmaster: from, history_id: record.id });
  }
  if (from === null) {
    const record = await runner.finish('FAIL', 'nobody accepts writes and the interrupted change had no old master: an operator must choose one (manual_failover)');
    return failure(record.details, { reason_code: 'no_master', history_id: record.id });
  }

  // Nobody writable: the old master is the master again in the book, then judged as live.
  for (const [name, f] of others) recordReplaced(env, kind === 'adoption', name, from, f, `the book named it master beside ${from}, the master kept`);
  env.book.putServer(from, { ...env.book.get(from), role: 'master', enabled: true, fenced: false, fence_unconfirmed: false }, `master again until judged (recovering ${interrupted.id})`);
  demoted(env, others, from);
  if (kind === 'switchover') {
    runner.setPlan([]);
    const start = await runner.step('restart_old_master', from, async () => {
      const risk = await secondMasterRisk(env, from);
      if (risk !== null) return { ok: false, details: `not restarting: ${risk}` };
      const named = await nameOldMasterAgain(env, from);
      if (!named.ok) return named;
      const rd = await env.nodeControl.startup(from);
      return { ok: rd.result === 'SUCCESS', details: `${named.details}${rd.details}` };
    });
    const record = await runner.finish(start.ok ? 'ROLLED_BACK' : 'FAIL', start.ok ? `rolled back: ${from} restarted as master` : start.details);
    return start.ok ? success(record.details, { newmaster: from, history_id: record.id }) : failure(record.details, { history_id: record.id });
  }

  const expect: FailoverExpectation = { master: from, topologyRevision: env.book.topologyRevision };
  const judged = await judge(from, expect);
  if ('reachable' in judged) {
    await env.checks.verifyAll();
    const record = await runner.finish('ROLLED_BACK', `rolled back: ${from} answers again (${judged.details})`);
    return success(record.details, { newmaster: from, history_id: record.id });
  }
  const { decision } = judged;
  if (decision.action !== 'failover') {
    // The judgement already set the statuses and raised the episode's alert.
    env.log.error('FAILOVER', `recovery: ${decision.reason}`, from);
    const record = await runner.finish('ROLLED_BACK', `not failing over again: ${decision.reason}; ${from} stays the master in the book`);
    return failure(record.details, { reason_code: decision.reason_code, history_id: record.id });
  }
  const record = await runner.finish('FAIL', `no writable server and ${decision.reason}: running the failover again`);
  // A new answer, never marked as made without an attempt (no-attempt.ts): the recovery journaled
  // and recorded, so it counts as one even when the failover it resumes is refused quietly.
  return { ...(await runFailover(env, `resuming the ${interrupted.kind} ${interrupted.id} (${record.id}): ${decision.reason}`, {
    // Fresh selection: the interrupted change's choice may no longer be viable.
    preferred: null,
    remaster: env.ctx().config.failover.remaster,
    snapshots: judged.snapshots,
    expect: { master: from, topologyRevision: env.book.topologyRevision },
    proxiesFirst: decision.proxiesFirst,
    automatic: true,
  })) };
}
