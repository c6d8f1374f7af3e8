/**
 * The etcd v3 messages of the agent's hot path (etcd's rpc.proto and kv.proto field numbers):
 * LeaseKeepAlive, a Txn of put + range, a Range of one key, and Authenticate. Only the fields HandyRep reads are
 * decoded; the rest is skipped.
 */
import { ProtoReader, ProtoWriter } from './proto.js';

/** mvccpb.KeyValue, in the shape the etcd3 package gives it (int64 as decimal strings). */
export interface LeanKeyValue {
  readonly key: Buffer;
  readonly create_revision: string;
  readonly mod_revision: string;
  readonly version: string;
  readonly value: Buffer;
  readonly lease: string;
}

export interface KeepAliveReply {
  readonly id: string;
  /** Seconds left; 0 or less: the lease is gone. */
  readonly ttl: string;
}

export type TxnOpReply = { readonly kind: 'range'; readonly kvs: readonly LeanKeyValue[] } | { readonly kind: 'put' } | { readonly kind: 'other' };

export interface TxnReply {
  readonly revision: string;
  readonly succeeded: boolean;
  readonly responses: readonly TxnOpReply[];
}

/** etcdserverpb.LeaseKeepAliveRequest { int64 ID = 1 }. */
export function encodeKeepAlive(leaseId: string): Buffer {
  return new ProtoWriter().varint(1, leaseId).finish();
}

/** etcdserverpb.LeaseKeepAliveResponse { ResponseHeader header = 1; int64 ID = 2; int64 TTL = 3 }. */
export function decodeKeepAlive(buf: Buffer): KeepAliveReply {
  const reader = new ProtoReader(buf);
  let id = '0';
  let ttl = '0';
  while (!reader.done) {
    const tag = reader.tag();
    if (tag === ((2 << 3) | 0)) id = reader.int64();
    else if (tag === ((3 << 3) | 0)) ttl = reader.int64();
    else reader.skip(tag);
  }
  return { id, ttl };
}

/**
 * etcdserverpb.TxnRequest with no comparison whose success branch puts `key` = `value` under
 * `lease` (RequestOp.request_put = 2: PutRequest { key = 1, value = 2, lease = 3 }) and then
 * ranges over the single key `rangeKey` (RequestOp.request_range = 1: RangeRequest { key = 1 }),
 * and over `alsoRangeKey` too when given (its answer is the third).
 */
export function encodeTxnPutThenGet(key: Buffer, value: Buffer, lease: string, rangeKey: Buffer, alsoRangeKey: Buffer | null = null): Buffer {
  const put = new ProtoWriter().bytes(1, key).bytes(2, value).varint(3, lease).finish();
  const writer = new ProtoWriter().bytes(2, new ProtoWriter().bytes(2, put).finish());
  for (const k of alsoRangeKey === null ? [rangeKey] : [rangeKey, alsoRangeKey]) writer.bytes(2, new ProtoWriter().bytes(1, new ProtoWriter().bytes(1, k).finish()).finish());
  return writer.finish();
}

/** etcdserverpb.TxnResponse { ResponseHeader header = 1; bool succeeded = 2; repeated ResponseOp responses = 3 }. */
export function decodeTxn(buf: Buffer): TxnReply {
  const reader = new ProtoReader(buf);
  let revision = '0';
  let succeeded = false;
  const responses: TxnOpReply[] = [];
  while (!reader.done) {
    const tag = reader.tag();
    if (tag === ((1 << 3) | 2)) revision = headerRevision(reader.bytes());
    else if (tag === ((2 << 3) | 0)) succeeded = reader.varint() !== 0n;
    else if (tag === ((3 << 3) | 2)) responses.push(decodeResponseOp(reader.bytes()));
    else reader.skip(tag);
  }
  return { revision, succeeded, responses };
}

/** etcdserverpb.RangeRequest { bytes key = 1 } over the single key `key` (linearizable: serializable = 7 left false). */
export function encodeRange(key: Buffer): Buffer {
  return new ProtoWriter().bytes(1, key).finish();
}

