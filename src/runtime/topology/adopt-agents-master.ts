/**
 * A leading controller takes the master an agents' election made into its book
 * (engine/agents-master-adoption.ts decides; this reads the facts and records the verdict). The
 * book then looks as at the end of a failover: the agents' master is the enabled master, the old
 * master fenced (or kept as a replica when its agent already booted it as one), and a history entry
 * "adopted after the agents' election" beside the agents' own failover entry. Nothing is promoted,
 * stopped or written to the `master` key: the agents did all of that; the controller stops
 * fighting it (no failover of it, no "replica not in recovery" warning) and does what a failover
 * does after its promotion that the agents' election does not: the connection proxies and the
 * extra_failover_commands (planAdoption in the step table).
 */
import { planAdoption } from '../../engine/failover-steps.js';
import { AGENT_PROMOTE_WAIT_MS } from '../../agent/agent-timing.js';
import { adoptionNeedsProbes, agentsConfirmDeadlineMs, beforeJudging, judgeAdoption, type AdoptionVerdict, type BeforeJudging, type OldMasterFate, type PortAnswer } from '../../engine/agents-master-adoption.js';
import { describeError } from '../../model/errors.js';
import { HISTORY_LIMIT, type FailoverRecord } from '../../model/failover-record.js';
import type { MasterRecord } from '../../store/etcd/master-record.js';
import { afterPromotion, afterPromotionInput, finishNote, settleClusterStatus } from './after-promotion.js';
import { assertMayAct, type TopologyEnv } from './env.js';
import { askDatabase } from './fence.js';
import { StepRunner } from './step-runner.js';
import { otherWritableServers } from './writable-guard.js';
import { recordAdoptedSync } from '../sync/adoption-sync.js';

/**
 * `master_lease/<node>` as read: held with a real lease, absent, a key put without a lease (lease 0,
 * by hand: proves nothing), or unknown (etcd did not answer in time).
 */
export type LeaseRead = 'held' | 'absent' | 'by_hand' | 'unknown';

/** What adoption reads from etcd (etcd-control.ts). */
export interface AgentsMasterReads {
  masterRecord: () => Promise<MasterRecord | null>;
  lease: (node: string) => Promise<LeaseRead>;
  /** After an adoption: the adopted master's lease counts as seen held while it was healthy (agent_lease). */
  adopted?: (node: string) => Promise<void>;
}

/**
 * The bound on each etcd read of an adoption asked from the failover check: the check is judging a
 * master that failed, and must not wait out the full etcd deadline (retry_timeout, 10 s by default)
 * for a key that names the book's master nearly always. A read that takes longer fails; the check
 * judges as without adoption, and the next check that finds a problem reads again.
 */
export const ADOPTION_CHECK_READ_MS = 1000;

/**
 * `reads` with the `master` key's read started now, so it runs while the check does other work
 * (the state save) instead of after it; the lease reads stay on demand (only when the key names
 * another master).
 */
export function startedReads(reads: AgentsMasterReads): AgentsMasterReads {
  const record = reads.masterRecord();
  // Awaited later, or never (the check ended first): a failure is handled where it is awaited.
  record.catch(() => undefined);
  return { ...reads, masterRecord: () => record };
}

/**
 * The one path by which a judgement of the book's master (the failover check, the lease-lapse
 * judgement) asks about an agents' master first: runs the adoption step already started (reads
 * bounded, see startedReads) and says whether to judge (engine beforeJudging). Never throws: an
 * error adopts nothing and lets the judgement go on. `step` undefined: no etcd, judge.
 */
export async function agentsMasterFirst(step: (() => Promise<AdoptionVerdict>) | undefined): Promise<BeforeJudging> {
  if (step === undefined) return beforeJudging(null);
  return beforeJudging(await step().catch((err: unknown) => ({ action: 'error' as const, why: describeError(err) })));
}

