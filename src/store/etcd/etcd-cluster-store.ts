/**
 * The `etcd` backend of the ClusterStore port (design §9 keys). The saved state is split over
 * `cluster` (format, version, updated_ms, status, the synchronous standby record and its changes), one `servers/<name>` per server and one
 * `history/<id>` per finished topology change; the journal is `journal`; leadership changes are
 * `controller_history/<time>-<term>`. Every write is term-guarded (guarded-txn.ts); reads are
 * plain, consistent reads (one transaction of ranges, so the parts come from one revision).
 * History records are append-only in the runtime (server-book.ts); one already in etcd is only
 * rewritten when this store itself wrote a different version of it.
 *
 * In deployment `agents` the synchronous set in `cluster` (`sync`, `sync_history`) is the master's
 * agent's (agent/sync/): a state write then carries the set as stored, whatever the state says,
 * and lands only if `cluster` did not change since that read (else it reads and tries again), so
 * the controller never puts an older set back over one the agent recorded.
 */
import type { IKeyValue, IRangeResponse } from 'etcd3';
import type { FailoverRecord } from '../../model/failover-record.js';
import { HandyRepError } from '../../model/errors.js';
import { isSyncRecord, type SyncRecord } from '../../model/sync-record.js';
import type { ServerMap } from '../../model/server.js';
import { CONTROLLER_HISTORY_LIMIT, isControllerHistoryEntry, type ClusterStore, type ControllerHistoryEntry, type StoredStateRead } from '../cluster-store.js';
import { isJournalRecord } from '../journal.js';
import { isSavedState, type SavedState } from '../saved-state.js';
import type { EtcdContext } from './client.js';
import { prefixEnd, termGuardedWrite, termGuardedWriteIfUnchanged, type LeadershipGuard, type StoreOp } from './guarded-txn.js';
import { withDeadline } from './store-error.js';

/**
 * etcd refuses transactions of more than 128 operations (--max-txn-ops): history records, which
 * never change once written, are written in batches of their own, each guarded.
 */
const MAX_OPS_PER_TXN = 100;

export class EtcdClusterStore implements ClusterStore {
  readonly kind = 'etcd';
  #lastRead: { revision: string; atMs: number } | null = null;
  /** History records as this store last wrote them: a record changed since is written again. */
  readonly #historyWritten = new Map<string, string>();

  constructor(
    private readonly ctx: EtcdContext,
    private readonly leadership: LeadershipGuard,
    /** Asked at each write: the agents keep the synchronous set (deployment agents). */
    private readonly agentsKeepSync: () => boolean = () => false,
  ) {}

  /**
   * The store revision and the local time of the last successful read: a follower reporting what
   * it read can say how old it is.
   */
  get lastRead(): { revision: string; atMs: number } | null {
    return this.#lastRead;
  }

