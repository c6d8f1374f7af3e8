/**
 * The lean client's one transaction: put a key under a lease and read another key, in one Txn
 * with no comparison (the agent's member record, src/agent/member-write.ts).
 */
import type { LeanEtcd } from './client.js';
import type { LeanKeepalive } from './keepalive.js';
import { decodeTxn, encodeTxnPutThenGet, type TxnReply } from './messages.js';

export function leanPutThenGet(etcd: LeanEtcd, what: string, put: { readonly key: string; readonly value: string; readonly lease: string }, getKey: string, callMs: number): Promise<TxnReply> {
  const request = encodeTxnPutThenGet(Buffer.from(put.key), Buffer.from(put.value), put.lease, Buffer.from(getKey));
  return etcd.call(what, '/etcdserverpb.KV/Txn', request, callMs).then(decodeTxn);
}

/** The lean pieces an agent's etcd context carries (client.ts makes them from the configuration). */
export interface LeanParts {
  readonly etcd: LeanEtcd;
  readonly keepalive: LeanKeepalive;
}
