/**
 * Deployment `agents` with synchronous replication and no controller at all: the master's agent
 * keeps the synchronous set itself (src/agent/sync/). Real etcd, three real PostgreSQL nodes and
 * their agents; `synchronous_mode: on`, `FIRST 1`, paul preferred (failover_priority 1, ringo 2, in
 * the stored `servers/*` every agent reads).
 *
 *   1. john's agent records {paul} (quorum 0 first: recorded BEFORE it is named), names
 *      FIRST 1 ("paul"), then records quorum 1 once paul caught up;
 *   2. rows acknowledged, then paul's WAL receiver frozen (SIGSTOP) so a commit waits for it and is
 *      never acknowledged while ringo receives its WAL (ringo further ahead); john's host lost →
 *      paul, the recorded member, wins (ringo refuses: not_sync_member), every acknowledged row is
 *      on it, at most one writable server at every sample;
 *   3. paul's agent records a set for paul: {ringo}, once ringo follows it;
 *   4. ringo's host lost → quorum 0 recorded, then paul asynchronous, then the empty set recorded.
 * A replica that stops while another can take its place (widen, name, narrow) is in the unit rows
 * (test/unit/agent-sync-keeper.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestNode } from '../fixtures/cluster.js';
import { isWritable, putMasterRecord, waitUntil } from '../fixtures/agents.js';
import { killHost, readMaster, startBedAgent } from '../fixtures/agents-election.js';
import { loseMasterAheadOfSync, startSyncBed, stopSyncBed, type SyncBed } from '../fixtures/sync-election.js';
import { isSyncRecord, type SyncRecord } from '../../src/model/sync-record.js';

const PREFIX = '/handyrep/agentkeeper/';
const TTL = 5;

describe('deployment agents, synchronous_mode on: the master\'s agent keeps the synchronous set', { timeout: 500_000 }, () => {
  let b: SyncBed;

  before(async () => {
    b = await startSyncBed(PREFIX, TTL, { failover: { use_replication_slots: true, synchronous_mode: 'on', synchronous_method: 'first', synchronous_node_count: 1 } });
  });

  after(() => stopSyncBed(b));

  const clusterHead = async (): Promise<{ sync: SyncRecord | null; history: SyncRecord[] }> => {
    const value = await b.bed.client.get(`${PREFIX}cluster`).string();
    const head = value === null ? {} : (JSON.parse(value) as { sync?: unknown; sync_history?: unknown });
    return { sync: isSyncRecord(head.sync) ? head.sync : null, history: Array.isArray(head.sync_history) ? head.sync_history.filter(isSyncRecord) : [] };
  };
  const describeSet = (r: SyncRecord | null): string => (r === null ? 'none' : `${r.master ?? '-'}:[${r.members.join(',')}]/${r.quorum}`);
  const waitForSet = async (expected: string, timeoutMs = 40_000): Promise<void> => {
    let last = '';
    await waitUntil(`recorded set ${expected}`, async () => (last = describeSet((await clusterHead()).sync)) === expected, timeoutMs, 200).catch((err: Error) => {
      throw new Error(`${err.message} (last seen ${last}; agent log ${JSON.stringify((b.bed.agents.get('john') ?? b.bed.agents.get('paul'))?.output().slice(-3000))})`);
    });
  };
  /** The order the sets were recorded in, as `master:[members]/quorum`, repeats folded. */
  const historyOf = async (): Promise<string[]> => (await clusterHead()).history.map(describeSet).filter((s, i, all) => s !== all[i - 1]);

  it('records before naming; the sync replica wins though another is further ahead, no acknowledged row lost; a replica that stops changes the set', async () => {
    const { cluster, bed } = b;
    const [john, paul, ringo] = cluster.nodes as [TestNode, TestNode, TestNode];
    await putMasterRecord(bed.client, PREFIX, 'john');
    for (const [name, role, priority] of [['john', 'master', 3], ['paul', 'replica', 1], ['ringo', 'replica', 2]] as const) {
      await bed.client.put(`${PREFIX}servers/${name}`).value(JSON.stringify({ enabled: true, role, failover_priority: priority, lag_limit: 1024, nofailover: false }));
    }
    await cluster.waitStreaming(john, [paul, ringo], 60_000);
    await cluster.psql(john, 'CREATE TABLE acks (id bigint PRIMARY KEY)');
    for (const node of cluster.nodes) startBedAgent(bed, node);

    // 1. john's agent: {paul} recorded (quorum 0) before it is named, quorum 1 once caught up.
    await waitForSet('john:[paul]/1');
    assert.equal(await cluster.psql(john, 'SHOW synchronous_standby_names'), 'FIRST 1 ("paul")');
    assert.equal(await cluster.psql(john, "SELECT application_name FROM pg_stat_replication WHERE sync_state = 'sync'"), 'paul');
    // The first set may name ringo too (paul's agent not yet publishing): any set is recorded
    // promising nothing (quorum 0) before the master names it.
    const first = await historyOf();
    assert.match(first[0] ?? '', /^john:\[.*\]\/0$/, `the first record promises nothing: ${first.join(' → ')}`);
    assert.equal(first.at(-1), 'john:[paul]/1');

    const settled = async (): Promise<boolean> =>
      describeSet((await clusterHead()).sync) === 'john:[paul]/1' &&
      (await cluster.psql(john, "SELECT coalesce(string_agg(application_name, ','), '') FROM pg_stat_replication WHERE sync_state = 'sync'")) === 'paul' &&
      Number(await cluster.psql(paul, 'SELECT coalesce(max(pid), 0) FROM pg_stat_wal_receiver')) > 0;
    await new Promise((resolve) => setTimeout(resolve, 2000)); // every agent's rounds saw john's lease held
    await waitUntil('paul streaming, synchronous and recorded', settled, 30_000, 200);

    // 2. Acknowledged rows (each on paul), then a commit that waits for paul forever while ringo receives it.
    const { acked, pending, winner, sampler, writer } = await loseMasterAheadOfSync(b, john, paul, ringo, 'agents election, set kept by the master\'s agent');
    assert.equal(await pending, 'failed', 'the commit that waited for paul was never acknowledged');
    assert.equal(winner, 'paul', 'the recorded synchronous member wins, though ringo received more WAL');
    await waitUntil('paul confirmed the key', async () => (await readMaster(bed))?.timeline === 2, 20_000);
    const present = new Set((await cluster.psql(paul, 'SELECT id FROM acks WHERE id <= 50')).split('\n').filter(Boolean).map(Number));
    const lost = acked.filter((id) => !present.has(id));
    assert.deepEqual(lost, [], `every acknowledged row is on paul (${acked.length} acknowledged, ${lost.length} missing)`);
    assert.doesNotMatch(bed.agents.get('ringo')?.output() ?? '', /ringo: election: the master lease of john expired and this node is the best/);

    // 3. paul's agent keeps the set for paul: ringo, once it follows paul.
    await cluster.waitStreaming(paul, [ringo], 120_000);
    await waitForSet('paul:[ringo]/1');
    assert.equal(await cluster.psql(paul, 'SHOW synchronous_standby_names'), 'FIRST 1 ("ringo")');
    const report = await sampler.stop();
    assert.equal(report.split_brain_samples, 0, 'at most one writable server at every sample');
    assert.equal(await isWritable(ringo), false);
    await writer.end().catch(() => undefined);

    // 4. ringo's host lost (synchronous_mode on, nobody left to name): the record first stops
    // promising (quorum 0), then paul goes asynchronous and the empty set is recorded; paul's
    // commits are acknowledged again.
    await killHost(bed, ringo);
    await waitForSet('paul:[]/0');
    assert.deepEqual((await historyOf()).slice(-3), ['paul:[ringo]/1', 'paul:[ringo]/0', 'paul:[]/0'], 'quorum 0 recorded before synchronous replication was switched off');
    assert.equal(await cluster.psql(paul, 'SHOW synchronous_standby_names'), '');
    await cluster.psql(paul, 'INSERT INTO acks VALUES (-1)');
  });
});