/** The last refusal alerted (its code and the key's term), so a check cycle that finds the same one again does not alert again. */
export interface AdoptionMemory {
  lastRefusal: string | null;
}

/** How the facts are asked and the change is run; each has a default for the real thing. */
export interface AdoptionOptions {
  /** A server's database port, asked now with the full timeout. */
  ask?: (name: string) => Promise<PortAnswer>;
  /** Database servers other than `except` (enabled, or fenced) that answer writable now (writable-guard.ts). */
  otherWritable?: (except: readonly string[]) => Promise<string[]>;
  /**
   * Runs the book change alone (the action queue); the reads and probes before it change nothing
   * and run outside it, so a check whose key names the book's master never waits for the queue.
   */
  alone?: <T>(run: () => Promise<T>) => Promise<T>;
}

function leaseHeld(read: LeaseRead | null): boolean | null {
  return read === null || read === 'unknown' ? null : read === 'held';
}

type Adopt = Extract<AdoptionVerdict, { action: 'adopt' }>;

/** Reads, judges, and on `adopt` records (alone); a refusal is alerted (once while it stays the same) and changes nothing. Returns the verdict. */
export async function adoptAgentsMaster(env: TopologyEnv, reads: AgentsMasterReads, memory: AdoptionMemory = { lastRefusal: null }, options: AdoptionOptions = {}): Promise<AdoptionVerdict> {
  const ask = options.ask ?? ((name: string) => askDatabase(env, name));
  const others = options.otherWritable ?? ((except: readonly string[]) => otherWritableServers(env, except));
  const alone = options.alone ?? (<T>(run: () => Promise<T>) => run());
  const bookMaster = env.book.masterName();
  const revision = env.book.topologyRevision;
  const record = await reads.masterRecord();
  const probe = adoptionNeedsProbes(bookMaster, record) && record !== null && env.book.has(record.name);
  // Under agent_lease the old master's lease tells whether the agents' take proved it fenced.
  const readOldLease = bookMaster !== null && env.ctx().config.failover.unreachable_master === 'agent_lease';
  const [lease, named, oldMaster, oldLease, otherWritable] =
    probe && record !== null
      ? await Promise.all([
          reads.lease(record.name),
          ask(record.name),
          bookMaster === null ? null : ask(bookMaster),
          readOldLease && bookMaster !== null ? reads.lease(bookMaster) : null,
          others(bookMaster === null ? [record.name] : [record.name, bookMaster]),
        ])
      : ([null, null, null, null, []] as const);
  const judged = judgeAdoption({
    bookMaster,
    bookMasters: env.book.enabledMasters(),
    bookServers: env.book.names(),
    record,
    leaseHeld: leaseHeld(lease),
    named,
    oldMaster,
    oldMasterLease: oldLease === null ? null : oldLease === 'by_hand' ? 'unknown' : oldLease,
    otherWritable,
    takeAgeMs: record === null || Number.isNaN(Date.parse(record.since)) ? null : env.clock().getTime() - Date.parse(record.since),
    confirmDeadlineMs: agentsConfirmDeadlineMs(AGENT_PROMOTE_WAIT_MS, env.ctx().config.etcd.ttl),
  });
  if (judged.action !== 'adopt' || record === null) return noted(env, memory, judged, record);
  return alone(async () => {
    // The facts were gathered outside the queue: a book changed meanwhile is looked at again next time.
    if (env.book.masterName() !== bookMaster || env.book.topologyRevision !== revision) {
      return { action: 'none', code: 'book_changed', why: `the book changed while ${judged.master} was verified: looked at again at the next check` } as const;
    }
    // The facts may be as old as the wait for the queue: the named node's lease, the one fact an
    // agent gives up when it stops being the master, is read again (bounded like the first read).
    const leaseNow = await reads.lease(judged.master);
    if (leaseNow !== 'held') {
      return { action: 'none', code: 'book_changed', why: `master_lease/${judged.master} is ${leaseNow} now (it was held when verified): looked at again at the next check` } as const;
    }
    // The book is the leader's to write; leadership may have ended during the probes.
    assertMayAct(env, `adopting ${judged.master} as master`);
    // Under synchronous_mode the set is recorded first, as before a promotion: one that cannot be saved stops the adoption.
    const sync = await recordAdoptedSync(env, judged.master);
    if (!sync.ok) return noted(env, memory, { action: 'refuse', code: 'sync_unsaved', why: `${sync.details}, so nothing is adopted this time (verified: ${judged.why})` }, record);
    memory.lastRefusal = null;
    return recordAdoptionChange(env, reads, record, judged, sync.details);
  });
}

