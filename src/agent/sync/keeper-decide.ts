/**
 * The synchronous set kept by the master's own agent (deployment agents, synchronous_mode on or
 * strict), pure: the master's view of its standbys (pg_stat_replication, synchronous_standby_names)
 * and the agents' member records in, the next writes out. The rules are the controller's
 * (engine/sync-set.ts): a standby is recorded (the `cluster` key's `sync`) BEFORE it is named in
 * synchronous_standby_names and unrecorded only AFTER it is no longer named and the remaining
 * members flushed past the master's position at the change, so the record always includes every
 * server that may hold acknowledged commits — what the agents' election (sync-rule.ts) relies on.
 *
 * A record about another master (the one before an election) promises nothing about this one's
 * commits: it is replaced by one for this node, first with quorum 0 (nothing promised) until the
 * members named caught up, as the controller does after a promotion. Strict mode never names
 * nobody: with no replica to name it leaves the master's value as it is; `on` does the same for a
 * new master (ttl + loop_wait), while its replicas re-point at it.
 */
import { BYTES_PER_MB } from '../../engine/lag.js';
import { ASYNC, desiredSyncSet, planSyncChange, sameSet, widenSet, type SyncAction, type SyncPolicy, type SyncReplicaFacts, type SyncSet } from '../../engine/sync-set.js';
import { lsnDiff, type Lsn } from '../../model/lsn.js';
import type { SyncRecord } from '../../model/sync-record.js';
import { flushLagBytes, standbyRow, type MasterReplication } from '../../runtime/sync/master-replication.js';
import type { ServerElectionSettings } from '../election/judge.js';
import type { MemberRecord } from '../member-record.js';

export interface KeeperReplica {
  readonly name: string;
  /** Its election settings (stored `servers/*`, else the agent's file); null: not a candidate (disabled, fenced, unknown). */
  readonly settings: ServerElectionSettings | null;
  /** Its agent's member record; null when absent (agent down) or unparsable. */
  readonly member: MemberRecord | null;
}

/** A narrowing waiting for `quorum` of its members to flush past `target` (the master's position when it was planned). */
export interface PendingNarrow {
  readonly set: SyncSet;
  readonly target: Lsn;
}

export interface KeeperInput {
  readonly node: string;
  readonly policy: SyncPolicy;
  /** The `cluster` key's `sync`; null when none is recorded. */
  readonly record: SyncRecord | null;
  readonly seen: MasterReplication;
  /** Every other server the cluster knows of (settings or a member record). */
  readonly replicas: readonly KeeperReplica[];
  readonly pending: PendingNarrow | null;
  /**
   * This agent's master is new (it has held the lease for less than ttl + loop_wait): its
   * replicas may still be re-pointing at it, so `on` does not yet conclude that nobody qualifies.
   */
  readonly newMaster: boolean;
  /**
   * The synchronous_standby_names the next reload would apply (pg_file_settings, keeper-pg-settle.ts);
   * null: no entry in the file. Absent: not read (taken as settled).
   */
  readonly inFile?: string | null;
}

export type KeeperStep =
  /** Record `set` in the `cluster` key (guarded by this agent's master lease). */
  | { readonly kind: 'record'; readonly set: SyncSet; readonly reason: string }
  /** ALTER SYSTEM SET synchronous_standby_names = value, reloaded. */
  | { readonly kind: 'apply'; readonly value: string };

export interface KeeperPlan {
  /** In order; the effects stop at the first that fails. */
  readonly steps: readonly KeeperStep[];
  readonly pending: PendingNarrow | null;
  /** What the plan is about ('' when nothing is to do). */
  readonly sentence: string;
}

/** A replica as the set rules see it: a candidate only while its agent reports it running in recovery. */
export function keeperFacts(replica: KeeperReplica, seen: MasterReplication): SyncReplicaFacts {
  const m = replica.member;
  const role = m === null ? 'unknown (no member record)' : m.postgres !== 'running' ? `PostgreSQL ${m.postgres}` : m.in_recovery === true ? 'replica' : 'not in recovery';
  const row = standbyRow(seen.standbys, replica.name);
  const lag = flushLagBytes(seen.current, row);
  const s = replica.settings;
  return {
    name: replica.name,
    role,
    enabled: s !== null,
    failoverPriority: s?.failoverPriority ?? 0,
    nofailover: s?.nofailover ?? false,
    streaming: row !== null,
    flushLagMb: lag === null ? null : lag / BYTES_PER_MB,
    lagLimitMb: s?.lagLimitMb ?? 0,
  };
}

/** Have `set.quorum` of its members flushed past `target`? */
export function caughtUpTo(seen: MasterReplication, set: SyncSet, target: Lsn): boolean {
  const done = set.members.filter((m) => {
    const flush = standbyRow(seen.standbys, m)?.flush ?? null;
    return flush !== null && lsnDiff(flush, target) >= 0;
  });
  return done.length >= set.quorum;
}

const describe = (set: SyncSet): string => `[${set.members.join(', ')}] quorum ${set.quorum}`;

/** The record's reason when the keeper itself recorded "nothing promised" for synchronous_mode off. */
export const OFF_REASON = 'synchronous_mode off';

/**
 * synchronous_mode off (switched off in deployment agents) while a set HandyRep recorded may still
 * be named (any record but this keeper's own "off" one): nothing promised (quorum 0, this master,
 * reason OFF_REASON) is recorded FIRST,
 * then the names are cleared (review M3), so the next election neither takes the old set as still
 * applying nor makes its winner's commits wait with '*'. The order matters:
 * a record promising a quorum must never outlive the names that keep it, or an election would
 * follow a set the master stopped waiting for. A clear that failed after the record is retried
 * while the record is this keeper's own "off" one. Without any record the names are the operator's.
 */
