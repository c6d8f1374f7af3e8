/**
 * Which replicas a failover may promote under synchronous replication (issue 15).
 *
 * The quorum arithmetic: the record says every acknowledged commit is on at least k of its n
 * members. The commits' holders can be any k of them, so the reachable members R hold every
 * acknowledged commit for sure only when R meets every k-subset: when fewer than k members are
 * out of reach, i.e. |R| ≥ n − k + 1. WAL is one sequence, so the member of R that received the
 * most holds everything the others hold: that one is promoted. With n = k (`first`, or `any` with
 * exactly k) every member holds every commit and one reachable member suffices.
 */
import { lsnToBigInt, parseLsn } from '../model/lsn.js';
import type { SyncRecord } from '../model/sync-record.js';
import type { SynchronousMode } from './sync-set.js';

export interface SyncMemberFacts {
  name: string;
  /** A database session could be opened just now and it reported its received WAL. */
  reachable: boolean;
  receiveLsn: string | null;
}

export type SyncPromotionRule =
  /** Any candidate the selection allows (synchronous mode off, or recorded asynchronous). */
  | { kind: 'any_candidate'; warning: string | null }
  /** Only these may be promoted; the others get the reason. */
  | { kind: 'only'; allowed: string[]; why: Record<string, SyncExclusion> }
  /** Nobody may be promoted (`sync_record_stale`: the recorded set is about another master). */
  | { kind: 'none'; code: 'sync_quorum' | 'sync_record_stale'; reason: string };

export interface SyncExclusion {
  code: 'not_sync_member' | 'sync_behind';
  reason: string;
}

export function membersNeeded(n: number, k: number): number {
  return n - k + 1;
}

function received(f: SyncMemberFacts): bigint | null {
  const lsn = parseLsn(f.receiveLsn);
  return f.reachable && lsn !== null ? lsnToBigInt(lsn) : null;
}

/**
 * `master`: the master failed over (or switched from). A set recorded for another master (the
 * previous one, one written for a promotion that did not happen, none) says nothing of where this
 * master's acknowledged commits are: nobody is promoted, as the agents' own rule refuses
 * (agent/election/sync-rule.ts `sync_record_stale`), whatever its quorum. Undefined: not checked
 * (the agents' rule checks it itself before asking; an operator's promote with no master in the book).
 */
export function syncPromotionRule(mode: SynchronousMode, record: SyncRecord | null, facts: readonly SyncMemberFacts[], master?: string | null): SyncPromotionRule {
  if (mode === 'off') return { kind: 'any_candidate', warning: null };
  if (record !== null && master !== undefined && record.master !== master) {
    return {
      kind: 'none',
      code: 'sync_record_stale',
      reason: `the recorded synchronous set describes ${record.master ?? 'no master'}, not ${master ?? 'the lost master'} (recorded ${record.at}: ${record.reason}): where ${master ?? 'its'} acknowledged commits are is unknown`,
    };
  }
  if (record === null || record.quorum === 0) {
    const since = record === null ? 'no synchronous set was ever recorded' : `replication was recorded asynchronous at ${record.at} (${record.reason})`;
    return { kind: 'any_candidate', warning: `synchronous_mode ${mode}, but ${since}: this failover may lose acknowledged writes (lag limits apply)` };
  }
  const n = record.members.length;
  const k = record.quorum;
  const needed = membersNeeded(n, k);
  const positions = record.members.map((name) => ({ name, at: received(facts.find((f) => f.name === name) ?? { name, reachable: false, receiveLsn: null }) }));
  const reachable = positions.filter((p): p is { name: string; at: bigint } => p.at !== null);
  if (reachable.length < needed) {
    const out = positions.filter((p) => p.at === null).map((p) => p.name);
    return {
      kind: 'none',
      code: 'sync_quorum',
      reason: `synchronous set ${record.members.join(', ')} (quorum ${k}): ${reachable.length} of ${n} members reachable with a WAL position, ${needed} needed (n − k + 1) to be sure the promoted one holds every acknowledged commit; out of reach: ${out.join(', ')}`,
    };
  }
  const furthest = reachable.reduce((max, p) => (p.at > max ? p.at : max), 0n);
  const why: Record<string, SyncExclusion> = {};
  const allowed: string[] = [];
  for (const p of positions) {
    if (p.at === null) why[p.name] = { code: 'sync_behind', reason: 'is a synchronous member out of reach' };
    else if (n > k && p.at < furthest) why[p.name] = { code: 'sync_behind', reason: 'is a synchronous member behind the furthest reachable member (quorum: only the furthest is sure to hold every acknowledged commit)' };
    else allowed.push(p.name);
  }
  for (const f of facts) if (!record.members.includes(f.name)) why[f.name] = { code: 'not_sync_member', reason: `is not in the recorded synchronous set (${record.members.join(', ')}): it may lack acknowledged commits` };
  return { kind: 'only', allowed, why };
}
