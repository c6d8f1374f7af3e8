/**
 * The agents' election in etcd (design §9 rule 6): the snapshot every agent judges on (all keys
 * read in ONE read-only transaction, so at one revision), and the writes:
 *   - take: ONE transaction that puts `master` (naming this node) and `master_lease/<node>` (under
 *     the agent's master lease) only if
 *       1. `master` still has the mod revision the agent judged on,
 *       2. no `master_lease/*` exists (every master fenced, rule 1),
 *       3. every member record judged on still has its mod revision (a member that moved ahead
 *          or changed state in between makes it fail), and no member record was created or
 *          changed after the snapshot (a member whose agent came back meanwhile is not ignored),
 *       4. in deployment `ha`: `leader` is still absent (a controller that came back decides);
 *   - confirm: the promoted timeline and WAL position written into `master`, only while the key
 *     is still the one taken (same mod revision) and this node's lease key still exists;
 *   - revert: after a failed promotion, `master` put back as it was before the take, only while it
 *     is still the one taken, so the next best candidate can try.
 */
import type { ICompare, IRangeResponse, IRequestOp } from 'etcd3';
import type { EtcdContext } from '../../store/etcd/client.js';
import { prefixEnd } from '../../store/etcd/guarded-txn.js';
import { encodeMasterRecord, parseMasterRecord, type MasterRecord } from '../../store/etcd/master-record.js';
import { withDeadline } from '../../store/etcd/store-error.js';
import { isSyncRecord, type SyncRecord } from '../../model/sync-record.js';
import { parseMemberRecord } from './member-read.js';
import type { MemberRead } from './judge.js';

export interface StoreSnapshot {
  readonly revision: string;
  readonly master: { readonly record: MasterRecord | null; readonly modRevision: string; readonly raw: string | null };
  readonly leasesHeld: string[];
  /** The lease each of those keys is attached to ('0': put without one). */
  readonly leaseIds?: Readonly<Record<string, string>>;
  /** The mod revision of each `master_lease/<node>` read (the put that made the version seen: a history replay starts there). */
  readonly leaseModRevisions?: Readonly<Record<string, string>>;
  readonly members: MemberRead[];
  readonly leaderPresent: boolean;
  /** The stored server definitions (`servers/*`, raw), when read (stored-settings.ts). */
  readonly storedServers?: { readonly name: string; readonly value: string }[];
  /** The controller's recorded synchronous set (`cluster` key's `sync`; null when none) and the key's mod revision ('0': absent), when read. */
  readonly cluster?: { readonly sync: SyncRecord | null; readonly modRevision: string };
}

/** `full`: also read `servers/*` and `cluster`, in the same transaction (only when an election is near: they are the bulk). */
export async function readElectionSnapshot(ctx: EtcdContext, callMs: number, full = false): Promise<StoreSnapshot> {
  const { keys } = ctx;
  const reply = await withDeadline('read the election snapshot', callMs, () =>
    ctx.client.kv.txn({
      compare: [],
      success: [
        { request_range: { key: Buffer.from(keys.master) } },
        { request_range: { key: Buffer.from(keys.masterLeasePrefix), range_end: prefixEnd(keys.masterLeasePrefix), keys_only: true } },
        { request_range: { key: Buffer.from(keys.membersPrefix), range_end: prefixEnd(keys.membersPrefix) } },
        { request_range: { key: Buffer.from(keys.leader), count_only: true } },
        ...(full ? [{ request_range: { key: Buffer.from(keys.serversPrefix), range_end: prefixEnd(keys.serversPrefix) } }, { request_range: { key: Buffer.from(keys.cluster) } }] : []),
      ],
      failure: [],
    }),
  );
  const [master, leases, members, leader, servers, cluster] = reply.responses.map((r) => r.response_range) as [IRangeResponse, IRangeResponse, IRangeResponse, IRangeResponse, IRangeResponse | undefined, IRangeResponse | undefined];
  const masterKv = master.kvs[0];
  let record: MasterRecord | null = null;
  if (masterKv) record = parseMasterRecord(keys.master, masterKv.value); // garbage: STORE_DATA, nobody elects on it
  const names = (kvs: IRangeResponse['kvs'], folder: string): { name: string; kv: IRangeResponse['kvs'][number] }[] =>
    kvs.flatMap((kv) => {
      const name = keys.nameUnder(folder, kv.key.toString());
      return name === null ? [] : [{ name, kv }];
    });
  return {
    revision: reply.header.revision,
    master: { record, modRevision: masterKv?.mod_revision ?? '0', raw: masterKv ? masterKv.value.toString() : null },
    leasesHeld: names(leases.kvs, keys.masterLeasePrefix).map((n) => n.name),
    leaseIds: Object.fromEntries(names(leases.kvs, keys.masterLeasePrefix).map((n) => [n.name, n.kv.lease])),
    leaseModRevisions: Object.fromEntries(names(leases.kvs, keys.masterLeasePrefix).map((n) => [n.name, n.kv.mod_revision])),
    members: names(members.kvs, keys.membersPrefix).map(({ name, kv }) => ({ name, record: parseMemberRecord(name, kv.value), modRevision: kv.mod_revision })),
    leaderPresent: Number(leader.count) > 0,
    ...(servers === undefined ? {} : { storedServers: names(servers.kvs, keys.serversPrefix).map(({ name, kv }) => ({ name, value: kv.value.toString() })) }),
    ...(cluster === undefined ? {} : { cluster: { sync: syncRecordIn(cluster.kvs[0]?.value ?? null), modRevision: cluster.kvs[0]?.mod_revision ?? '0' } }),
  };
}

