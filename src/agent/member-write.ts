/**
 * The member record's write, which reads the `master` key in the same etcd transaction (idle
 * cost: a unary etcd call costs an idle agent about as much as everything else in its round, and
 * the rounds' backstop read of `master`, master-watch.ts, was one of them). The transaction has no
 * comparison, so it always applies; its read is linearizable (a write goes through the raft log)
 * and dated by the transaction's revision. The record is written every ttl/3 at least, more often
 * than the backstop's ttl − safety_margin, so an idle agent needs no read of its own.
 */
import type { EtcdContext } from '../store/etcd/client.js';
import { leanPutThenGet } from '../store/etcd/lean/kv.js';
import { withDeadline } from '../store/etcd/store-error.js';
import type { MasterKv } from './master-watch.js';

export interface MemberWritten {
  /** The store revision of the write (its read of `master` is at this revision). */
  readonly revision: string;
  /** The `master` key at that revision; undefined when absent. */
  readonly master: MasterKv | undefined;
}

/** Puts `members/<node>` = `value` under `leaseId` and reads `master`, in one transaction. */
export async function putMemberReadMaster(ctx: EtcdContext, node: string, value: string, leaseId: string, callMs: number): Promise<MemberWritten> {
  // The lean client when the context has one (made from the configuration): the idle agent's hot path.
  if (ctx.lean !== undefined) {
    const reply = await leanPutThenGet(ctx.lean.etcd, 'write the member record', { key: ctx.keys.member(node), value, lease: leaseId }, ctx.keys.master, callMs);
    if (!reply.succeeded) throw new Error('etcd did not apply the member record transaction (it has no comparison: it must)');
    // Anything but the put's and the range's answers is malformed: never read as "master absent".
    const [put, got] = reply.responses;
    if (reply.responses.length !== 2 || put?.kind !== 'put' || got?.kind !== 'range') throw new Error('etcd answered the member record transaction with other operations than its put and range');
    return { revision: reply.revision, master: got.kvs[0] };
  }
  const reply = await withDeadline('write the member record', callMs, () =>
    ctx.client.kv.txn({
      compare: [],
      success: [{ request_put: { key: Buffer.from(ctx.keys.member(node)), value: Buffer.from(value), lease: leaseId } }, { request_range: { key: Buffer.from(ctx.keys.master) } }],
      failure: [],
    }),
  );
  if (!reply.succeeded) throw new Error('etcd did not apply the member record transaction (it has no comparison: it must)');
  return { revision: reply.header.revision, master: reply.responses[1]?.response_range?.kvs[0] };
}
