/**
 * Term-guarded writes (design §9 rule 2): a set of puts and deletes applied in ONE etcd
 * transaction that only succeeds while the `leader` key is still the one this controller created
 * (same create revision = our term, same lease, same value naming us). A deposed leader's write
 * therefore changes nothing: it gets NOT_LEADER, and its leadership reports the loss at once.
 *
 * An unreachable etcd gives STORE_UNREACHABLE after the deadline; the write may or may not have
 * been applied then (the caller re-reads before relying on it).
 */
import type { ICompare, IRequestOp } from 'etcd3';
import { HandyRepError } from '../../model/errors.js';
import type { EtcdContext } from './client.js';
import { judgeLeaderKey, type Term } from './leader-record.js';
import { withDeadline } from './store-error.js';

/** What a guarded write needs of the leadership (EtcdLeadership is one): the term, and whom to tell of its loss. */
export interface LeadershipGuard {
  readonly current: Term | null;
  markLost(reason: string): void;
}

export type StoreOp =
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'delete'; readonly key: string }
  /** Every key starting with `prefix`. */
  | { readonly kind: 'delete-prefix'; readonly prefix: string };

/** The compare of a guarded transaction: the leader key is exactly the one our term created. */
export function termCompares(leaderKey: string, term: Term): ICompare[] {
  const key = Buffer.from(leaderKey);
  return [
    { key, target: 'Create', result: 'Equal', create_revision: term.term },
    { key, target: 'Lease', result: 'Equal', lease: term.leaseId },
    { key, target: 'Value', result: 'Equal', value: Buffer.from(term.value) },
  ];
}

/** The first key after every key that starts with `prefix` (etcd's range_end of a prefix). */
export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

export function requestOp(op: StoreOp): IRequestOp {
  switch (op.kind) {
    case 'put':
      return { request_put: { key: Buffer.from(op.key), value: Buffer.from(op.value) } };
    case 'delete':
      return { request_delete_range: { key: Buffer.from(op.key) } };
    case 'delete-prefix':
      return { request_delete_range: { key: Buffer.from(op.prefix), range_end: prefixEnd(op.prefix) } };
  }
}

/**
 * Applies `ops` atomically if this controller still leads; `what` names the write in errors
 * ("write the journal"). Returns the store revision of the write.
 */
export async function termGuardedWrite(ctx: EtcdContext, leadership: LeadershipGuard, what: string, ops: readonly StoreOp[]): Promise<{ revision: string }> {
  const term = leadership.current;
  if (!term) throw new HandyRepError('NOT_LEADER', `cannot ${what}: this controller does not lead`);
  const leaderKey = Buffer.from(ctx.keys.leader);
  const reply = await withDeadline(what, ctx.deadlineMs, () =>
    ctx.client.kv.txn({
      compare: termCompares(ctx.keys.leader, term),
      success: ops.map(requestOp),
      failure: [{ request_range: { key: leaderKey } }],
    }),
  );
  if (!reply.succeeded) {
    const kv = reply.responses[0]?.response_range?.kvs[0] ?? null;
    const judgement = judgeLeaderKey(kv, term);
    const reason = judgement.held ? 'the leader key changed while the write was sent' : judgement.reason;
    leadership.markLost(reason);
    throw new HandyRepError('NOT_LEADER', `cannot ${what}: this controller no longer leads (term ${term.term}): ${reason}; nothing was written`);
  }
  return { revision: reply.header.revision };
}

/**
 * termGuardedWrite that also requires `unchanged.key` to still have the mod revision read ('0':
 * still absent): null, nothing written, when only that key changed meanwhile (the caller reads
 * again); NOT_LEADER as termGuardedWrite when the term is gone.
 */
export async function termGuardedWriteIfUnchanged(ctx: EtcdContext, leadership: LeadershipGuard, what: string, ops: readonly StoreOp[], unchanged: { readonly key: string; readonly modRevision: string }): Promise<{ revision: string } | null> {
  const term = leadership.current;
  if (!term) throw new HandyRepError('NOT_LEADER', `cannot ${what}: this controller does not lead`);
  const leaderKey = Buffer.from(ctx.keys.leader);
  const reply = await withDeadline(what, ctx.deadlineMs, () =>
    ctx.client.kv.txn({
      compare: [...termCompares(ctx.keys.leader, term), { key: Buffer.from(unchanged.key), target: 'Mod', result: 'Equal', mod_revision: unchanged.modRevision }],
      success: ops.map(requestOp),
      failure: [{ request_range: { key: leaderKey } }],
    }),
  );
  if (reply.succeeded) return { revision: reply.header.revision };
  const judgement = judgeLeaderKey(reply.responses[0]?.response_range?.kvs[0] ?? null, term);
  // Our term still stands: the other compare failed.
  if (judgement.held) return null;
  leadership.markLost(judgement.reason);
  throw new HandyRepError('NOT_LEADER', `cannot ${what}: this controller no longer leads (term ${term.term}): ${judgement.reason}; nothing was written`);
}
