/**
 * Whether this node agent may try to take `master` in an agents' election (design §9 rule 6), as
 * a pure function of ONE etcd snapshot (every key read at the same revision) and the agent's own
 * clock facts. Every agent judges the same snapshot the same way, so at most one of them finds
 * itself best; the transaction (take-master.ts) then re-checks in etcd that nothing it judged on
 * changed, so a judgement made on an older snapshot cannot win.
 *
 * The old master counts as fenced only when its lease is proven held under this record (this agent
 * saw it, the record came with it, or etcd's history shows it) and proven ENDED (the lease id's
 * time to live gone, like the controller's agent_lease rule): never on a lease that was simply
 * never taken, nor on a key that is merely missing (deleted by hand while its agent renews it).
 *
 * Eligible: a replica whose member record is fresh (present under its agent's live lease, its
 * PostgreSQL running in recovery with a received WAL position), on the cluster's timeline and with
 * a position not left behind while the master lived (position-rules.ts), enabled for failover (not
 * nofailover, failover_priority ≠ 0), within its lag limits (engine/candidates.ts, the controller's
 * own screening) against the master's last known position; with synchronous_mode on/strict only
 * in deployment ha, and only as the controller's recorded set allows (sync-rule.ts). Best:
 * furthest received WAL, then the lower failover_priority, then the name.
 */
import type { Deployment } from '../../config/schema.js';
import { byName, byPriority, byReceivedDesc, screenCandidates } from '../../engine/candidates.js';
import { bytesBehind, bytesToMb } from '../../engine/lag.js';
import type { CandidateFacts, RefusalCode } from '../../engine/selection.js';
import type { MasterRecord } from '../../store/etcd/master-record.js';
import type { MemberRecord } from '../member-record.js';
import type { SyncRecord } from '../../model/sync-record.js';
import { syncRule, type SyncRefusalCode } from './sync-rule.js';
import { furthestLsn, masterSeenKey, publishedMasterPosition, publishedMasterTimeline, receiverStaleRefusal, timelineRefusal, type PositionRefusal, type PositionRefusalCode } from './position-rules.js';

/** A member record as read: null when its value is not a member record (then it counts as stale). */
export interface MemberRead {
  readonly name: string;
  readonly record: MemberRecord | null;
  readonly modRevision: string;
}

/** What this node's configuration says of a server. */
export interface ServerElectionSettings {
  readonly failoverPriority: number;
  readonly nofailover: boolean;
  readonly lagLimitMb: number;
}

export interface ElectionSnapshot {
  readonly node: string;
  readonly deployment: Deployment;
  /** The store revision every key below was read at (a decimal string). */
  readonly revision: string;
  readonly master: { readonly record: MasterRecord | null; readonly modRevision: string };
  /** Nodes whose `master_lease/<node>` exists. */
  readonly leasesHeld: readonly string[];
  /**
   * Whether this agent has seen the recorded master's lease held under this record (same name and
   * term) at an earlier snapshot. Its absence alone proves nothing: the master's agent may not
   * have taken it yet (cluster start) or not run at all, and then nobody fences that PostgreSQL.
   */
  readonly leaseSeen: boolean;
  readonly members: readonly MemberRead[];
  /** Whether the controllers' `leader` key exists. */
  readonly leaderPresent: boolean;
  /** How long this agent has seen `leader` absent without a break (ms; 0 when present now). */
  readonly leaderAbsentForMs: number;
  readonly ttlMs: number;
  /** agent.loop_wait in ms: with the ttl, how long a healthy receiver may have been silent before the master was last seen. */
  readonly loopWaitMs: number;
  readonly servers: Readonly<Record<string, ServerElectionSettings>>;
  readonly maxReplayLagMb: number;
  readonly synchronousMode: 'off' | 'on' | 'strict';
  /** The controller's recorded synchronous set (`cluster` key); undefined when not read (sync-rule.ts). */
  readonly syncRecord?: SyncRecord | null;
  /**
   * The old master's furthest WAL position this agent saw in its member record under this master
   * record (earlier snapshots): its record goes with its dead agent's lease, the lag limit needs it.
   */
  readonly oldMasterPosition?: string | null;
  /** The highest timeline this agent saw the old master publish as master under this record (earlier snapshots). */
  readonly oldMasterTimeline?: number | null;
  /**
   * The revision of the first snapshot in which this agent found the old master's lease gone: a
   * member's position read after it (its record's facts_after_revision) is final. Absent: the
   * snapshot's own revision (nobody's position counts as final before the next round).
   */
  readonly leaseGoneRevision?: string;
  /**
   * Whether the old master's lease has ended, asked by the elector only when its key is absent
   * (elector.ts leaseEnd): by the lease id this agent saw the key under, else from etcd's history
   * (engine/lease-history-proof.ts). Absent or null: not known (refused).
   */
  readonly leaseEnd?: LeaseEnd | null;
}

