/**
 * "Only the master's lease holder records the synchronous set" on real etcd (no PostgreSQL): the
 * guards of the keeper's record transaction (src/agent/sync/keeper-store.ts) — the `master` key
 * moved, this node's lease key gone or under another lease, the `cluster` key changed after the
 * read, a controller holding `leader` (or, of deployment agents, replaced after the read) — each make it change nothing; with all in place it records
 * and appends to sync_history. And the keeper itself (sync-keeper.ts) records nothing and names
 * nothing once its lease stops being fresh between its read and its write. And a controller's state
 * write in deployment agents (etcd-cluster-store.ts): the stored set kept, only on the revision read.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readKeeperView, writeKeeperRecord } from '../../src/agent/sync/keeper-store.js';
import { SyncKeeper } from '../../src/agent/sync/sync-keeper.js';
import { parseConfig } from '../../src/config/load.js';
import type { SqlRow, SqlSession } from '../../src/nodes/ports.js';
import { createEtcdContext, type EtcdContext } from '../../src/store/etcd/client.js';
import { encodeLeaderRecord, type Term } from '../../src/store/etcd/leader-record.js';
import { EtcdClusterStore } from '../../src/store/etcd/etcd-cluster-store.js';
import { termGuardedWriteIfUnchanged } from '../../src/store/etcd/guarded-txn.js';
import { makeClusterStatus } from '../../src/model/status.js';
import type { SavedState } from '../../src/store/saved-state.js';
import type { SyncRecord } from '../../src/model/sync-record.js';
import { encodeMasterRecord } from '../../src/store/etcd/master-record.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';
import { candidateSettings, masterRecord } from '../unit/election-snapshot.js';

const TTL = 5;
const CALL_MS = 2000;
let etcd: EtcdCluster;
const contexts: EtcdContext[] = [];
let prefixes = 0;

before(async () => {
  etcd = await startEtcdCluster({ members: 1 });
});

after(async () => {
  for (const ctx of contexts) ctx.close();
  await etcd?.stop();
});

/** A fresh prefix where john is the recorded master and holds its lease key under a new lease. */
async function johnMaster(): Promise<{ ctx: EtcdContext; leaseId: string }> {
  const ctx = createEtcdContext(parseConfig(JSON.stringify({ etcd: { endpoints: etcd.endpoints, prefix: `/handyrep/keeper${++prefixes}/`, ttl: TTL, retry_timeout: 2 } }), 'test'));
  contexts.push(ctx);
  await ctx.client.put(ctx.keys.master).value(encodeMasterRecord(masterRecord('john', { written_by: 'agent:john' })));
  const grant = await ctx.client.leaseClient.leaseGrant({ TTL: 30 });
  await ctx.client.kv.put({ key: Buffer.from(ctx.keys.masterLease('john')), value: Buffer.from('{}'), lease: grant.ID });
  return { ctx, leaseId: grant.ID };
}

const SET = { members: ['paul'], quorum: 0 };
const clusterValue = async (ctx: EtcdContext): Promise<string | null> => ctx.client.get(ctx.keys.cluster).string();

