/**
 * The judgement the lapse of the master's agent lease starts (leadership/master-lease-watch.ts):
 * the same question the failover check asks (judgeMaster → decideFailover, every rule unchanged),
 * asked at once instead of at the next poll, and without its retries: the agent let the lease go
 * because its PostgreSQL stopped (or its host did), which is what the retries wait to learn.
 *
 * Facts: when the failover check started gathering facts about this master's failure within the
 * last lease TTL under the same server definitions (the same episode, the same replica set), those
 * are reused — the vantage probes from the replica hosts
 * have waited out (or are waiting out) their connect timeouts, and asking again would only wait
 * again; a gathering still running gets its control channel question asked again now, within the
 * short deadline the lapsed lease allows (env.ts withinQuickDeadline). Reusing is safe because
 * nothing of the master answered since (an answer forgets the facts), the decision is the same
 * pure rule over them, and judgeMaster reads the agents' member records
 * again (a "sees the master" at either read still holds the failover). Without such facts
 * everything is gathered now (a crash: refusals answer at once). The lease itself is read again by
 * the decision, and the master key write still requires every other `master_lease` to be absent.
 *
 * Before any of that, the `master` key is read as the failover check reads it (agentsMasterFirst):
 * a confirmed agents' take is adopted, a young unconfirmed one waited on (the next failover check
 * looks again), else the master is judged as above.
 */
import { crashStated, type CrashStatementFacts, type CrashStatementVerdict } from '../engine/crash-statement.js';
import { describeError } from '../model/errors.js';
import { failure, success } from '../model/rd.js';
import { agentsMasterFirst } from './topology/adopt-agents-master.js';
import { automaticFailover, judgeMaster, masterReach, settleMasterFacts, type FailoverCheckDeps, type FailoverCheckRd } from './failover-check.js';

/** The lapse as the watch saw it, and how to read the master's member record as of it (store/etcd/member-statement.ts). */
export interface LapseFacts {
  /** The revision of the lease's delete; null when unknown. */
  revision: string | null;
  recordAt: (revision: string) => Promise<CrashStatementFacts['record']>;
}

/** Whether the master's agent stated its postmaster crashed with the release (engine/crash-statement.ts); an unreadable record states nothing. */
async function crashStatement(lapse: LapseFacts | undefined, master: string): Promise<CrashStatementVerdict> {
  if (lapse === undefined || lapse.revision === null) return crashStated({ lapseRevision: null, record: null });
  try {
    return crashStated({ lapseRevision: lapse.revision, record: await lapse.recordAt(lapse.revision) });
  } catch (err) {
    return { stated: false, reason: `the member record of ${master} could not be read as of the lapse: ${describeError(err)}` };
  }
}

export async function judgeLapsedMaster(deps: FailoverCheckDeps, master: string, lapse?: LapseFacts): Promise<FailoverCheckRd> {
  const env = deps.env();
  if (env.book.masterName() !== master) return success(`${master} is no longer the master: nothing to judge`);
  if (deps.topologyInFlight()) return success('a topology change is in progress, not deciding');
  const hold = deps.hold();
  if (hold !== null) return success(`automatic failover is on hold (${hold}): not deciding`);
  const startedMs = performance.now();
  // As in the failover check, before judging: the lapse may be the agents' election replacing this
  // master (a controller that started leading during it, or one that was stopped while it ran).
  // Judging it could only record a failover the master key refuses (agentsMasterFirst: one path).
  const first = await agentsMasterFirst(deps.topologyInFlight() ? undefined : deps.startAdoption?.());
  if (first.go === 'adopted') return success(`master ${master}'s lease lapsed: ${first.why}`);
  if (first.go === 'wait') return failure(`master ${master}'s lease lapsed: ${first.why}`, { reason_code: first.code });
  if (env.book.masterName() !== master) return success(`${master} is no longer the master: nothing to judge`);
  const expect = { master, topologyRevision: env.book.topologyRevision };
  const kept = deps.recentFacts?.get(master, env.ctx().config.etcd.ttl * 1000, expect.topologyRevision);
  let skipped = '';
  if (!kept) {
    // No failed check of this episode (the agent let the lease go first: a crash, or a stop outside
    // HandyRep that it may undo in a second): the controller's own check and its configured retries
    // first, with the full timeout, as the failover check would (a crashed master refuses at once).
    // The retries wait for a master that comes back by itself: not when its own agent stated, with
    // the release, that its postmaster crashed (engine/crash-statement.ts). The check itself stays.
    const failover = env.ctx().config.failover;
    const statement = failover.fail_retries > 0 ? await crashStatement(lapse, master) : null;
    const retries = statement?.stated ? 0 : failover.fail_retries;
    if (statement?.stated) skipped = `; check retries skipped: ${statement.reason}`;
    for (let attempt = 0; attempt <= retries; attempt += 1) {
      if (attempt > 0) await env.sleep(failover.fail_retry_interval * 1000);
      const poll = await env.checks.pollServer(master);
      if (poll.result === 'SUCCESS') return success(`master ${master} answers its check (${poll.details}): the failover check goes on judging it`);
    }
  }
  // Completed facts are used as they are; a gathering still running is awaited, but its control
  // channel question is asked again within the short deadline. A kept part that failed: everything
  // is asked again (as the failover check would).
  const facts = kept ? await settleMasterFacts(kept.facts, kept.settled ? kept.facts.reach : masterReach(env, master)).catch(() => undefined) : undefined;
  const judgement = await judgeMaster(env, master, { paused: deps.paused(), plannedDown: deps.plannedDown(master), restartTried: false, expect }, facts);
  const { decision } = judgement;
  const how = `${facts ? (kept?.settled ? ' (facts of this episode reused)' : ' (facts of this episode awaited)') : ' (facts gathered now)'}, judged in ${Math.round(performance.now() - startedMs)} ms${skipped}`;
  env.log.info('CHECK', `master ${master}: ${decision.reason_code}${how}`);
  if (decision.action === 'failover') return automaticFailover(deps, judgement);
  // A restart, a warning or nothing: the failover check goes on deciding at its pace.
  if (decision.action === 'none') return success(`master ${master}: ${decision.reason}${how}`, { reason_code: decision.reason_code });
  return failure(`master ${master}: ${decision.reason}${how}; the checks go on`, { reason_code: decision.reason_code });
}