export interface LeaseEnd {
  /** true: ended; false: the lease still lives; null: not proven either way. */
  readonly ended: boolean | null;
  /**
   * seen_lease: the id this agent saw; history: etcd's history; current_leases: etcd's history was
   * compacted away and the current leases prove no live lease can be the master's
   * (engine/lease-current-proof.ts).
   */
  readonly how: 'seen_lease' | 'history' | 'current_leases';
  readonly why: string;
}

export type ElectionRefusalCode =
  | 'deployment_single'
  | 'controller_leads'
  | 'no_master_record'
  | 'master_is_us'
  | 'master_lease_held'
  | 'lease_never_seen'
  | 'lease_key_deleted'
  | 'lease_end_unproven'
  | 'another_writable'
  | 'not_in_servers'
  | 'no_fresh_record'
  | 'not_best'
  | 'no_candidate'
  | PositionRefusalCode
  | SyncRefusalCode
  | RefusalCode;

export type ElectionVerdict =
  | { readonly kind: 'refuse'; readonly code: ElectionRefusalCode; readonly sentence: string }
  | {
      readonly kind: 'take';
      /** The master this election replaces (null when the key named nobody valid). */
      readonly from: string;
      /** Every member record the judgement read, with its mod revision: the transaction compares them all. */
      readonly judged: readonly { readonly name: string; readonly modRevision: string }[];
      /** The eligible candidates, best first (this node first). */
      readonly order: readonly string[];
      /** Synchronous replication applies (this agent's synchronous_mode, or a set the controllers recorded for the lost master): the winner's commits must wait for a standby. */
      readonly synchronous: boolean;
      readonly sentence: string;
    };

const refuse = (code: ElectionRefusalCode, sentence: string): ElectionVerdict => ({ kind: 'refuse', code, sentence });