describe('the keeper\'s record transaction: only the master\'s lease holder, on what it read', () => {
  it('all in place → recorded (master john) and appended to sync_history; a second write on the new revision too', async () => {
    const { ctx, leaseId } = await johnMaster();
    const view = await readKeeperView(ctx, 'john', CALL_MS);
    assert.equal(view.leaseOfKey, leaseId);
    const first = await writeKeeperRecord(ctx, 'john', leaseId, view, SET, 'test', Date.now(), CALL_MS);
    assert.ok(first !== null);
    const second = await writeKeeperRecord(ctx, 'john', leaseId, { ...view, cluster: { ...view.cluster, modRevision: first.revision, head: first.head } }, { members: ['paul'], quorum: 1 }, 'test', Date.now(), CALL_MS);
    assert.ok(second !== null);
    const head = JSON.parse((await clusterValue(ctx)) ?? '{}') as { format: string; sync: { members: string[]; quorum: number; master: string }; sync_history: unknown[] };
    assert.deepEqual([head.format, head.sync.members, head.sync.quorum, head.sync.master, head.sync_history.length], ['handyrep-state', ['paul'], 1, 'john', 2]);
  });

  const refusals: [string, (ctx: EtcdContext, leaseId: string) => Promise<unknown>][] = [
    ['the master key rewritten after the read (an election took it)', (ctx) => ctx.client.put(ctx.keys.master).value(encodeMasterRecord(masterRecord('paul', { written_by: 'agent:paul' }))).exec()],
    ['the lease revoked (expired: the deposed master)', (ctx, leaseId) => ctx.client.leaseClient.leaseRevoke({ ID: leaseId })],
    [
      'the lease key put under another lease',
      async (ctx) => {
        const other = await ctx.client.leaseClient.leaseGrant({ TTL: 30 });
        await ctx.client.kv.put({ key: Buffer.from(ctx.keys.masterLease('john')), value: Buffer.from('{}'), lease: other.ID });
      },
    ],
    ['the cluster key written by someone else after the read', (ctx) => ctx.client.put(ctx.keys.cluster).value(JSON.stringify({ format: 'handyrep-state', version: 7, updated_ms: 1, status: {} })).exec()],
    ['a controller holds leader', (ctx) => ctx.client.put(ctx.keys.leader).value('{"controller":"c1"}').exec()],
  ];
  it('a controller of deployment agents leads → it leaves the set to the agents: recorded; one of ha (or one that does not say) keeps it', async () => {
    const { ctx, leaseId } = await johnMaster();
    await ctx.client.put(ctx.keys.leader).value(encodeLeaderRecord({ controller_id: 'c1', api_url: null, since: new Date().toISOString(), deployment: 'agents' }));
    const view = await readKeeperView(ctx, 'john', CALL_MS);
    assert.equal(view.leader.keepsSync, false);
    assert.ok((await writeKeeperRecord(ctx, 'john', leaseId, view, SET, 'test', Date.now(), CALL_MS)) !== null);
    await ctx.client.put(ctx.keys.leader).value(encodeLeaderRecord({ controller_id: 'c1', api_url: null, since: new Date().toISOString(), deployment: 'ha' }));
    assert.equal((await readKeeperView(ctx, 'john', CALL_MS)).leader.keepsSync, true);
    await ctx.client.put(ctx.keys.leader).value(encodeLeaderRecord({ controller_id: 'c1', api_url: null, since: new Date().toISOString() }));
    assert.equal((await readKeeperView(ctx, 'john', CALL_MS)).leader.keepsSync, true);
  });

  it('the agents controller\'s leader key replaced after the read (an ha controller took over) → nothing written', async () => {
    const { ctx, leaseId } = await johnMaster();
    await ctx.client.put(ctx.keys.leader).value(encodeLeaderRecord({ controller_id: 'c1', api_url: null, since: new Date().toISOString(), deployment: 'agents' }));
    const view = await readKeeperView(ctx, 'john', CALL_MS);
    await ctx.client.put(ctx.keys.leader).value(encodeLeaderRecord({ controller_id: 'c2', api_url: null, since: new Date().toISOString(), deployment: 'ha' }));
    assert.equal(await writeKeeperRecord(ctx, 'john', leaseId, view, SET, 'test', Date.now(), CALL_MS), null);
    assert.equal(await clusterValue(ctx), null);
  });

  for (const [what, change] of refusals) {
    it(`${what} → nothing written`, async () => {
      const { ctx, leaseId } = await johnMaster();
      const view = await readKeeperView(ctx, 'john', CALL_MS);
      await change(ctx, leaseId);
      const before = await clusterValue(ctx);
      assert.equal(await writeKeeperRecord(ctx, 'john', leaseId, view, SET, 'test', Date.now(), CALL_MS), null);
      assert.equal(await clusterValue(ctx), before);
    });
  }
});

