/**
 * Writing the `master` key (contract with the node agents, design §9 rule 1 and 3): the leading
 * controller records a new master BEFORE it asks PostgreSQL to promote, in ONE transaction that
 * succeeds only when
 *   1. the `leader` key is still ours (term-guarded, guarded-txn.ts),
 *   2. the `master` key is exactly as this controller read it (same mod revision; absent stays
 *      absent), so two writers can never both believe they recorded their master, and
 *   3. `master_lease/<n>` is absent for EVERY server of the book other than the new master, and
 *      for the one the key named (its agent released it, or its lease ran out in etcd: that
 *      PostgreSQL is no longer writable under the agent's rule; when no agent runs for a node the
 *      key never exists). Not only the master the book names: a failover has already disabled it
 *      by the time it promotes, and the key may be absent (never seeded), so "the old master" can
 *      be unknown exactly when it matters; an agent-held lease anywhere means a writable master.
 * Agents stop any writable PostgreSQL the key does not name: a promotion without this write
 * would be undone, and one before it could race an old master still holding its lease.
 */
import { HandyRepError } from '../../model/errors.js';
import type { EtcdContext } from './client.js';
import { requestOp, termCompares, type LeadershipGuard } from './guarded-txn.js';
import { judgeLeaderKey } from './leader-record.js';
import { encodeMasterRecord, parseMasterRecord, type MasterRecord } from './master-record.js';
import { withDeadline } from './store-error.js';

/** The `master` key as read: its record (null when absent) and mod revision ('0' when absent). */
export interface MasterKeyRead {
  readonly record: MasterRecord | null;
  readonly modRevision: string;
  /**
   * The store's revision when this (linearizable) read was served: a later read that returns a
   * higher one was served after it (agent-vantage.ts orders probes by it, without clocks).
   */
  readonly readRevision?: string;
}

export async function readMasterKey(ctx: EtcdContext, deadlineMs = ctx.deadlineMs): Promise<MasterKeyRead> {
  const key = ctx.keys.master;
  const reply = await withDeadline('read the master key', deadlineMs, () => ctx.client.kv.range({ key: Buffer.from(key) }));
  const kv = reply.kvs[0];
  const readRevision = reply.header?.revision; // absent only from test fakes
  return kv ? { record: parseMasterRecord(key, kv.value), modRevision: kv.mod_revision, readRevision } : { record: null, modRevision: '0', readRevision };
}

/**
 * The nodes whose `master_lease` must be absent before `next` becomes master: every server of the
 * book (enabled or not) and the one the key names, except `next` itself.
 */
export function fencedByLease(read: MasterKeyRead, next: string, bookServers: readonly string[]): string[] {
  const names = new Set<string>(bookServers);
  if (read.record !== null) names.add(read.record.name);
  names.delete(next);
  return [...names].sort();
}

/** What the failed transaction's reads say, in the order they were asked: leader held?, master key now, leases still held. */
export interface MasterWriteFailure {
  leaderHeld: boolean;
  leaderReason: string;
  masterModRevisionNow: string;
  leasesHeld: readonly string[];
}

/** Why the write was refused, for the step's details (pure). */
export function masterWriteRefusal(expectedModRevision: string, failure: MasterWriteFailure): string {
  if (!failure.leaderHeld) return `this controller no longer leads: ${failure.leaderReason}`;
  const parts: string[] = [];
  if (failure.masterModRevisionNow !== expectedModRevision) {
    parts.push(`the master key changed since it was read (mod revision ${expectedModRevision} → ${failure.masterModRevisionNow})`);
  }
  if (failure.leasesHeld.length > 0) {
    parts.push(`the agent of ${failure.leasesHeld.join(', ')} still holds its master lease (that PostgreSQL may still take writes)`);
  }
  return parts.length > 0 ? parts.join('; ') : 'the transaction failed for no visible reason (raced): nothing was written';
}

/**
 * Records `next` as master (see the module comment). Resolves with the write's revision, or
 * throws NOT_LEADER (leadership lost: reported to the guard) / REFUSED (key changed, lease held).
 */
export async function writeMasterKey(ctx: EtcdContext, leadership: LeadershipGuard, read: MasterKeyRead, next: MasterRecord, leaseNodes: readonly string[]): Promise<{ revision: string }> {
  const term = leadership.current;
  if (!term) throw new HandyRepError('NOT_LEADER', 'cannot record the master: this controller does not lead');
  const masterKey = Buffer.from(ctx.keys.master);
  const leaseKeys = leaseNodes.map((n) => Buffer.from(ctx.keys.masterLease(n)));
  const reply = await withDeadline('record the new master', ctx.deadlineMs, () =>
    ctx.client.kv.txn({
      compare: [
        ...termCompares(ctx.keys.leader, term),
        { key: masterKey, target: 'Mod', result: 'Equal', mod_revision: read.modRevision },
        ...leaseKeys.map((key) => ({ key, target: 'Create' as const, result: 'Equal' as const, create_revision: 0 })),
      ],
      success: [requestOp({ kind: 'put', key: ctx.keys.master, value: encodeMasterRecord(next) })],
      failure: [{ request_range: { key: Buffer.from(ctx.keys.leader) } }, { request_range: { key: masterKey } }, ...leaseKeys.map((key) => ({ request_range: { key } }))],
    }),
  );
  if (reply.succeeded) return { revision: reply.header.revision };
  const ranges = reply.responses.map((r) => r.response_range?.kvs[0] ?? null);
  const judgement = judgeLeaderKey(ranges[0] ?? null, term);
  const failure: MasterWriteFailure = {
    leaderHeld: judgement.held,
    leaderReason: judgement.held ? '' : judgement.reason,
    masterModRevisionNow: ranges[1]?.mod_revision ?? '0',
    leasesHeld: leaseNodes.filter((_, i) => ranges[i + 2] !== null && ranges[i + 2] !== undefined),
  };
  const reason = masterWriteRefusal(read.modRevision, failure);
  if (!failure.leaderHeld) {
    leadership.markLost(reason);
    throw new HandyRepError('NOT_LEADER', `cannot record ${next.name} as master: ${reason}`);
  }
  throw new HandyRepError('REFUSED', `cannot record ${next.name} as master: ${reason}`);
}

/** The lease `master_lease/<node>` is attached to now, or null when the key is absent. */
export async function masterLeaseId(ctx: EtcdContext, node: string, deadlineMs = ctx.deadlineMs): Promise<string | null> {
  const key = Buffer.from(ctx.keys.masterLease(node));
  const reply = await withDeadline(`read the master lease of ${node}`, deadlineMs, () => ctx.client.kv.range({ key }));
  return reply.kvs[0]?.lease ?? null;
}

/** Whether etcd lease `id` still exists (TTL left ≥ 0; 0 = about to expire but not yet; -1 = expired, revoked or unknown). */
export async function leaseAlive(ctx: EtcdContext, id: string): Promise<boolean> {
  const reply = await withDeadline('read a master lease\'s time to live', ctx.deadlineMs, () => ctx.client.leaseClient.leaseTimeToLive({ ID: id }));
  return Number(reply.TTL) >= 0;
}

/** Whether `master_lease/<node>` exists now (its agent keeps it alive while its node is a writable master). */
export async function masterLeaseHeld(ctx: EtcdContext, node: string): Promise<boolean> {
  const key = Buffer.from(ctx.keys.masterLease(node));
  const reply = await withDeadline(`read the master lease of ${node}`, ctx.deadlineMs, () => ctx.client.kv.range({ key, count_only: true }));
  return Number(reply.count) > 0;
}
