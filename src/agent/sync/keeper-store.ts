/**
 * The etcd side of the master's agent keeping the synchronous set (keeper-decide.ts): one
 * read-only transaction for what the decision needs (`master`, this node's `master_lease`,
 * `cluster`, every `members/*` and `servers/*`), and the record write: the `cluster` key's `sync`
 * (the controller's format and key, so the election reads one place) with the change appended to
 * `sync_history`, in ONE transaction that succeeds only while
 *   1. `master` still has the mod revision read (it names this node: no election happened since),
 *   2. `master_lease/<node>` is under this agent's lease (only the lease holder records),
 *   3. `cluster` still has the mod revision read (nobody else changed it in between: no update lost),
 *   4. no controller that keeps the set holds `leader` (one that leads in `ha` keeps the set itself:
 *      files out of step during a change of deployment must not make two keepers). A controller
 *      whose leader record says deployment `agents` leaves the set to the agents: the record then
 *      goes ahead while that same leader record is in place (its mod revision as read).
 */
import type { IKeyValue, IRangeResponse } from 'etcd3';
import type { EtcdContext } from '../../store/etcd/client.js';
import { prefixEnd } from '../../store/etcd/guarded-txn.js';
import { parseLeaderRecord } from '../../store/etcd/leader-record.js';
import { parseMasterRecord, type MasterRecord } from '../../store/etcd/master-record.js';
import { withDeadline } from '../../store/etcd/store-error.js';
import { isSyncRecord, SYNC_HISTORY_LIMIT, type SyncRecord } from '../../model/sync-record.js';
import { makeClusterStatus } from '../../model/status.js';
import type { SyncSet } from '../../engine/sync-set.js';
import { parseMemberRecord } from '../election/member-read.js';
import type { MemberRead } from '../election/judge.js';

export interface KeeperView {
  readonly master: { readonly record: MasterRecord | null; readonly modRevision: string };
  /** The lease id `master_lease/<node>` is under; null when the key is absent. */
  readonly leaseOfKey: string | null;
  /** The `cluster` key: its value as an object (null when absent), the recorded set, the mod revision ('0': absent). */
  readonly cluster: { readonly head: Record<string, unknown> | null; readonly sync: SyncRecord | null; readonly modRevision: string };
  readonly members: readonly MemberRead[];
  readonly storedServers: readonly { readonly name: string; readonly value: string }[];
  /**
   * The `leader` key: absent (modRevision '0'), or held by a controller that keeps the set itself
   * (`keepsSync`: any leader record but one saying deployment `agents`, an unreadable one included).
   */
  readonly leader: { readonly modRevision: string; readonly keepsSync: boolean };
}

export class KeeperStoreError extends Error {}

export async function readKeeperView(ctx: EtcdContext, node: string, callMs: number): Promise<KeeperView> {
  const { keys } = ctx;
  const range = (prefix: string): { request_range: { key: Buffer; range_end: Buffer } } => ({ request_range: { key: Buffer.from(prefix), range_end: prefixEnd(prefix) } });
  const reply = await withDeadline('read the synchronous set', callMs, () =>
    ctx.client.kv.txn({
      compare: [],
      success: [
        { request_range: { key: Buffer.from(keys.master) } },
        { request_range: { key: Buffer.from(keys.masterLease(node)) } },
        { request_range: { key: Buffer.from(keys.cluster) } },
        range(keys.membersPrefix),
        range(keys.serversPrefix),
        { request_range: { key: Buffer.from(keys.leader) } },
      ],
      failure: [],
    }),
  );
  const [master, lease, cluster, members, servers, leader] = reply.responses.map((r) => r.response_range) as IRangeResponse[];
  const masterKv = master?.kvs[0];
  const clusterKv = cluster?.kvs[0];
  const head = clusterKv === undefined ? null : parseHead(keys.cluster, clusterKv.value);
  const named = (kvs: IRangeResponse['kvs'] | undefined, folder: string): { name: string; value: Buffer; modRevision: string }[] =>
    (kvs ?? []).flatMap((kv) => {
      const name = keys.nameUnder(folder, kv.key.toString());
      return name === null ? [] : [{ name, value: kv.value, modRevision: kv.mod_revision }];
    });
  return {
    master: { record: masterKv ? parseMasterRecord(keys.master, masterKv.value) : null, modRevision: masterKv?.mod_revision ?? '0' },
    leaseOfKey: lease?.kvs[0]?.lease ?? null,
    cluster: { head, sync: isSyncRecord(head?.['sync']) ? head['sync'] : null, modRevision: clusterKv?.mod_revision ?? '0' },
    members: named(members?.kvs, keys.membersPrefix).map((m) => ({ name: m.name, record: parseMemberRecord(m.name, m.value), modRevision: m.modRevision })),
    storedServers: named(servers?.kvs, keys.serversPrefix).map((s) => ({ name: s.name, value: s.value.toString() })),
    leader: leaderOf(keys.leader, leader?.kvs[0]),
  };
}