export function judgeElection(s: ElectionSnapshot): ElectionVerdict {
  if (s.deployment === 'single') return refuse('deployment_single', 'handyrep.deployment is single: only a controller fails over');
  if (s.deployment === 'ha' && (s.leaderPresent || s.leaderAbsentForMs < s.ttlMs)) {
    return refuse('controller_leads', s.leaderPresent ? 'a controller holds leader: it fails over, not the agents' : `no controller leads, but not yet for etcd.ttl (${Math.round(s.leaderAbsentForMs)} of ${s.ttlMs} ms)`);
  }
  const recorded = s.master.record;
  if (recorded === null) return refuse('no_master_record', 'no master recorded: there is nothing to fail over from (bootstrap is role discovery\'s job)');
  const old = recorded.name;
  if (old === s.node) return refuse('master_is_us', 'this node is the recorded master');
  if (s.leasesHeld.length > 0) return refuse('master_lease_held', `master_lease of ${s.leasesHeld.join(', ')} is alive: that PostgreSQL may still take writes`);
  // A record an election take wrote (exactly `agent:<its name>`) always came with its lease key
  // (same transaction): its absence now means that lease ended. Not a bootstrap claim
  // (`agent:<n> bootstrap`): no lease key came with it.
  const end = s.leaseEnd ?? null;
  if (end?.ended === false) return refuse('lease_key_deleted', `master_lease/${old} is gone but its lease lives (${end.why}): its agent still counts ${old} writable (the key was deleted by hand or by a bug; that agent puts it back)`);
  // current_leases stands in for a lease seen held only in deployment `agents` (every node runs
  // its agent): in `ha` a master may run without one, whose lease never existed (lease-end.ts).
  const provenByState = end?.ended === true && (end.how === 'history' || (end.how === 'current_leases' && s.deployment === 'agents'));
  const leaseProven = s.leaseSeen || recorded.written_by === `agent:${old}` || provenByState;
  if (!leaseProven) return refuse('lease_never_seen', `this agent never saw ${old}'s master lease held${end === null ? '' : ` (${end.why})`}: its absence does not prove that ${old} is fenced`);
  if (end?.ended !== true) return refuse('lease_end_unproven', `master_lease/${old} is gone, but its lease is not proven ended (${end?.why ?? 'not asked'}): a missing key alone does not fence ${old}`);
  // The recorded master's own record is ignored: its lease expired, so its agent demoted it or
  // is dead (rule 1). Any OTHER member running writable would make a second master.
  const writable = s.members.filter((m) => m.name !== old && m.record?.postgres === 'running' && m.record.in_recovery === false);
  if (writable.length > 0) return refuse('another_writable', `${writable.map((m) => m.name).join(', ')} runs writable though the master key names ${old}: no election until that is resolved`);
  // Own properties only: a member named like an Object.prototype property has no settings.
  const settingsOf = (name: string): ServerElectionSettings | undefined => (Object.hasOwn(s.servers, name) ? s.servers[name] : undefined);
  if (settingsOf(s.node) === undefined) return refuse('not_in_servers', 'this node is not under servers');

  const key = masterSeenKey(recorded);
  const oldRecord = s.members.find((m) => m.name === old)?.record ?? null;
  const oldPosition = furthestLsn(oldRecord?.wal_position, s.oldMasterPosition, publishedMasterPosition(s.members, key));
  // The cluster's timeline: the record's, else the highest the old master published as master.
  const reference = recorded.timeline ?? highest(oldRecord?.role === 'master' ? oldRecord.timeline : null, s.oldMasterTimeline ?? null, publishedMasterTimeline(s.members, key));
  const fresh: { name: string; record: MemberRecord; settings: ServerElectionSettings }[] = [];
  for (const m of s.members) {
    const settings = settingsOf(m.name);
    if (m.name !== old && settings !== undefined && isFresh(m.record)) fresh.push({ name: m.name, record: m.record, settings });
  }
  if (!fresh.some((f) => f.name === s.node)) return refuse('no_fresh_record', 'this node has no fresh member record (agent lease, PostgreSQL running in recovery, a received WAL position)');
  // Synchronous replication: the recorded set (kept by the controller in `ha`, by the master's own
  // agent in `agents`: sync/), whenever it promises something about the lost master (quorum > 0),
  // whatever this agent's own file says of synchronous_mode.
  const recordedSync = s.syncRecord !== undefined && s.syncRecord !== null && s.syncRecord.quorum > 0 && s.syncRecord.master === old;
  const syncMode = s.synchronousMode !== 'off' ? s.synchronousMode : recordedSync ? 'on' : null;
  // Under a quorum (n > k), the furthest of n − k + 1 members holds every acknowledged commit only
  // if their positions are final: read after the old master's lease was gone (it wrote no WAL
  // since). An older position counts as out of reach until its agent publishes a newer one.
  const quorum = s.syncRecord !== undefined && s.syncRecord !== null && s.syncRecord.members.length > s.syncRecord.quorum;
  const goneAt = BigInt(s.leaseGoneRevision ?? s.revision);
  const final = (r: MemberRecord): boolean => !quorum || (typeof r.facts_after_revision === 'string' && BigInt(r.facts_after_revision) >= goneAt);
  const sync = syncMode === null ? null : syncRule(syncMode, s.syncRecord, old, s.node, fresh.map((f) => ({ name: f.name, receiveLsn: final(f.record) ? furthestLsn(f.record.received_lsn, f.record.replayed_lsn) : null })));
  if (sync?.kind === 'refuse') return refuse(sync.code, sync.sentence);
  // A member the set allows holds every acknowledged commit, however long its receiver was silent.
  const refused = positionRefusals(fresh, reference, s.ttlMs + s.loopWaitMs, oldPosition, sync?.kind === 'only' ? sync.allowed : new Set());
  const ownPosition = refused.get(s.node);
  if (ownPosition) return refuse(ownPosition.code, `not a candidate: ${s.node} ${ownPosition.reason}`);
  if (oldPosition === null) return refuse('master_position_unknown', `no agent saw ${old}'s last WAL position (its member record is gone and none was remembered or published): the lag limit cannot be checked`);
  const facts = fresh.filter((f) => !refused.has(f.name)).map((f) => candidate(f.name, f.record, f.settings, oldPosition));
  const { viable, refusals } = screenCandidates({ candidates: facts, maxReplayLagMb: s.maxReplayLagMb });
  const ownRefusal = refusals.find((r) => r.name === s.node);
  if (ownRefusal) return refuse(ownRefusal.code, `not a candidate: ${ownRefusal.reason}`);
  const allowed = sync?.kind === 'only' ? viable.filter((c) => sync.allowed.has(c.name)) : viable;
  const syncNote = sync === null || sync.note === '' ? '' : `; ${sync.note}`;
  // Every candidate left is on one timeline, so their LSNs are places on one history.
  const order = [...allowed].sort((a, b) => byReceivedDesc(a, b) || byPriority(a, b) || byName(a, b)).map((c) => c.name);
  const best = order[0];
  if (best === undefined) return refuse('no_candidate', 'no eligible candidate');
  if (best !== s.node) return refuse('not_best', `${best} is further ahead or preferred (order ${order.join(' > ')})`);
  return {
    kind: 'take',
    from: old,
    judged: s.members.map((m) => ({ name: m.name, modRevision: m.modRevision })),
    order,
    synchronous: syncMode !== null,
    sentence: `the master lease of ${old} expired and this node is the best of ${order.join(' > ')}${syncNote}: taking the master key`,
  };
}

