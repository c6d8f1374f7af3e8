/**
 * Whether a leading controller takes the master an agents' election made (design §9 rule 6) into
 * its book (issue 14): in `ha`, agents elect only while no controller leads, so the controller that
 * leads afterwards finds the `master` key written by `agent:<name>` naming a server its book still
 * holds for a replica. Fighting it would fail anyway (that agent holds its master lease, so no other
 * master can be recorded) and would only leave the cluster in warning; adopting it blindly would
 * trust a key that may be stale. So it is adopted only when what the key says is true now:
 *   - the key was written by the named node's own agent for an election take (`agent:<name>`;
 *     `agent:<n> bootstrap` or a controller's id are not elections), and confirmed (timeline
 *     written: an unconfirmed take is a promotion still in flight, or one being given back);
 *   - its agent holds `master_lease/<name>` (the agents' own proof that it is the writable master);
 *   - the named server answers writable (not in recovery);
 *   - the book's master, if any and other, does not answer writable (two writable servers: an
 *     operator must look; adopting either would hide it).
 * Pure: the reads come in, a verdict goes out; runtime/topology/adopt-agents-master.ts acts on it.
 */
import type { MasterRecord } from '../store/etcd/master-record.js';

/** A database port's answer (runtime/topology/fence.ts DatabaseAnswer). */
export type PortAnswer = 'writable' | 'read_only' | 'refused' | 'starting' | 'no_answer';

export interface AdoptionFacts {
  /** The book's enabled master, or null (none, or more than one). */
  readonly bookMaster: string | null;
  /** Every enabled master of the book (more than one: the book is ambiguous, nothing is adopted). */
  readonly bookMasters: readonly string[];
  /** Every server of the book (any role). */
  readonly bookServers: readonly string[];
  /** The `master` key's record, or null when absent. */
  readonly record: MasterRecord | null;
  /** Whether `master_lease/<record.name>` exists; null when etcd could not say. */
  readonly leaseHeld: boolean | null;
  /** The named server's database port, asked now; null when not asked (nothing to adopt). */
  readonly named: PortAnswer | null;
  /** The book's master's database port, asked now; null when there is no other book master (or not asked). */
  readonly oldMaster: PortAnswer | null;
  /**
   * Under `unreachable_master: agent_lease`, whether `master_lease/<bookMaster>` is held now
   * ('held' | 'absent' | 'unknown'); null when not read (another setting, no book master, nothing to adopt).
   */
  readonly oldMasterLease: 'held' | 'absent' | 'unknown' | null;
  /** Database servers other than the named one and the book's master (enabled, or fenced) that answer writable now. */
  readonly otherWritable: readonly string[];
  /** How long ago the key was written (now − its `since`); null when there is no key or `since` does not parse. */
  readonly takeAgeMs: number | null;
  /** How long an agent's take may stay unconfirmed while its promotion runs (agentsConfirmDeadlineMs). */
  readonly confirmDeadlineMs: number;
}

/**
 * How long after its take an agents' election may still be promoting (key written, timeline not
 * yet): the agent's own wait for pg_ctl promote (AGENT_PROMOTE_WAIT_MS), then its confirmation
 * write, retried at its next rounds; one etcd ttl covers those rounds (and a dead agent's lease
 * expiry). Past it, an unconfirmed take is a promotion that failed or an agent that died.
 */
export function agentsConfirmDeadlineMs(agentPromoteWaitMs: number, ttlSeconds: number): number {
  return agentPromoteWaitMs + ttlSeconds * 1000;
}

/** Nothing to adopt: the book and the key agree, or the key is not an agents' election's. */
export type AdoptionNoneCode = 'no_record' | 'written_by_controller' | 'not_an_election' | 'same_master' | 'book_changed';
/**
 * The key names another master but cannot be taken as true now: nothing changes, an alert says why.
 * `sync_unsaved` is the runtime's (the verdict was adopt, but the synchronous set for the adopted
 * master could not be saved first).
 */
export type AdoptionRefusalCode =
  | 'book_ambiguous'
  | 'unknown_server'
  | 'unconfirmed'
  | 'lease_unknown'
  | 'lease_not_held'
  | 'not_writable'
  | 'old_master_writable'
  | 'other_writable'
  | 'old_master_lease_held'
  | 'sync_unsaved';

