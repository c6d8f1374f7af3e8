/**
 * The `leader` key and the decisions about it, pure: what its value holds, whether the key as read
 * (or as a watch reports it) is still ours, and when an unrenewed lease must count as lost.
 */
import { NAME_PATTERN } from '../../config/validators.js';
import { HandyRepError } from '../../model/errors.js';
import { DEPLOYMENTS, type Deployment } from '../../config/schema.js';

/** The value of the `leader` key (JSON). */
export interface LeaderRecord {
  controller_id: string;
  /** Where the leader's API answers (followers forward or point operators there); null = none. */
  api_url: string | null;
  /** When it won (ISO 8601). */
  since: string;
  /**
   * The leading controller's handyrep.deployment, when it says: `agents` tells the master's agent
   * that this controller leaves the synchronous set to it (agent/sync/keeper-store.ts). Absent
   * (older controllers, `single`/`ha`): the leader keeps the set itself.
   */
  deployment?: Deployment;
}

/**
 * A leadership term: the create revision of the leader key this controller wrote (etcd's
 * revisions only grow, so a later term is always a larger number), the lease holding that key and
 * the exact value written (guarded writes compare it).
 */
export interface Term {
  /** Decimal int64 as etcd gives it. */
  readonly term: string;
  readonly leaseId: string;
  readonly record: LeaderRecord;
  /** The exact bytes of the leader key's value. */
  readonly value: string;
}

/** Who leads, as a follower sees it. */
export interface LeaderView {
  readonly record: LeaderRecord;
  readonly term: string;
  readonly leaseId: string;
  /** The store revision the read was served at, and when it was read (followers report staleness). */
  readonly readRevision: string;
  readonly readAtMs: number;
}

/** The parts of an etcd key-value the decisions look at. */
export interface LeaderKeyValue {
  create_revision: string;
  lease: string;
  value: Buffer | string;
}

export function encodeLeaderRecord(record: LeaderRecord): string {
  return JSON.stringify({ controller_id: record.controller_id, api_url: record.api_url, since: record.since, ...(record.deployment === undefined ? {} : { deployment: record.deployment }) });
}

/** The record in a leader key's value; a value that is not one is an error naming the key. */
export function parseLeaderRecord(key: string, value: Buffer | string): LeaderRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString());
  } catch {
    parsed = null;
  }
  const v = parsed as Partial<Record<keyof LeaderRecord, unknown>> | null;
  if (
    typeof v !== 'object' || v === null ||
    // The id is printed in refusals, logs and on terminals: a name only (no control characters).
    typeof v.controller_id !== 'string' || !NAME_PATTERN.test(v.controller_id) ||
    !(typeof v.api_url === 'string' || v.api_url === null) ||
    typeof v.since !== 'string'
  ) {
    throw new HandyRepError('STORE_DATA', `etcd key ${key} does not hold a leader record ({"controller_id", "api_url", "since"} expected)`);
  }
  // A deployment this version does not know (a newer controller's) is read as not said: the
  // record stays readable, and the master's agent then takes the leader as keeping the set
  // itself, the safe side (review s8 N4).
  const known = (DEPLOYMENTS as readonly unknown[]).includes(v.deployment);
  return { controller_id: v.controller_id, api_url: v.api_url, since: v.since, ...(known ? { deployment: v.deployment as Deployment } : {}) };
}

export type LeaderKeyJudgement = { held: true } | { held: false; reason: string };

/** Whether the leader key as read (null = absent) still belongs to our term. */
export function judgeLeaderKey(kv: LeaderKeyValue | null, ours: Term): LeaderKeyJudgement {
  if (kv === null || kv.create_revision === '0') return { held: false, reason: 'the leader key is gone (lease expired, revoked or deleted)' };
  if (kv.create_revision !== ours.term) {
    return { held: false, reason: `the leader key was re-created (term ${kv.create_revision}, ours was ${ours.term})` };
  }
  if (kv.lease !== ours.leaseId) return { held: false, reason: `the leader key is under another lease (${kv.lease}, ours ${ours.leaseId})` };
  if (kv.value.toString() !== ours.value) return { held: false, reason: 'the leader key names another controller' };
  return { held: true };
}

/** How often the lease is renewed: a third of its TTL (as etcd's own Go client does). */
export function renewIntervalMs(ttlSeconds: number): number {
  return Math.floor((ttlSeconds * 1000) / 3);
}

/**
 * When we must stop acting if no renewal succeeds: etcd may expire the lease `ttl` after the last
 * renewal it received, which is after we sent it; stopping a margin earlier means a deposed leader
 * stops before a successor can start (clock drift within the margin).
 */
export function leadershipDeadlineMs(lastRenewalSentMs: number, ttlSeconds: number): number {
  const ttlMs = ttlSeconds * 1000;
  return lastRenewalSentMs + ttlMs - Math.min(1000, ttlMs / 4);
}

/**
 * Whether a command that may take `minRemainingMs` may start at `nowMs`: 'ok'; 'short' (the term
 * is held but its lease could expire in etcd before the command is done: refuse this command,
 * the next renewal restores the time); 'expired' (the deadline has passed: the term is over).
 */
export function leaseTimeFor(lastRenewalSentMs: number, ttlSeconds: number, nowMs: number, minRemainingMs: number): 'ok' | 'short' | 'expired' {
  const left = leadershipDeadlineMs(lastRenewalSentMs, ttlSeconds) - nowMs;
  if (left <= 0) return 'expired';
  return left >= minRemainingMs ? 'ok' : 'short';
}

/** A keep-alive answer with TTL 0 or less says the lease no longer exists. */
export function keepaliveSaysExpired(ttlSecondsAnswered: string): boolean {
  return !(Number(ttlSecondsAnswered) > 0);
}
