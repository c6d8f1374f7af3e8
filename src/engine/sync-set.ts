/**
 * Synchronous replication, the pure part (issue 15): which replicas should be synchronous, the
 * synchronous_standby_names value naming them, and the order of writes that keeps the recorded
 * set honest. The invariant: every acknowledged commit is on at least `quorum` of the recorded
 * `members`. So the record is widened (more members, lower quorum) before the master is told,
 * and narrowed only after the master stopped using the old value and the new members caught up.
 */
import { standbyNameIdentifier } from '../nodes/pg-conf-quote.js';

export type SynchronousMode = 'off' | 'on' | 'strict';
export type SynchronousMethod = 'any' | 'first';

/** A synchronous set without its bookkeeping (what is named, or recorded). */
export interface SyncSet {
  members: readonly string[];
  quorum: number;
}

export const ASYNC: SyncSet = Object.freeze({ members: Object.freeze([]) as readonly string[], quorum: 0 });

export interface SyncReplicaFacts {
  name: string;
  role: string;
  enabled: boolean;
  failoverPriority: number;
  nofailover: boolean;
  /** The master's pg_stat_replication shows it streaming (matched by application_name). */
  streaming: boolean;
  /** The master's current WAL position minus the replica's flushed position, in MB; null = unknown. */
  flushLagMb: number | null;
  lagLimitMb: number;
}

export interface SyncPolicy {
  mode: SynchronousMode;
  count: number;
  method: SynchronousMethod;
}

/** Why a replica is not a synchronous candidate, or null when it is. */
export function syncIneligibility(r: SyncReplicaFacts): string | null {
  if (r.role !== 'replica') return `role ${r.role}`;
  if (!r.enabled) return 'disabled';
  if (r.nofailover) return 'nofailover';
  if (r.failoverPriority === 0) return 'failover_priority 0';
  if (!r.streaming) return 'not streaming';
  if (r.flushLagMb === null) return 'lag unknown';
  if (r.flushLagMb > r.lagLimitMb) return `lag ${r.flushLagMb.toFixed(1)} MB > lag_limit ${r.lagLimitMb} MB`;
  return null;
}

function sorted(names: Iterable<string>): string[] {
  return [...new Set(names)].sort();
}

export interface DesiredSync extends SyncSet {
  reason: string;
}

/**
 * The set the master should use. `any`: every qualifying replica, ANY k. `first`: the k best by
 * failover_priority (then name). With too few qualifying, `on` shrinks (to asynchronous when none
 * is left); `strict` keeps current members to stay at k where it can, and never drops.
 */
export function desiredSyncSet(policy: SyncPolicy, replicas: readonly SyncReplicaFacts[], current: SyncSet): DesiredSync {
  const qualifying = replicas.filter((r) => syncIneligibility(r) === null);
  const ordered = policy.method === 'first' ? [...qualifying].sort((a, b) => a.failoverPriority - b.failoverPriority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) : qualifying;
  let members = policy.method === 'first' ? ordered.slice(0, policy.count).map((r) => r.name) : ordered.map((r) => r.name);
  const left = replicas.filter((r) => current.members.includes(r.name) && !members.includes(r.name)).map((r) => `${r.name} ${syncIneligibility(r) ?? 'not chosen'}`);
  if (policy.mode === 'strict' && members.length < policy.count) {
    // Never fewer than k named while someone can be kept: writes wait for them rather than drop.
    const kept = current.members.filter((m) => !members.includes(m)).slice(0, policy.count - members.length);
    members = [...members, ...kept];
  }
  members = sorted(members);
  const quorum = Math.min(policy.count, members.length);
  const why = left.length > 0 ? `; left: ${left.join(', ')}` : '';
  if (members.length === 0) {
    return { members: [], quorum: 0, reason: policy.mode === 'strict' ? `strict: no replica qualifies and none was synchronous${why}` : `no replica qualifies: asynchronous${why}` };
  }
  const method = policy.method === 'any' ? 'ANY' : 'FIRST';
  return { members, quorum, reason: `${method} ${quorum} of ${members.join(', ')}${why}` };
}