/** A record this election can rely on: PostgreSQL answering in recovery with a received position. */
function isFresh(record: MemberRecord | null): record is MemberRecord {
  return record !== null && record.postgres === 'running' && record.in_recovery === true && furthestLsn(record.received_lsn, record.replayed_lsn) !== null;
}

/**
 * The fresh members refused on their position's worth (position-rules.ts): a timeline other than
 * the cluster's, or a receiver left behind while the master lived (not for `staleExempt`).
 */
function positionRefusals(fresh: readonly { name: string; record: MemberRecord }[], reference: number | null, allowedSilenceMs: number, masterPosition: string | null, staleExempt: ReadonlySet<string>): Map<string, PositionRefusal> {
  const refused = new Map<string, PositionRefusal>();
  for (const f of fresh) {
    const r = timelineRefusal(f.record.timeline, reference) ?? (staleExempt.has(f.name) ? null : receiverStaleRefusal(f.record, allowedSilenceMs, masterPosition, reference));
    if (r !== null) refused.set(f.name, r);
  }
  return refused;
}

function highest(...values: readonly (number | null | undefined)[]): number | null {
  const known = values.filter((v): v is number => typeof v === 'number');
  return known.length === 0 ? null : Math.max(...known);
}

function candidate(name: string, r: MemberRecord, settings: ServerElectionSettings, oldPosition: string | null): CandidateFacts {
  // Right after a standby restart the receive position can be the start of its segment, below what it replayed.
  const receive = furthestLsn(r.received_lsn, r.replayed_lsn);
  const replayLag = bytesBehind(receive, r.replayed_lsn);
  const behindMaster = bytesBehind(oldPosition, receive);
  return {
    name,
    enabled: true,
    role: 'replica',
    status: 'healthy',
    failoverPriority: settings.failoverPriority,
    nofailover: settings.nofailover,
    reachable: true,
    inRecovery: true,
    receiveLsn: receive,
    replayLsn: r.replayed_lsn,
    replayLagBytes: replayLag,
    // Only known while the old master's record is still in etcd (its member lease outlives the master lease a little).
    lagMb: behindMaster === null ? null : bytesToMb(behindMaster),
    lagLimitMb: settings.lagLimitMb,
  };
}