function decideOff(node: string, record: SyncRecord | null, named: string): KeeperPlan {
  if (record === null) return { steps: [], pending: null, sentence: '' };
  const somethingNamed = named.trim() !== '';
  const clear: KeeperStep[] = somethingNamed ? [{ kind: 'apply', value: '' }] : [];
  const ownOffRecord = record.quorum === 0 && record.master === node && record.reason === OFF_REASON;
  // Nothing promised for this master and nothing named: nothing left to undo.
  if (record.quorum === 0 && record.master === node && !somethingNamed) return { steps: [], pending: null, sentence: '' };
  if (ownOffRecord) return { steps: clear, pending: null, sentence: somethingNamed ? 'synchronous_mode off: synchronous_standby_names cleared' : '' };
  return { steps: [{ kind: 'record', set: ASYNC, reason: OFF_REASON }, ...clear], pending: null, sentence: 'synchronous_mode off: nothing promised recorded, synchronous_standby_names cleared' };
}

/** Stands for "names not settled": equals no value synchronous_standby_names can be given. */
const UNSETTLED = '\u0000unsettled';

/**
 * The next writes. When the file holds another value than the one loaded (a dropped ALTER SYSTEM
 * or reload that still landed: review s8 M1), the names are unsettled: the next reload or restart
 * puts the file's value in force, so the record may neither be narrowed nor have its quorum raised
 * on the strength of what is loaded. The decided value is applied again first (ALTER rewrites the
 * file, the reload loads it) after any widening record; no narrowing's catch-up is started or
 * finished in that pass (a kept one is dropped: its target was taken under names now in doubt).
 */
export function decideKeeper(input: KeeperInput): KeeperPlan {
  const unsettled = input.inFile !== undefined && input.inFile !== null && input.inFile !== input.seen.named;
  if (!unsettled) return decideLoaded(input);
  const inFile = input.inFile ?? '';
  const plan = decideLoaded({ ...input, seen: { ...input.seen, named: UNSETTLED }, pending: null });
  const note = `synchronous_standby_names in postgresql.auto.conf ('${inFile}') is not the loaded '${input.seen.named}'`;
  if (plan.steps.some((s) => s.kind === 'apply')) return { steps: plan.steps, pending: null, sentence: `${note}: applied again; ${plan.sentence}` };
  // Off without a record of ours: the names are the operator's.
  if (input.policy.mode === 'off') return decideLoaded(input);
  // The names are to stay as loaded (strict with nobody to name, a new master waiting for its replicas): the file gets them again.
  return { steps: [{ kind: 'apply', value: input.seen.named }], pending: null, sentence: `${note}: the loaded value written again` };
}

function decideLoaded(input: KeeperInput): KeeperPlan {
  const { node, policy, record, seen } = input;
  if (policy.mode === 'off') return decideOff(node, record, seen.named);
  const ours = record !== null && record.master === node;
  // What the record promises about THIS master's commits: nothing when it describes another.
  const recorded: SyncSet = ours ? { members: record.members, quorum: record.quorum } : ASYNC;
  // Strict keeps the members it had (for a new master: the previous master's, but itself).
  const keep: SyncSet = ours ? recorded : { members: (record?.members ?? []).filter((m) => m !== node), quorum: 0 };
  const others = input.replicas.filter((r) => r.name !== node);
  const desired = desiredSyncSet(policy, others.map((r) => keeperFacts(r, seen)), keep);
  if (desired.members.length === 0 && seen.named.trim() !== '') {
    if (policy.mode === 'strict') return { steps: [], pending: null, sentence: `strict: ${desired.reason}; synchronous_standby_names left as '${seen.named}'` };
    // Right after an election ('*' named, the record still the old master's): the followers are
    // re-pointing; going asynchronous now would acknowledge commits only this node holds.
    if (!ours && input.newMaster) return { steps: [], pending: null, sentence: `new master, no replica streams yet: synchronous_standby_names left as '${seen.named}' for now` };
  }
  let actions: SyncAction[] = planSyncChange(recorded, seen.named, desired, policy.method);
  // The set in etcd must name this master before anything is named for it.
  if (!ours && actions[0]?.kind !== 'record') actions = [{ kind: 'record', set: widenSet(recorded, desired) }, ...actions];
  const steps: KeeperStep[] = [];
  for (const planned of actions) {
    // Sets without the desired set's reason (compared and remembered as sets).
    const action = planned.kind === 'apply' ? planned : { ...planned, set: { members: planned.set.members, quorum: planned.set.quorum } };
    if (action.kind === 'record') steps.push({ kind: 'record', set: action.set, reason: `about to name: ${desired.reason}` });
    else if (action.kind === 'apply') steps.push({ kind: 'apply', value: action.value });
    else if (!action.catchUp) steps.push({ kind: 'record', set: action.set, reason: desired.reason });
    else {
      // Narrowing with a quorum: only once the members flushed past the position at the change
      // (commits acknowledged under the wider value are then on them too). Checked on later rounds.
      const waiting = input.pending !== null && sameSet(input.pending.set, action.set) ? input.pending : seen.current === null ? null : { set: action.set, target: seen.current };
      if (waiting !== null && waiting !== input.pending) return { steps, pending: waiting, sentence: `${describe(action.set)} waits until its members flush past ${waiting.target}` };
      if (waiting === null || !caughtUpTo(seen, action.set, waiting.target)) return { steps, pending: waiting, sentence: `${describe(action.set)}: its members have not flushed past ${waiting?.target ?? "the master's position (unknown)"} yet` };
      steps.push({ kind: 'record', set: action.set, reason: desired.reason });
    }
  }
  return { steps, pending: null, sentence: steps.length === 0 ? '' : desired.reason };
}