/** john's PostgreSQL as the keeper sees it: paul streaming and caught up, nothing named yet; ALTER SYSTEM calls collected. */
function masterSession(altered: string[]): SqlSession {
  return {
    query: async <Row extends SqlRow>(text: string, params?: readonly unknown[]): Promise<Row[]> => {
      if (text.includes("current_setting('synchronous_standby_names')")) return [{ named: '', current: '0/3000000' }] as unknown as Row[];
      if (text.includes('pg_stat_replication')) return [{ name: 'paul', state: 'streaming', flush: '0/3000000' }] as unknown as Row[];
      if (text.startsWith('SELECT format(')) return [{ stmt: `ALTER SYSTEM SET synchronous_standby_names = '${String(params?.[1])}'` }] as unknown as Row[];
      if (text.startsWith('ALTER SYSTEM')) altered.push(text);
      return [];
    },
    end: async () => undefined,
  };
}

/** A master lease as the keeper sees it: held and fresh for long, or not held. */
const lease = (id: string | null): { id: string | null; freshLeftMs: number } => ({ id, freshLeftMs: id === null ? 0 : 60_000 });

describe('SyncKeeper: the lease checked again before each record', () => {
  const keeperFor = (ctx: EtcdContext, leaseIds: (string | null)[], altered: string[]): SyncKeeper =>
    new SyncKeeper(ctx, { node: 'john', policy: { mode: 'on', count: 1, method: 'any' }, fileServers: { john: candidateSettings, paul: candidateSettings }, callMs: CALL_MS, newMasterMs: 0 }, { lease: () => lease(leaseIds.shift() ?? null), sql: async () => masterSession(altered), now: () => performance.now() }, () => undefined);

  it('fresh throughout → paul recorded (quorum 0) before it is named', async () => {
    const { ctx, leaseId } = await johnMaster();
    await ctx.client.put(ctx.keys.member('paul')).value(JSON.stringify({ name: 'paul', postgres: 'running', in_recovery: true, received_lsn: '0/3000000', replayed_lsn: '0/3000000', wal_position: '0/3000000', timeline: 1 }));
    const altered: string[] = [];
    const said = await keeperFor(ctx, [leaseId, leaseId, leaseId], altered).step();
    assert.match(said, /recorded \[paul\] quorum 0; synchronous_standby_names = 'ANY 1 \("paul"\)'/);
    assert.equal(altered.length, 1);
    assert.equal((JSON.parse((await clusterValue(ctx)) ?? '{}') as { sync: { members: string[] } }).sync.members[0], 'paul');
  });

  it('the lease no longer fresh after the read → nothing recorded, nothing named', async () => {
    const { ctx, leaseId } = await johnMaster();
    await ctx.client.put(ctx.keys.member('paul')).value(JSON.stringify({ name: 'paul', postgres: 'running', in_recovery: true, received_lsn: '0/3000000', replayed_lsn: '0/3000000', wal_position: '0/3000000', timeline: 1 }));
    const altered: string[] = [];
    const said = await keeperFor(ctx, [leaseId, null], altered).step();
    assert.match(said, /master lease no longer fresh: synchronous set not recorded/);
    assert.deepEqual(altered, []);
    assert.equal(await clusterValue(ctx), null);
  });
});

/** A controller's term on `ctx`: the leader key under a lease of its own (a LeadershipGuard for the store). */
async function leadOn(ctx: EtcdContext): Promise<{ current: Term | null; lost: string[]; markLost(reason: string): void }> {
  const grant = await ctx.client.leaseClient.leaseGrant({ TTL: 30 });
  const record = { controller_id: 'ctl', api_url: null, since: new Date().toISOString(), deployment: 'agents' as const };
  const value = encodeLeaderRecord(record);
  await ctx.client.kv.put({ key: Buffer.from(ctx.keys.leader), value: Buffer.from(value), lease: grant.ID });
  const kv = (await ctx.client.get(ctx.keys.leader).exec()).kvs[0];
  const lost: string[] = [];
  return { current: { term: kv?.create_revision ?? '0', leaseId: grant.ID, record, value }, lost, markLost: (reason) => void lost.push(reason) };
}