/** The `sync` of the `cluster` key's value; null when absent or not a set (then no agent elects under synchronous_mode). */
function syncRecordIn(value: Buffer | null): SyncRecord | null {
  if (value === null) return null;
  try {
    const head = JSON.parse(value.toString()) as { sync?: unknown } | null;
    return isSyncRecord(head?.sync) ? head.sync : null;
  } catch {
    return null;
  }
}

export interface TakeRequest {
  readonly node: string;
  readonly snapshot: StoreSnapshot;
  readonly judged: readonly { readonly name: string; readonly modRevision: string }[];
  /** Compare that no controller holds `leader` (deployment ha). */
  readonly leaderMustBeAbsent: boolean;
  /** Under synchronous_mode: the `cluster` key's mod revision judged on (its recorded set must not have changed). */
  readonly clusterModRevision?: string;
  /** The agent's master lease, already granted. */
  readonly leaseId: string;
  readonly record: MasterRecord;
}

export type TakeResult = { readonly taken: true; readonly revision: string } | { readonly taken: false; readonly why: string };

export async function takeMaster(ctx: EtcdContext, req: TakeRequest, callMs: number): Promise<TakeResult> {
  const { keys } = ctx;
  const compare: ICompare[] = [
    { key: Buffer.from(keys.master), target: 'Mod', result: 'Equal', mod_revision: req.snapshot.master.modRevision },
    // Over a range: true only when EVERY key in it has create revision 0, i.e. none exists.
    { key: Buffer.from(keys.masterLeasePrefix), range_end: prefixEnd(keys.masterLeasePrefix), target: 'Create', result: 'Equal', create_revision: 0 },
    ...req.judged.map((m): ICompare => ({ key: Buffer.from(keys.member(m.name)), target: 'Mod', result: 'Equal', mod_revision: m.modRevision })),
    { key: Buffer.from(keys.membersPrefix), range_end: prefixEnd(keys.membersPrefix), target: 'Mod', result: 'Less', mod_revision: String(BigInt(req.snapshot.revision) + 1n) },
    ...(req.leaderMustBeAbsent ? [{ key: Buffer.from(keys.leader), target: 'Create' as const, result: 'Equal' as const, create_revision: 0 }] : []),
    // The stored server definitions judged on (when read): none changed after the snapshot.
    ...(req.snapshot.storedServers === undefined ? [] : [{ key: Buffer.from(keys.serversPrefix), range_end: prefixEnd(keys.serversPrefix), target: 'Mod' as const, result: 'Less' as const, mod_revision: String(BigInt(req.snapshot.revision) + 1n) }]),
    ...(req.clusterModRevision === undefined ? [] : [{ key: Buffer.from(keys.cluster), target: 'Mod' as const, result: 'Equal' as const, mod_revision: req.clusterModRevision }]),
  ];
  const success: IRequestOp[] = [
    { request_put: { key: Buffer.from(keys.master), value: Buffer.from(encodeMasterRecord(req.record)) } },
    { request_put: { key: Buffer.from(keys.masterLease(req.node)), value: Buffer.from(JSON.stringify({ node: req.node, since: req.record.since })), lease: req.leaseId } },
  ];
  let error: unknown = null;
  try {
    const reply = await withDeadline('take the master key', callMs, () => ctx.client.kv.txn({ compare, success, failure: [] }));
    if (reply.succeeded) return { taken: true, revision: reply.header.revision };
  } catch (err) {
    error = err;
  }
  // A failed or unanswered take may still have been applied: the etcd client retries a call whose
  // first attempt was applied but answered late, and the retry's compares then fail on our own
  // write. Our exact record (its `since` is ours) under our lease means the take is ours.
  const mine = await readBackTake(ctx, req, callMs).catch(() => null);
  if (mine !== null) return { taken: true, revision: mine };
  if (error !== null) throw error;
  // Why, from a fresh snapshot (the failed transaction itself tells nothing).
  const now = await readElectionSnapshot(ctx, callMs).catch(() => null);
  return { taken: false, why: now === null ? 'the transaction failed (and the store could not be read again)' : takeRefusal(req, now) };
}