/**
 * How the old master is recorded: `rejoined` (it answers read-only: its agent already booted it as a
 * standby, it stays an enabled replica), `confirmed` (its port refuses: not running; fenced as a
 * failover would), `unconfirmed` (no answer: fenced, watched until seen stopped or read-only).
 */
export type OldMasterFate = 'rejoined' | 'confirmed' | 'unconfirmed';

export type AdoptionVerdict =
  | { readonly action: 'none'; readonly code: AdoptionNoneCode; readonly why: string }
  /**
   * An agents' promotion is in flight (its take not yet confirmed, younger than its deadline, its
   * lease not known gone): the book's old master is not judged now; the next check looks again
   * and then adopts or judges.
   */
  | { readonly action: 'wait'; readonly code: 'promotion_in_flight'; readonly why: string }
  | { readonly action: 'refuse'; readonly code: AdoptionRefusalCode; readonly why: string }
  | { readonly action: 'adopt'; readonly master: string; readonly oldMaster: string | null; readonly fate: OldMasterFate | null; readonly why: string };

/** Whether `record` is an agents' election take of the node it names (not a bootstrap claim, not a controller's). */
export function writtenByElection(record: MasterRecord): boolean {
  return record.written_by === `agent:${record.name}`;
}

/** The facts that must be read before judging: false when the key alone says there is nothing to adopt. */
export function adoptionNeedsProbes(bookMaster: string | null, record: MasterRecord | null): boolean {
  return record !== null && writtenByElection(record) && record.name !== bookMaster;
}

export function judgeAdoption(f: AdoptionFacts): AdoptionVerdict {
  const r = f.record;
  if (r === null) return { action: 'none', code: 'no_record', why: 'no master key' };
  if (!r.written_by.startsWith('agent:')) return { action: 'none', code: 'written_by_controller', why: `the master key was written by controller ${r.written_by}` };
  if (!writtenByElection(r)) return { action: 'none', code: 'not_an_election', why: `the master key was written by ${r.written_by}, not by an election take of ${r.name}` };
  if (r.name === f.bookMaster) return { action: 'none', code: 'same_master', why: `the agents' master ${r.name} is already the book's master` };
  const other = `the agents' election recorded ${r.name} as master (term ${r.term}) but the book's master is ${f.bookMaster ?? (f.bookMasters.length > 1 ? f.bookMasters.join(' and ') : 'none')}`;
  if (f.bookMasters.length > 1) return { action: 'refuse', code: 'book_ambiguous', why: `${other}: more than one enabled master in the book (an operator must fix the book first)` };
  if (!f.bookServers.includes(r.name)) return { action: 'refuse', code: 'unknown_server', why: `${other}, and ${r.name} is not a server of the book` };
  if (r.timeline === null) {
    // A clock skewed so far that `since` lies beyond the deadline in the future counts as old: no wait without a bound.
    const young = f.takeAgeMs !== null && Math.abs(f.takeAgeMs) < f.confirmDeadlineMs;
    if (young && f.leaseHeld !== false) {
      const age = f.takeAgeMs === null ? '' : ` ${Math.max(0, Math.round(f.takeAgeMs / 1000))} s ago`;
      return { action: 'wait', code: 'promotion_in_flight', why: `${other}; its take${age} is not confirmed yet (its promotion is in flight, confirmed within ${Math.round(f.confirmDeadlineMs / 1000)} s or given back): not judging ${f.bookMaster ?? 'the book'} until it is` };
    }
    return { action: 'refuse', code: 'unconfirmed', why: `${other}; its take is not confirmed ${young ? '(its agent no longer holds its master lease)' : `within ${Math.round(f.confirmDeadlineMs / 1000)} s (no timeline written: the promotion failed, is being given back, or its agent died)`}` };
  }
  if (f.leaseHeld === null) return { action: 'refuse', code: 'lease_unknown', why: `${other}; whether its agent holds master_lease/${r.name} could not be read` };
  if (!f.leaseHeld) return { action: 'refuse', code: 'lease_not_held', why: `${other}; its agent does not hold master_lease/${r.name} (its lease ended: it is no longer the agents' master)` };
  if (f.named !== 'writable') return { action: 'refuse', code: 'not_writable', why: `${other}; ${r.name} does not answer as a writable master (${f.named ?? 'not asked'})` };
  if (f.bookMaster !== null && f.oldMaster === 'writable') {
    return { action: 'refuse', code: 'old_master_writable', why: `${other}; the book's master ${f.bookMaster} ALSO answers writable (two writable servers: nothing adopted, look at both)` };
  }
  if (f.otherWritable.length > 0) {
    return { action: 'refuse', code: 'other_writable', why: `${other}; ${f.otherWritable.join(', ')} ALSO ${f.otherWritable.length === 1 ? 'answers' : 'answer'} writable (more than one writable server: nothing adopted, look at them)` };
  }
  if (f.bookMaster !== null && f.oldMasterLease === 'held') {
    return { action: 'refuse', code: 'old_master_lease_held', why: `${other}; but master_lease/${f.bookMaster} is held (the agents' take requires it gone: something is off, look at both)` };
  }
  const fate = f.bookMaster === null ? null : oldMasterFate(f.oldMaster, f.oldMasterLease === 'absent');
  const fenceNote = fate === 'confirmed' && f.oldMaster !== 'refused' ? `answers ${f.oldMaster ?? 'nothing'} and its master lease is gone (the agents' take required it): fenced` : fate === 'confirmed' ? 'is not running: fenced' : 'does not answer: fenced (unconfirmed)';
  const fateNote = f.bookMaster === null ? '' : `; old master ${f.bookMaster} ${fate === 'rejoined' ? 'answers read-only (already rejoined): kept as a replica' : fenceNote}`;
  return {
    action: 'adopt',
    master: r.name,
    oldMaster: f.bookMaster,
    fate,
    why: `adopted after the agents' election: ${r.name} (term ${r.term}, timeline ${r.timeline}) answers writable and its agent holds master_lease/${r.name}${fateNote}`,
  };
}