  async readState(): Promise<StoredStateRead> {
    const { keys } = this.ctx;
    const [cluster, servers, history] = await this.#readTogether('read the saved state', [
      { key: keys.cluster },
      { prefix: keys.serversPrefix },
      { prefix: keys.historyPrefix },
    ]);
    const clusterKv = cluster?.kvs[0];
    if (!clusterKv) return { kind: 'missing' };
    const head = parseJson(clusterKv.value);
    if (head === undefined || typeof head !== 'object' || head === null) return { kind: 'invalid', reason: `etcd key ${keys.cluster} is not valid JSON` };
    const serverMap: ServerMap = {};
    for (const kv of servers?.kvs ?? []) {
      const name = keys.nameUnder(keys.serversPrefix, kv.key.toString());
      const value = parseJson(kv.value);
      if (name === null || typeof value !== 'object' || value === null) return { kind: 'invalid', reason: `etcd key ${kv.key.toString()} is not a server record` };
      serverMap[name] = value as ServerMap[string];
    }
    const records: FailoverRecord[] = [];
    for (const kv of byCreation(history?.kvs ?? [])) {
      const value = parseJson(kv.value);
      if (!isJournalRecord(value)) return { kind: 'invalid', reason: `etcd key ${kv.key.toString()} is not a failover record` };
      records.push(value);
    }
    const state: unknown = { ...head, servers: serverMap, history: records };
    if (!isSavedState(state)) return { kind: 'invalid', reason: `etcd key ${keys.cluster} is not a HandyRep state ({format, version, updated_ms, status} expected)` };
    return { kind: 'ok', state };
  }

  /** The synchronous set and its changes as stored in `cluster` (what the agents recorded, in deployment agents). */
  async readSync(): Promise<{ record: SyncRecord | null; history: SyncRecord[] }> {
    const [cluster] = await this.#readTogether('read the synchronous set', [{ key: this.ctx.keys.cluster }]);
    return storedSync(cluster?.kvs[0]);
  }

  async writeState(state: SavedState): Promise<void> {
    if (!this.agentsKeepSync()) return void (await this.#writeState(state, null));
    for (let attempt = 1; attempt <= AGENTS_SYNC_ATTEMPTS; attempt++) if (await this.#writeState(state, 'keep')) return;
    throw new HandyRepError('STORE_UNREACHABLE', `the saved state was not written: the ${this.ctx.keys.cluster} key changed under each of ${AGENTS_SYNC_ATTEMPTS} attempts (the agents recording the synchronous set); written at the next change`);
  }

  /** keep: the stored synchronous set is written back, on the revision read (false: it changed meanwhile). */
  async #writeState(state: SavedState, sync: 'keep' | null): Promise<boolean> {
    const { keys } = this.ctx;
    const [servers, history, cluster] = await this.#readTogether('list the stored servers and history', [
      { prefix: keys.serversPrefix, keysOnly: true },
      { prefix: keys.historyPrefix, keysOnly: true },
      ...(sync === 'keep' ? [{ key: keys.cluster }] : []),
    ]);
    const stored = sync === 'keep' ? storedSync(cluster?.kvs[0]) : null;
    const storedServers = new Set((servers?.kvs ?? []).map((kv) => kv.key.toString()));
    const storedHistory = new Set((history?.kvs ?? []).map((kv) => kv.key.toString()));
    // The synchronous standby record travels with the head, in the same transaction as the
    // statuses: a failover must never see servers of one write and the sync set of another.
    const head = {
      format: state.format,
      version: state.version,
      updated_ms: state.updated_ms,
      status: state.status,
      ...(stored !== null ? { sync: stored.record, sync_history: stored.history } : {
        ...(state.sync !== undefined ? { sync: state.sync } : {}),
        ...(state.sync_history !== undefined ? { sync_history: state.sync_history } : {}),
      }),
    };
    const ops: StoreOp[] = [{ kind: 'put', key: keys.cluster, value: JSON.stringify(head) }];
    const serverKeys = new Set<string>();
    for (const [name, server] of Object.entries(state.servers)) {
      const key = keys.server(name);
      serverKeys.add(key);
      ops.push({ kind: 'put', key, value: JSON.stringify(server) });
    }
    for (const key of storedServers) if (!serverKeys.has(key)) ops.push({ kind: 'delete', key });
    if (ops.length > MAX_OPS_PER_TXN) throw new HandyRepError('REFUSED', `the state has ${ops.length - 1} servers and deletions: more than one etcd transaction holds`);
    // History first: a state that names a record is never visible before the record.
    const historyKeys = new Set<string>();
    const historyOps: StoreOp[] = [];
    for (const record of state.history ?? []) {
      const key = keys.history(record.id);
      historyKeys.add(key);
      const json = JSON.stringify(record);
      const known = this.#historyWritten.get(key);
      if (!storedHistory.has(key) || (known !== undefined && known !== json)) historyOps.push({ kind: 'put', key, value: json });
    }
    for (const key of storedHistory) if (!historyKeys.has(key)) historyOps.push({ kind: 'delete', key });
    for (let i = 0; i < historyOps.length; i += MAX_OPS_PER_TXN) {
      const batch = historyOps.slice(i, i + MAX_OPS_PER_TXN);
      await termGuardedWrite(this.ctx, this.leadership, 'write the failover history', batch);
      for (const op of batch) {
        if (op.kind === 'put') this.#historyWritten.set(op.key, op.value);
        else if (op.kind === 'delete') this.#historyWritten.delete(op.key);
      }
    }
    if (sync === null) {
      await termGuardedWrite(this.ctx, this.leadership, 'write the saved state', ops);
      return true;
    }
    return (await termGuardedWriteIfUnchanged(this.ctx, this.leadership, 'write the saved state', ops, { key: keys.cluster, modRevision: cluster?.kvs[0]?.mod_revision ?? '0' })) !== null;
  }

  async readJournal(): Promise<FailoverRecord | null> {
    const key = this.ctx.keys.journal;
    const reply = await withDeadline('read the failover journal', this.ctx.deadlineMs, () => this.ctx.client.kv.range({ key: Buffer.from(key) }));
    this.#lastRead = { revision: reply.header.revision, atMs: Date.now() };
    const kv = reply.kvs[0];
    if (!kv) return null;
    const refuse = (why: string): HandyRepError =>
      new HandyRepError('STORE_DATA', `the failover journal (etcd key ${key}) ${why}: an interrupted topology change may be recorded there; check it, then repair or delete it before starting again`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(kv.value.toString());
    } catch (err) {
      throw refuse(`is not valid JSON (${(err as Error).message})`);
    }
    if (!isJournalRecord(parsed)) throw refuse('is not a failover record (id, kind and steps expected)');
    return parsed;
  }

  async writeJournal(record: FailoverRecord): Promise<void> {
    await termGuardedWrite(this.ctx, this.leadership, 'write the failover journal', [{ kind: 'put', key: this.ctx.keys.journal, value: JSON.stringify(record) }]);
  }

  async clearJournal(): Promise<void> {
    await termGuardedWrite(this.ctx, this.leadership, 'clear the failover journal', [{ kind: 'delete', key: this.ctx.keys.journal }]);
  }

  async recordControllerEvent(entry: ControllerHistoryEntry): Promise<void> {
    const { keys } = this.ctx;
    const [existing] = await this.#readTogether('list the leadership history', [{ prefix: keys.controllerHistoryPrefix, keysOnly: true }]);
    const stored = (existing?.kvs ?? []).map((kv) => kv.key.toString()).sort();
    const id = `${String(Date.parse(entry.at) || Date.now()).padStart(15, '0')}-${entry.term ?? 'none'}`;
    const doomed = stored.slice(0, Math.max(0, stored.length + 1 - CONTROLLER_HISTORY_LIMIT));
    await termGuardedWrite(this.ctx, this.leadership, 'record a leadership change', [
      { kind: 'put', key: keys.controllerHistory(id), value: JSON.stringify(entry) },
      ...doomed.slice(0, MAX_OPS_PER_TXN).map((key): StoreOp => ({ kind: 'delete', key })),
    ]);
  }

  async readControllerHistory(): Promise<ControllerHistoryEntry[]> {
    const { keys } = this.ctx;
    const [reply] = await this.#readTogether('read the leadership history', [{ prefix: keys.controllerHistoryPrefix }]);
    const kvs = [...(reply?.kvs ?? [])].sort((a, b) => a.key.toString().localeCompare(b.key.toString()));
    return kvs.map((kv) => {
      const value = parseJson(kv.value);
      if (!isControllerHistoryEntry(value)) throw new HandyRepError('STORE_DATA', `etcd key ${kv.key.toString()} is not a leadership change`);
      return value;
    });
  }

  /** Several ranges read at one revision (one transaction without compares). */
  async #readTogether(what: string, ranges: readonly ({ key: string } | { prefix: string; keysOnly?: boolean })[]): Promise<(IRangeResponse | undefined)[]> {
    const reply = await withDeadline(what, this.ctx.deadlineMs, () =>
      this.ctx.client.kv.txn({
        compare: [],
        success: ranges.map((r) =>
          'key' in r
            ? { request_range: { key: Buffer.from(r.key) } }
            : { request_range: { key: Buffer.from(r.prefix), range_end: prefixEnd(r.prefix), keys_only: r.keysOnly ?? false } },
        ),
        failure: [],
      }),
    );
    this.#lastRead = { revision: reply.header.revision, atMs: Date.now() };
    return reply.responses.map((r) => r.response_range);
  }
}

/** How often a state write reads and tries again while the agents change `cluster` under it. */
const AGENTS_SYNC_ATTEMPTS = 3;

/** `sync` and `sync_history` of a stored `cluster` value (none when absent or not a state). */
function storedSync(kv: IKeyValue | undefined): { record: SyncRecord | null; history: SyncRecord[] } {
  const head = kv === undefined ? undefined : parseJson(kv.value);
  if (typeof head !== 'object' || head === null) return { record: null, history: [] };
  const { sync, sync_history: history } = head as { sync?: unknown; sync_history?: unknown };
  return { record: isSyncRecord(sync) ? sync : null, history: Array.isArray(history) ? history.filter(isSyncRecord) : [] };
}

function parseJson(value: Buffer): unknown {
  try {
    return JSON.parse(value.toString()) as unknown;
  } catch {
    return undefined;
  }
}

/** Oldest first: the order the records were first written in. */
function byCreation(kvs: readonly IKeyValue[]): IKeyValue[] {
  return [...kvs].sort((a, b) => (BigInt(a.create_revision) < BigInt(b.create_revision) ? -1 : BigInt(a.create_revision) > BigInt(b.create_revision) ? 1 : 0));
}