/**
 * A refusal is alerted once while the same one (code, key term) lasts, a wait for an agents'
 * promotion logged once per take; anything else clears the memory.
 */
function noted(env: TopologyEnv, memory: AdoptionMemory, verdict: AdoptionVerdict, record: MasterRecord | null): AdoptionVerdict {
  const key = verdict.action === 'refuse' || verdict.action === 'wait' ? `${verdict.code}:${record?.term ?? ''}` : null;
  if (verdict.action === 'wait' && key !== memory.lastRefusal) env.log.warn('LEADERSHIP', `waiting for the agents' election: ${verdict.why}`, record?.name);
  if (verdict.action === 'refuse' && key !== memory.lastRefusal) {
    const critical = verdict.code === 'old_master_writable' || verdict.code === 'other_writable';
    env.log.error('LEADERSHIP', `not adopting the agents' master: ${verdict.why}`, record?.name, critical ? 'CRITICAL' : 'WARNING');
  }
  memory.lastRefusal = key;
  return verdict;
}

/**
 * The adoption as a journaled change (step-runner.ts) over the step table's plan (planAdoption):
 * the book change, then the connection proxies and extra_failover_commands as after a failover's
 * promotion (after-promotion.ts), each its own step in the `adoption` history entry. The agents'
 * master is already writable: a step that fails leaves the cluster in warning and is alerted, it
 * never undoes the adoption. A controller stopped in the middle finds the journal at its next
 * start and rolls forward to the writable adopted master (recovery.ts), running what was not run.
 */
async function recordAdoptionChange(env: TopologyEnv, reads: AgentsMasterReads, record: MasterRecord, judged: Adopt, syncNote: string): Promise<AdoptionVerdict> {
  const reason = `the master key was written by ${record.written_by} (term ${record.term}) naming ${judged.master}; the book named ${judged.oldMaster ?? 'no master'}`;
  const runner = new StepRunner(env, 'adoption', reason, judged.oldMaster, judged.master);
  const after = afterPromotionInput(env, judged.oldMaster, judged.master, { remaster: false, rejoin: false, proxiesDone: false });
  await runner.begin(planAdoption(after));
  const adopted = await runner.step('adopt', judged.master, async () => {
    recordAdoption(env, judged.oldMaster, judged.master, judged.fate);
    env.book.recomputeCluster();
    return { ok: true, details: `answers writable; its agent holds master_lease/${judged.master}${syncNote === '' ? '' : `; synchronous set: ${syncNote}`}` };
  });
  if (!adopted.ok) {
    // Not run (the journal could not be written, or the leadership ended): the book is unchanged.
    const entry = await runner.finish('FAIL', `not adopted: ${adopted.details}`);
    return { action: 'none', code: 'book_changed', why: `${entry.details}: looked at again at the next check` };
  }
  // Deployment `agents` fences nobody (recordAdoption): no fence to report.
  if (judged.oldMaster !== null && env.ctx().config.handyrep.deployment !== 'agents') runner.setFence(judged.fate === 'unconfirmed' ? 'unconfirmed' : 'confirmed');
  env.log.warn('LEADERSHIP', judged.why, judged.master, 'WARNING');
  // Not awaited: a full-deadline etcd read must not hold the action queue (it never throws).
  void reads.adopted?.(judged.master);
  const problems = await afterPromotion(env, runner, after, false);
  settleClusterStatus(env, problems);
  if (problems.length > 0) env.log.error('FAILOVER', `after adopting ${judged.master}: ${problems.join('; ')} (the adoption stands: ${judged.master} is the writable master)`, judged.master, 'WARNING');
  const theirs = agentsEntry(env, judged.master);
  await runner.finish('SUCCESS', `${judged.why}${syncNote === '' ? '' : `; synchronous set: ${syncNote}`}${finishNote(problems)}; the agents' own entry: ${theirs === null ? 'not in the history' : theirs.id}`);
  return judged;
}