/** The mod revision of `master` when it holds exactly this take's record and our lease key exists under our lease; else null. */
async function readBackTake(ctx: EtcdContext, req: TakeRequest, callMs: number): Promise<string | null> {
  const reply = await withDeadline('read the master key back', callMs, () =>
    ctx.client.kv.txn({
      compare: [],
      success: [{ request_range: { key: Buffer.from(ctx.keys.master) } }, { request_range: { key: Buffer.from(ctx.keys.masterLease(req.node)) } }],
      failure: [],
    }),
  );
  const [master, lease] = reply.responses.map((r) => r.response_range?.kvs[0] ?? null);
  const ours = master !== null && master !== undefined && master.value.toString() === encodeMasterRecord(req.record);
  return ours && lease !== null && lease !== undefined && lease.lease === req.leaseId ? master.mod_revision : null;
}

/** What changed between the judged snapshot and `now` (pure). */
export function takeRefusal(req: Pick<TakeRequest, 'snapshot' | 'judged' | 'leaderMustBeAbsent'>, now: StoreSnapshot): string {
  const parts: string[] = [];
  if (now.master.modRevision !== req.snapshot.master.modRevision) parts.push(`the master key changed (now names ${now.master.record?.name ?? 'nobody'})`);
  if (now.leasesHeld.length > 0) parts.push(`master_lease of ${now.leasesHeld.join(', ')} exists`);
  const before = new Map(req.judged.map((m) => [m.name, m.modRevision]));
  const moved = now.members.filter((m) => before.get(m.name) !== m.modRevision).map((m) => m.name);
  const gone = req.judged.filter((m) => !now.members.some((n) => n.name === m.name)).map((m) => m.name);
  if (moved.length > 0) parts.push(`member record of ${moved.join(', ')} changed`);
  if (gone.length > 0) parts.push(`member record of ${gone.join(', ')} is gone`);
  if (req.leaderMustBeAbsent && now.leaderPresent) parts.push('a controller took leader');
  return parts.length > 0 ? parts.join('; ') : 'raced: something changed and changed back';
}

/** Writes the promoted timeline/LSN into the taken key; false when the key is no longer ours. */
export async function confirmMaster(ctx: EtcdContext, node: string, takenRevision: string, record: MasterRecord, history: { key: string; value: string } | null, callMs: number): Promise<boolean> {
  const { keys } = ctx;
  const reply = await withDeadline('confirm the master key', callMs, () =>
    ctx.client.kv.txn({
      compare: [
        { key: Buffer.from(keys.master), target: 'Mod', result: 'Equal', mod_revision: takenRevision },
        { key: Buffer.from(keys.masterLease(node)), target: 'Create', result: 'Greater', create_revision: 0 },
      ],
      success: [
        { request_put: { key: Buffer.from(keys.master), value: Buffer.from(encodeMasterRecord(record)) } },
        ...(history === null ? [] : [{ request_put: { key: Buffer.from(history.key), value: Buffer.from(history.value) } }]),
      ],
      failure: [],
    }),
  );
  return reply.succeeded;
}

/**
 * Puts `master` back as it was before the take (`previous` raw value; deleted when there was
 * none) and deletes this node's lease key, only while the key is still the one taken.
 */
export async function revertMaster(ctx: EtcdContext, node: string, takenRevision: string, previous: string | null, history: { key: string; value: string } | null, callMs: number): Promise<boolean> {
  const { keys } = ctx;
  const master = Buffer.from(keys.master);
  const reply = await withDeadline('give the master key back', callMs, () =>
    ctx.client.kv.txn({
      compare: [{ key: master, target: 'Mod', result: 'Equal', mod_revision: takenRevision }],
      success: [
        previous === null ? { request_delete_range: { key: master } } : { request_put: { key: master, value: Buffer.from(previous) } },
        { request_delete_range: { key: Buffer.from(keys.masterLease(node)) } },
        ...(history === null ? [] : [{ request_put: { key: Buffer.from(history.key), value: Buffer.from(history.value) } }]),
      ],
      failure: [],
    }),
  );
  return reply.succeeded;
}
