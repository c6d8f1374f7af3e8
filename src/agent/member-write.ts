/**
 * The member record's write, which reads the `master` key in the same etcd transaction (idle
 * cost: a unary etcd call costs an idle agent about as much as everything else in its round, and
 * the rounds' backstop read of `master`, master-watch.ts, was one of them). The transaction has no
 * comparison, so it always applies; its read is linearizable (a write goes through the raft log)
 * and dated by the transaction's revision. The record is written every ttl/3 at least, more often
 * than the backstop's ttl − safety_margin, so an idle agent needs no read of its own.
 *
 * A replica's write also reads the recorded master's member record (its WAL position, for
 * /replica?lag= and the master position it publishes): a range read of its own every round was,
 * after the probe, the largest share of an idle replica agent's I/O. The record is written at
 * least every ttl/3, and every round while its facts move (a replica streaming from a master that
 * writes): so read at least every ttl/3, and every round under load.
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
  /** The member record of the node asked for (`alsoMember`) at that revision: its text, null when absent; undefined when not asked. */
  readonly alsoMember?: string | null;
}

const MALFORMED = 'etcd answered the member record transaction with other operations than its put and ranges';

/**
 * Puts `members/<node>` = `value` under `leaseId` and reads `master`, in one transaction; with
 * `alsoMember`, that node's member record too.
 */
export async function putMemberReadMaster(ctx: EtcdContext, node: string, value: string, leaseId: string, callMs: number, alsoMember: string | null = null): Promise<MemberWritten> {
  // A member record always lives under its agent's lease: without one it would outlive the agent.
  if (!/^[1-9]\d*$/.test(leaseId)) throw new Error(`the member record is written under a lease, not ${JSON.stringify(leaseId)}`);
  const alsoKey = alsoMember === null ? null : ctx.keys.member(alsoMember);
  const ranges = alsoKey === null ? 1 : 2;
  // The lean client when the context has one (made from the configuration): the idle agent's hot path.
  if (ctx.lean !== undefined) {
    const reply = await leanPutThenGet(ctx.lean.etcd, 'write the member record', { key: ctx.keys.member(node), value, lease: leaseId }, ctx.keys.master, callMs, alsoKey);
    if (!reply.succeeded) throw new Error('etcd did not apply the member record transaction (it has no comparison: it must)');
    // Anything but the put's and the ranges' answers is malformed: never read as "master absent".
    const [put, got, also] = reply.responses;
    if (reply.responses.length !== 1 + ranges || put?.kind !== 'put' || got?.kind !== 'range' || (ranges === 2 && also?.kind !== 'range')) throw new Error(MALFORMED);
    const member = also?.kind === 'range' ? (also.kvs[0]?.value.toString('utf8') ?? null) : undefined;
    return { revision: reply.revision, master: got.kvs[0], ...(member === undefined ? {} : { alsoMember: member }) };
  }
  const reply = await withDeadline('write the member record', callMs, () =>
    ctx.client.kv.txn({
      compare: [],
      success: [
        { request_put: { key: Buffer.from(ctx.keys.member(node)), value: Buffer.from(value), lease: leaseId } },
        { request_range: { key: Buffer.from(ctx.keys.master) } },
        ...(alsoKey === null ? [] : [{ request_range: { key: Buffer.from(alsoKey) } }]),
      ],
      failure: [],
    }),
  );
  if (!reply.succeeded) throw new Error('etcd did not apply the member record transaction (it has no comparison: it must)');
  if (reply.responses.length !== 1 + ranges || reply.responses.slice(1).some((r) => !r.response_range)) throw new Error(MALFORMED);
  const also = alsoKey === null ? undefined : (reply.responses[2]?.response_range?.kvs[0]?.value.toString('utf8') ?? null);
  return { revision: reply.header.revision, master: reply.responses[1]?.response_range?.kvs[0], ...(also === undefined ? {} : { alsoMember: also }) };
}