/** The synchronous_standby_names value for a set ('' = asynchronous). Names are quoted identifiers. */
export function standbyNamesValue(set: SyncSet, method: SynchronousMethod): string {
  if (set.quorum === 0 || set.members.length === 0) return '';
  return `${method === 'any' ? 'ANY' : 'FIRST'} ${set.quorum} (${set.members.map(standbyNameIdentifier).join(', ')})`;
}

/** A record that stays true under both sets: every member of either, the lower quorum. */
export function widenSet(a: SyncSet, b: SyncSet): SyncSet {
  return { members: sorted([...a.members, ...b.members]), quorum: Math.min(a.quorum, b.quorum) };
}

export function sameSet(a: SyncSet, b: SyncSet): boolean {
  return a.quorum === b.quorum && a.members.length === b.members.length && a.members.every((m, i) => m === b.members[i]);
}

export type SyncAction =
  /** Record a set that covers both the old and the new value, before the master changes. */
  | { kind: 'record'; set: SyncSet }
  /** ALTER SYSTEM SET synchronous_standby_names + reload on the master. */
  | { kind: 'apply'; value: string }
  /**
   * Record the exact new set. With a quorum, only once `quorum` of its members flushed past the
   * master's current position (commits acknowledged under the old value are on them too).
   */
  | { kind: 'narrow'; set: SyncSet; catchUp: boolean };

/**
 * The next writes, in order, from the recorded set, the value the master uses now and the desired
 * set. Narrowing waits for a later cycle than the apply: the master's processes must have reloaded
 * the new value before "caught up" means anything.
 */
export function planSyncChange(recorded: SyncSet, named: string, desired: SyncSet, method: SynchronousMethod): SyncAction[] {
  const wide = widenSet(recorded, desired);
  const value = standbyNamesValue(desired, method);
  const actions: SyncAction[] = [];
  if (!sameSet(wide, recorded)) actions.push({ kind: 'record', set: wide });
  if (named.trim() !== value) {
    actions.push({ kind: 'apply', value });
    // Going asynchronous promises nothing: the exact record can follow at once.
    if (desired.quorum === 0 && !sameSet(desired, wide)) actions.push({ kind: 'narrow', set: desired, catchUp: false });
    return actions;
  }
  if (!sameSet(desired, wide)) actions.push({ kind: 'narrow', set: desired, catchUp: desired.quorum > 0 });
  return actions;
}

export interface NewMasterSync {
  /** Named on the new master before its promotion. */
  named: SyncSet;
  /** Recorded before that: the same members, quorum 0 until they caught up with the new master. */
  recorded: SyncSet;
}

/**
 * The set a replica about to be promoted starts with: the other failover-eligible replicas (they
 * are pointed at it next), so writes are synchronous from its first commit. Recorded with quorum
 * 0: until they streamed from it and caught up, they may lack commits only the new master holds.
 * `on` with nobody else goes asynchronous; `strict` keeps the old members it can.
 */
export function syncForNewMaster(policy: SyncPolicy, candidate: string, others: readonly SyncReplicaFacts[], previous: SyncSet): NewMasterSync {
  const eligible = others.filter((r) => r.name !== candidate && syncIneligibility({ ...r, streaming: true, flushLagMb: 0 }) === null);
  const ordered = policy.method === 'first' ? [...eligible].sort((a, b) => a.failoverPriority - b.failoverPriority || (a.name < b.name ? -1 : 1)).slice(0, policy.count) : eligible;
  let members = sorted(ordered.map((r) => r.name));
  if (members.length === 0 && policy.mode === 'strict') members = sorted(previous.members.filter((m) => m !== candidate));
  const named = { members, quorum: Math.min(policy.count, members.length) };
  return { named, recorded: { members, quorum: 0 } };
}