/** Whether the leader (if any) keeps the set itself: only a record saying deployment `agents` leaves it to the agents. */
function leaderOf(key: string, kv: IKeyValue | undefined): KeeperView['leader'] {
  if (kv === undefined) return { modRevision: '0', keepsSync: false };
  let deployment: string | undefined;
  try {
    deployment = parseLeaderRecord(key, kv.value).deployment;
  } catch {
    deployment = undefined;
  }
  return { modRevision: kv.mod_revision, keepsSync: deployment !== 'agents' };
}

/** The `cluster` value as an object; a value that is not one is never overwritten (it may be a state this agent cannot read). */
function parseHead(key: string, value: Buffer): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(value.toString());
  } catch {
    v = undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new KeeperStoreError(`etcd key ${key} is not a JSON object: the synchronous set is not recorded over it`);
  return v as Record<string, unknown>;
}

/**
 * The `cluster` value with `record` as its `sync` and appended to `sync_history`. Absent, it is
 * created as an empty state head (no servers: a controller that leads later takes them from its
 * configuration file).
 */
export function headWithSync(head: Record<string, unknown> | null, record: SyncRecord, nowMs: number): Record<string, unknown> {
  const base = head ?? { format: 'handyrep-state', version: 0, updated_ms: nowMs, status: makeClusterStatus('unknown', 'status not checked yet (written by a node agent recording the synchronous set)', new Date(nowMs).toISOString()) };
  const history = Array.isArray(base['sync_history']) ? base['sync_history'].filter(isSyncRecord) : [];
  return { ...base, sync: record, sync_history: [...history, record].slice(-SYNC_HISTORY_LIMIT) };
}

/**
 * Records `set` for this master: the new `cluster` value and its mod revision (for a second write
 * in the same round), or null when a compare failed (the next round reads again).
 */
export async function writeKeeperRecord(ctx: EtcdContext, node: string, leaseId: string, view: KeeperView, set: SyncSet, reason: string, nowMs: number, callMs: number): Promise<{ revision: string; head: Record<string, unknown> } | null> {
  const { keys } = ctx;
  const record: SyncRecord = { members: [...set.members], quorum: set.quorum, master: node, at: new Date(nowMs).toISOString(), reason };
  const head = headWithSync(view.cluster.head, record, nowMs);
  const reply = await withDeadline('record the synchronous set', callMs, () =>
    ctx.client.kv.txn({
      compare: [
        { key: Buffer.from(keys.master), target: 'Mod', result: 'Equal', mod_revision: view.master.modRevision },
        { key: Buffer.from(keys.masterLease(node)), target: 'Lease', result: 'Equal', lease: leaseId },
        { key: Buffer.from(keys.cluster), target: 'Mod', result: 'Equal', mod_revision: view.cluster.modRevision },
        // No leader, or the same one that leaves the set to the agents as read.
        view.leader.modRevision === '0'
          ? { key: Buffer.from(keys.leader), target: 'Create', result: 'Equal', create_revision: 0 }
          : { key: Buffer.from(keys.leader), target: 'Mod', result: 'Equal', mod_revision: view.leader.modRevision },
      ],
      success: [{ request_put: { key: Buffer.from(keys.cluster), value: Buffer.from(JSON.stringify(head)) } }],
      failure: [],
    }),
  );
  return reply.succeeded ? { revision: reply.header.revision, head } : null;
}