describe("a controller's state write in deployment agents carries the agents' set unchanged", () => {
  const agentsSet: SyncRecord = { members: ['paul'], quorum: 1, master: 'john', at: '2026-12-05T01:00:00.000Z', reason: 'recorded by john\'s agent' };
  const olderSet: SyncRecord = { members: ['ringo'], quorum: 1, master: 'john', at: '2026-12-05T00:00:00.000Z', reason: 'the controller\'s older copy' };
  const state = (updatedMs: number): SavedState => ({ format: 'handyrep-state', version: 2, updated_ms: updatedMs, servers: {}, status: makeClusterStatus('healthy', 'ok', new Date(updatedMs).toISOString()), history: [], sync: olderSet, sync_history: [olderSet] });
  const stored = async (ctx: EtcdContext): Promise<{ updated_ms: number; sync: SyncRecord | null; sync_history: SyncRecord[] }> => JSON.parse((await clusterValue(ctx)) ?? '{}') as { updated_ms: number; sync: SyncRecord | null; sync_history: SyncRecord[] };

  it("agents keep the set → the stored set and history stay the agents', the status is the controller's; in ha the state's set is written (the row that shows the difference)", async () => {
    const { ctx } = await johnMaster();
    await ctx.client.put(ctx.keys.cluster).value(JSON.stringify({ format: 'handyrep-state', version: 0, updated_ms: 1, status: {}, sync: agentsSet, sync_history: [agentsSet] }));
    const leadership = await leadOn(ctx);
    await new EtcdClusterStore(ctx, leadership, () => true).writeState(state(1000));
    const kept = await stored(ctx);
    assert.equal(kept.updated_ms, 1000);
    assert.deepEqual([kept.sync, kept.sync_history], [agentsSet, [agentsSet]]);
    await new EtcdClusterStore(ctx, leadership, () => false).writeState(state(2000));
    const written = await stored(ctx);
    assert.deepEqual([written.updated_ms, written.sync, written.sync_history], [2000, olderSet, [olderSet]]);
    assert.deepEqual(leadership.lost, []);
  });

  it('the cluster key changed after the read (the keeper recorded) → nothing written, the term kept (the store reads again)', async () => {
    const { ctx } = await johnMaster();
    await ctx.client.put(ctx.keys.cluster).value(JSON.stringify({ format: 'handyrep-state', version: 0, updated_ms: 1, status: {}, sync: agentsSet }));
    const leadership = await leadOn(ctx);
    const read = (await ctx.client.get(ctx.keys.cluster).exec()).kvs[0]?.mod_revision ?? '0';
    await ctx.client.put(ctx.keys.cluster).value(JSON.stringify({ format: 'handyrep-state', version: 0, updated_ms: 5, status: {}, sync: { ...agentsSet, quorum: 0 } }));
    const before = await clusterValue(ctx);
    assert.equal(await termGuardedWriteIfUnchanged(ctx, leadership, 'write the saved state', [{ kind: 'put', key: ctx.keys.cluster, value: '{}' }], { key: ctx.keys.cluster, modRevision: read }), null);
    assert.equal(await clusterValue(ctx), before);
    assert.deepEqual(leadership.lost, [], 'the term still stands');
    await ctx.client.leaseClient.leaseRevoke({ ID: leadership.current?.leaseId ?? '0' });
    await assert.rejects(termGuardedWriteIfUnchanged(ctx, leadership, 'write the saved state', [], { key: ctx.keys.cluster, modRevision: '0' }), /no longer leads/);
    assert.equal(leadership.lost.length, 1);
  });
});
