/**
 * A leading controller takes the master an agents' election made into its book
 * (engine/agents-master-adoption.ts decides; this reads the facts and records the verdict). The
 * book then looks as at the end of a failover: the agents' master is the enabled master, the old
 * master fenced (or kept as a replica when its agent already booted it as one), and a history entry
 * "adopted after the agents' election" beside the agents' own failover entry. Nothing is promoted,
 * stopped or written to the `master` key: the agents did all of that; the controller only stops
 * fighting it (no failover of it, no "replica not in recovery" warning).
 */
import { randomUUID } from 'node:crypto';
import { adoptionNeedsProbes, judgeAdoption, type AdoptionVerdict, type OldMasterFate, type PortAnswer } from '../../engine/agents-master-adoption.js';
import { HISTORY_LIMIT, type FailoverRecord } from '../../model/failover-record.js';
import type { MasterRecord } from '../../store/etcd/master-record.js';
import { assertMayAct, type TopologyEnv } from './env.js';
import { askDatabase } from './fence.js';
import { recordAdoptedSync } from '../sync/adoption-sync.js';

/** What adoption reads from etcd (etcd-control.ts): the `master` key, and whether a node's master lease exists (null: unknown). */
export interface AgentsMasterReads {
  masterRecord: () => Promise<MasterRecord | null>;
  leaseHeld: (node: string) => Promise<boolean | null>;
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
 * (the state save) instead of after it; the lease read stays on demand (only when the key names
 * another master).
 */
export function startedReads(reads: AgentsMasterReads): AgentsMasterReads {
  const record = reads.masterRecord();
  // Awaited later, or never (the check ended first): a failure is handled where it is awaited.
  record.catch(() => undefined);
  return { masterRecord: () => record, leaseHeld: reads.leaseHeld };
}

/** The last refusal alerted, so a check cycle that finds the same one again does not alert again. */
export interface AdoptionMemory {
  lastRefusal: string | null;
}

/** Reads, judges, and on `adopt` records; a refusal is alerted (once while it stays the same) and changes nothing. Returns the verdict. */
export async function adoptAgentsMaster(
  env: TopologyEnv,
  reads: AgentsMasterReads,
  memory: AdoptionMemory = { lastRefusal: null },
  /** A server's database port, asked now with the full timeout. */
  ask: (name: string) => Promise<PortAnswer> = (name) => askDatabase(env, name),
): Promise<AdoptionVerdict> {
  const bookMaster = env.book.masterName();
  const record = await reads.masterRecord();
  const probe = adoptionNeedsProbes(bookMaster, record) && record !== null && env.book.has(record.name);
  const [leaseHeld, named, oldMaster] = probe && record !== null
    ? await Promise.all([reads.leaseHeld(record.name), ask(record.name), bookMaster === null ? null : ask(bookMaster)])
    : ([null, null, null] as const);
  const judged = judgeAdoption({ bookMaster, bookServers: env.book.names(), record, leaseHeld, named, oldMaster });
  // The book is the leader's to write; leadership may have ended during the probes.
  if (judged.action === 'adopt') assertMayAct(env, `adopting ${judged.master} as master`);
  // Under synchronous_mode the set is recorded first, as before a promotion: one that cannot be saved stops the adoption.
  const sync = judged.action === 'adopt' ? await recordAdoptedSync(env, judged.master) : { ok: true, details: '' };
  const verdict: AdoptionVerdict = sync.ok ? judged : { action: 'refuse', code: 'sync_unsaved', why: `${sync.details}, so nothing is adopted this time (verified: ${judged.why})` };
  if (verdict.action === 'refuse' && verdict.why !== memory.lastRefusal) {
    env.log.error('LEADERSHIP', `not adopting the agents' master: ${verdict.why}`, record?.name, verdict.code === 'old_master_writable' ? 'CRITICAL' : 'WARNING');
  }
  memory.lastRefusal = verdict.action === 'refuse' ? verdict.why : null;
  if (verdict.action !== 'adopt' || record === null) return verdict;
  const started = env.clock();
  recordAdoption(env, verdict.oldMaster, verdict.master, verdict.fate);
  env.book.addHistory(adoptionEntry(env, record, verdict, started, sync.details));
  env.book.recomputeCluster();
  env.log.warn('LEADERSHIP', verdict.why, verdict.master, 'WARNING');
  return verdict;
}

/** The book as at the end of a failover (after-promotion.ts recordPromotion), with the old master's fate as seen now. */
function recordAdoption(env: TopologyEnv, oldMaster: string | null, master: string, fate: OldMasterFate | null): void {
  if (oldMaster !== null && fate === 'rejoined') {
    const old = env.book.get(oldMaster);
    env.book.putServer(oldMaster, { ...old, role: 'replica', enabled: true, fenced: false, fence_unconfirmed: false }, `replica: replaced by ${master} in an agents' election; already booted read-only by its agent`);
  } else if (oldMaster !== null) {
    const old = env.book.get(oldMaster);
    const unconfirmed = fate === 'unconfirmed';
    env.book.putServer(
      oldMaster,
      { ...old, role: 'replica', enabled: false, fenced: true, fence_unconfirmed: unconfirmed },
      `fenced${unconfirmed ? ' (unconfirmed: no answer)' : ''}: replaced by ${master} in an agents' election; its agent rejoins it at its next start (or rejoin / reclone it)`,
    );
    env.book.applyStatus(oldMaster, { status: 'down', message: `fenced old master${unconfirmed ? ' (not confirmed stopped)' : ''}, replaced by ${master} in an agents' election` });
  }
  const named = env.book.get(master);
  env.book.putServer(master, { ...named, role: 'master', enabled: true, fenced: false, fence_unconfirmed: false }, `master: adopted after the agents' election${oldMaster ? ` (replacing ${oldMaster})` : ''}`);
  env.book.applyStatus(master, { status: 'healthy', message: "adopted as master after the agents' election" });
}

/** The agents' own history entry for this master (elector.ts writes `e<revision>-<node>`), when the book holds it. */
function agentsEntry(env: TopologyEnv, master: string): FailoverRecord | null {
  return env.book.recentHistory(HISTORY_LIMIT).find((h) => h.to === master && h.outcome === 'SUCCESS' && h.id.startsWith('e') && h.id.endsWith(`-${master}`)) ?? null;
}

function adoptionEntry(env: TopologyEnv, record: MasterRecord, verdict: Extract<AdoptionVerdict, { action: 'adopt' }>, started: Date, syncNote: string): FailoverRecord {
  const finished = env.clock();
  const theirs = agentsEntry(env, verdict.master);
  const fence: FailoverRecord['fence'] = verdict.fate === 'unconfirmed' ? 'unconfirmed' : 'confirmed';
  return {
    id: randomUUID(),
    kind: 'adoption',
    reason: `the master key was written by ${record.written_by} (term ${record.term}) naming ${verdict.master}; the book named ${verdict.oldMaster ?? 'no master'}`,
    started: started.toISOString(),
    finished: finished.toISOString(),
    duration_ms: finished.getTime() - started.getTime(),
    from: verdict.oldMaster,
    to: verdict.master,
    outcome: 'SUCCESS',
    details: `${verdict.why}${syncNote === '' ? '' : `; synchronous set: ${syncNote}`}; the agents' own entry: ${theirs === null ? 'not in the history' : theirs.id}`,
    steps: [{ name: 'verify the agents\' master', server: verdict.master, started: started.toISOString(), finished: finished.toISOString(), outcome: 'ok', details: 'answers writable; its agent holds its master lease' }],
    ...(verdict.oldMaster === null ? {} : { fence }),
  };
}