/**
 * `leaseGone`: under agent_lease its master lease is absent; the agents' take required that (its
 * agent stopped it, or is gone with it: design §9 rule 1), the same proof a controller's own
 * agent_lease failover counts as a confirmed fence.
 */
export function oldMasterFate(answer: PortAnswer | null, leaseGone: boolean): OldMasterFate {
  if (answer === 'read_only') return 'rejoined';
  if (answer === 'refused' || leaseGone) return 'confirmed';
  return 'unconfirmed';
}

/**
 * The same fate by a fence's rule (runtime/topology/fence.ts), for the roll-forward of an
 * interrupted change, where no agents' take proved the old lease gone: a refused connection alone
 * proves nothing (a firewall's REJECT while clients on its side still write); with the lease gone
 * it does. 'unconfirmed' leaves the control channel to be asked.
 */
export function oldMasterFateByFence(answer: PortAnswer | null, leaseGone: boolean): OldMasterFate {
  if (answer === 'refused' && !leaseGone) return 'unconfirmed';
  return oldMasterFate(answer, leaseGone);
}

/**
 * What a judgement of the book's master does once it asked about an agents' master: the failover
 * check and the lease-lapse judgement go through this one gate, so neither judges (nor records a
 * failover of) a master the agents already replaced or are replacing. `adopted`: the book now names
 * the agents' master, nothing is judged; `wait`: their promotion is in flight, the next check
 * looks again; `judge`: anything else (no etcd, no key about another master, a refusal, a read
 * that failed or timed out) lets the judgement go on as without agents.
 */
export type BeforeJudging =
  | { readonly go: 'adopted'; readonly why: string }
  | { readonly go: 'wait'; readonly code: 'promotion_in_flight'; readonly why: string }
  | { readonly go: 'judge' };

/** `outcome`: the adoption's verdict, its error, or null when it was not asked (no etcd). */
export function beforeJudging(outcome: AdoptionVerdict | { readonly action: 'error'; readonly why: string } | null): BeforeJudging {
  if (outcome === null) return { go: 'judge' };
  if (outcome.action === 'adopt') return { go: 'adopted', why: outcome.why };
  if (outcome.action === 'wait') return { go: 'wait', code: outcome.code, why: outcome.why };
  return { go: 'judge' };
}