/** etcdserverpb.RangeResponse { ResponseHeader header = 1; repeated mvccpb.KeyValue kvs = 2; … }: the store revision and the pairs. */
export function decodeRange(buf: Buffer): { readonly revision: string; readonly kvs: readonly LeanKeyValue[] } {
  const reader = new ProtoReader(buf);
  let revision = '0';
  const kvs: LeanKeyValue[] = [];
  while (!reader.done) {
    const tag = reader.tag();
    if (tag === ((1 << 3) | 2)) revision = headerRevision(reader.bytes());
    else if (tag === ((2 << 3) | 2)) kvs.push(decodeKeyValue(reader.bytes()));
    else reader.skip(tag);
  }
  return { revision, kvs };
}

/** etcdserverpb.AuthenticateRequest { string name = 1; string password = 2 }. */
export function encodeAuthenticate(name: string, password: string): Buffer {
  return new ProtoWriter().bytes(1, name).bytes(2, password).finish();
}

/** etcdserverpb.AuthenticateResponse { ResponseHeader header = 1; string token = 2 }. */
export function decodeAuthenticate(buf: Buffer): string {
  const reader = new ProtoReader(buf);
  let token = '';
  while (!reader.done) {
    const tag = reader.tag();
    if (tag === ((2 << 3) | 2)) token = reader.bytes().toString('utf8');
    else reader.skip(tag);
  }
  return token;
}

/** ResponseHeader { uint64 cluster_id = 1; uint64 member_id = 2; int64 revision = 3; uint64 raft_term = 4 }. */
function headerRevision(buf: Buffer): string {
  const reader = new ProtoReader(buf);
  let revision = '0';
  while (!reader.done) {
    const tag = reader.tag();
    if (tag === ((3 << 3) | 0)) revision = reader.int64();
    else reader.skip(tag);
  }
  return revision;
}

/** ResponseOp { oneof: RangeResponse response_range = 1; PutResponse response_put = 2; … }. */
function decodeResponseOp(buf: Buffer): TxnOpReply {
  const reader = new ProtoReader(buf);
  let op: TxnOpReply = { kind: 'other' };
  while (!reader.done) {
    const tag = reader.tag();
    if (tag === ((1 << 3) | 2)) op = { kind: 'range', kvs: decodeRangeKvs(reader.bytes()) };
    else if (tag === ((2 << 3) | 2)) {
      reader.bytes();
      op = { kind: 'put' };
    } else reader.skip(tag);
  }
  return op;
}

/** RangeResponse { ResponseHeader header = 1; repeated mvccpb.KeyValue kvs = 2; … }. */
function decodeRangeKvs(buf: Buffer): LeanKeyValue[] {
  const reader = new ProtoReader(buf);
  const kvs: LeanKeyValue[] = [];
  while (!reader.done) {
    const tag = reader.tag();
    if (tag === ((2 << 3) | 2)) kvs.push(decodeKeyValue(reader.bytes()));
    else reader.skip(tag);
  }
  return kvs;
}

/** mvccpb.KeyValue { bytes key = 1; int64 create_revision = 2; mod_revision = 3; version = 4; bytes value = 5; int64 lease = 6 }. */
function decodeKeyValue(buf: Buffer): LeanKeyValue {
  const reader = new ProtoReader(buf);
  const kv = { key: Buffer.alloc(0), create_revision: '0', mod_revision: '0', version: '0', value: Buffer.alloc(0), lease: '0' };
  while (!reader.done) {
    const tag = reader.tag();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 2) kv.key = Buffer.from(reader.bytes());
    else if (field === 5 && wire === 2) kv.value = Buffer.from(reader.bytes());
    else if (field === 2 && wire === 0) kv.create_revision = reader.int64();
    else if (field === 3 && wire === 0) kv.mod_revision = reader.int64();
    else if (field === 4 && wire === 0) kv.version = reader.int64();
    else if (field === 6 && wire === 0) kv.lease = reader.int64();
    else reader.skip(tag);
  }
  return kv;
}
