/**
 * The lean client's key-value calls: put a key under a lease and read another key, in one Txn
 * with no comparison (the agent's member record, src/agent/member-write.ts), and a read of one key
 * (a replica's read of its master's member record each round, src/agent/master-view.ts).
 */
import type { LeanEtcd } from './client.js';
import type { LeanKeepalive } from './keepalive.js';
import { decodeRange, decodeTxn, encodeRange, encodeTxnPutThenGet, type LeanKeyValue, type TxnReply } from './messages.js';

export function leanPutThenGet(etcd: LeanEtcd, what: string, put: { readonly key: string; readonly value: string; readonly lease: string }, getKey: string, callMs: number, alsoGetKey: string | null = null): Promise<TxnReply> {
  const request = encodeTxnPutThenGet(Buffer.from(put.key), Buffer.from(put.value), put.lease, Buffer.from(getKey), alsoGetKey === null ? null : Buffer.from(alsoGetKey));
  return etcd.call(what, '/etcdserverpb.KV/Txn', request, callMs).then(decodeTxn);
}

/** The value of `key` (linearizable read); null when absent. */
export async function leanGet(etcd: LeanEtcd, what: string, key: string, callMs: number): Promise<LeanKeyValue | null> {
  const reply = decodeRange(await etcd.call(what, '/etcdserverpb.KV/Range', encodeRange(Buffer.from(key)), callMs));
  return reply.kvs[0] ?? null;
}

/** The lean pieces an agent's etcd context carries (client.ts makes them from the configuration). */
export interface LeanParts {
  readonly etcd: LeanEtcd;
  readonly keepalive: LeanKeepalive;
}