/**
 * The book as at the end of a failover (after-promotion.ts recordPromotion), with the old master's
 * fate as seen now. Also the roll-forward of an interrupted adoption (recovery.ts), so both record
 * the same book.
 */
export function recordAdoption(env: TopologyEnv, oldMaster: string | null, master: string, fate: OldMasterFate | null): void {
  if (oldMaster !== null) recordAdoptedOldMaster(env, oldMaster, master, fate);
  const named = env.book.get(master);
  env.book.putServer(master, { ...named, role: 'master', enabled: true, fenced: false, fence_unconfirmed: false }, `master: adopted after the agents' election${oldMaster ? ` (replacing ${oldMaster})` : ''}`);
  env.book.applyStatus(master, { status: 'healthy', message: "adopted as master after the agents' election" });
}

/** The old master's half of recordAdoption (also any other master a roll-forward demotes: recovery.ts). */
export function recordAdoptedOldMaster(env: TopologyEnv, oldMaster: string, master: string, fate: OldMasterFate | null): void {
  // In deployment `agents` the agents' own rule (standby of the recorded master, pg_rewind first) is
  // the old master's fence, and the agents never elect a fenced or disabled server: fencing it here
  // would shrink their candidates with every election.
  const agentsOnly = env.ctx().config.handyrep.deployment === 'agents';
  if (fate === 'rejoined') {
    const old = env.book.get(oldMaster);
    env.book.putServer(oldMaster, { ...old, role: 'replica', enabled: true, fenced: false, fence_unconfirmed: false }, `replica: replaced by ${master} in an agents' election; already booted read-only by its agent`);
  } else if (agentsOnly) {
    const old = env.book.get(oldMaster);
    env.book.putServer(oldMaster, { ...old, role: 'replica', enabled: true, fenced: false, fence_unconfirmed: false }, `replica: replaced by ${master} in an agents' election; its agent rejoins it as a standby (deployment agents: not fenced)`);
    env.book.applyStatus(oldMaster, { status: 'down', message: `old master, replaced by ${master} in an agents' election; its agent rejoins it as a standby` });
  } else {
    const old = env.book.get(oldMaster);
    const unconfirmed = fate === 'unconfirmed';
    env.book.putServer(
      oldMaster,
      { ...old, role: 'replica', enabled: false, fenced: true, fence_unconfirmed: unconfirmed },
      `fenced${unconfirmed ? ' (unconfirmed: no answer)' : ''}: replaced by ${master} in an agents' election; its agent rejoins it at its next start (or rejoin / reclone it)`,
    );
    env.book.applyStatus(oldMaster, { status: 'down', message: `fenced old master${unconfirmed ? ' (not confirmed stopped)' : ''}, replaced by ${master} in an agents' election` });
  }
}

/** The agents' own history entry for this master (elector.ts writes `e<revision>-<node>`), when the book holds it. */
function agentsEntry(env: TopologyEnv, master: string): FailoverRecord | null {
  return env.book.recentHistory(HISTORY_LIMIT).find((h) => h.to === master && h.outcome === 'SUCCESS' && /^e\d+-/.test(h.id) && h.id.endsWith(`-${master}`)) ?? null;
}
