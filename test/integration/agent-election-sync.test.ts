/**
 * An agents' election under synchronous replication (design §9 rule 6, "in the recorded sync set
 * when synchronous"): real etcd, three real PostgreSQL nodes and their agents, deployment `ha`
 * with `synchronous_mode: on` and no controller at all (none ever led: the agents elect once
 * `leader` has been absent for etcd.ttl). The `cluster` key holds the set a controller would have
 * recorded (paul, quorum 1, master john) and john's synchronous_standby_names names paul.
 *
 * The async replica is made the furthest ahead in LSN terms: paul's WAL receiver is frozen
 * (SIGSTOP: it still shows as streaming), so john's next commit waits for paul and is never
 * acknowledged, while ringo receives its WAL. Then john's host is lost (agent and PostgreSQL
 * SIGKILLed). Expected: paul, behind ringo in LSN, is elected (ringo refuses: not_sync_member),
 * makes its commits wait for a standby before promoting, and holds every acknowledged row; ringo
 * never becomes writable and follows paul (its extra, unacknowledged WAL rewound away).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';
import { isWritable, putMasterRecord, waitUntil } from '../fixtures/agents.js';
import { electionBed, killHost, readMaster, startBedAgent, type ElectionBed } from '../fixtures/agents-election.js';
import { SplitBrainSampler } from '../fixtures/split-brain-sampler.js';

const PREFIX = '/handyrep/agentsync/';
const TTL = 5;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('agents elect under synchronous_mode (deployment ha, no controller)', { timeout: 400_000 }, () => {
  let etcd: EtcdCluster;
  let cluster: TestCluster;
  let bed: ElectionBed;
  let frozen: number | null = null;

  before(async () => {
    [etcd, cluster] = await Promise.all([startEtcdCluster({ members: 1 }), startCluster({ nodes: 3, names: ['john', 'paul', 'ringo'], ssh: false })]);
    const base = electionBed(cluster, etcd.endpoints, PREFIX, TTL);
    const sections = { ...base.settings.sections, handyrep: { deployment: 'ha' }, failover: { use_replication_slots: true, synchronous_mode: 'on' } };
    bed = { ...base, settings: { ...base.settings, sections } };
  });

  after(async () => {
    if (frozen !== null) {
      try {
        process.kill(frozen, 'SIGCONT');
      } catch {
        // gone
      }
    }
    const logTo = process.env['AGENT_TEST_LOG'];
    if (logTo) writeFileSync(logTo, [...[...(bed?.agents.values() ?? [])].map((a) => a.output()), ...(cluster?.nodes.map((n) => readFileSync(n.logFile, 'utf8')) ?? [])].join('\n----\n'));
    await Promise.all([...(bed?.agents.values() ?? [])].map((a) => a.stop('SIGKILL')));
    bed?.client.close();
    await Promise.all([cluster?.stop(), etcd?.stop()]);
  });

  it('master host lost → the sync replica wins though the async one is further ahead; no acknowledged row lost', async () => {
    const [john, paul, ringo] = cluster.nodes as [TestNode, TestNode, TestNode];
    await putMasterRecord(bed.client, PREFIX, 'john');
    const sync = { members: ['paul'], quorum: 1, master: 'john', at: new Date().toISOString(), reason: 'recorded as a controller would' };
    await bed.client.put(`${PREFIX}cluster`).value(JSON.stringify({ format: 'handyrep-state', version: 1, updated_ms: Date.now(), status: {}, sync }));
    await cluster.waitStreaming(john, [paul, ringo], 60_000);
    await cluster.psql(john, 'CREATE TABLE acks (id bigint PRIMARY KEY)');
    await cluster.psql(john, "ALTER SYSTEM SET synchronous_standby_names = 'paul'");
    await cluster.psql(john, 'SELECT pg_reload_conf()');
    await waitUntil('paul synchronous', async () => (await cluster.psql(john, "SELECT application_name FROM pg_stat_replication WHERE sync_state = 'sync'")) === 'paul', 20_000);
    for (const node of cluster.nodes) startBedAgent(bed, node);
    await waitUntil('three member records', async () => (await bed.client.getAll().prefix(`${PREFIX}members/`).keys()).length === 3, 30_000);
    await waitUntil('john\'s master lease', async () => (await bed.client.getAll().prefix(`${PREFIX}master_lease/`).keys()).length === 1, 30_000);
    await sleep(2000); // every agent's rounds saw the lease held

    // Acknowledged rows: each is on paul (synchronous).
    const writer = new pg.Client({ host: john.socketDir, port: john.port, user: 'postgres', database: 'postgres', query_timeout: 0 });
    writer.on('error', () => undefined);
    await writer.connect();
    const acked: number[] = [];
    for (let id = 1; id <= 50; id++) {
      await writer.query('INSERT INTO acks (id) VALUES ($1)', [id]);
      acked.push(id);
    }
    // Freeze paul's WAL receiver: the next commit waits for paul forever (never acknowledged), ringo receives it.
    frozen = Number(await cluster.psql(paul, 'SELECT pid FROM pg_stat_wal_receiver'));
    assert.ok(frozen > 0, 'paul has a WAL receiver');
    process.kill(frozen, 'SIGSTOP');
    const pending = writer.query("INSERT INTO acks (id) SELECT 1000 + g FROM generate_series(1, 20000) g").then(() => 'acked', () => 'failed');
    const receivedOf = async (n: TestNode): Promise<string> => cluster.psql(n, 'SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), \'0/0\')::bigint');
    await waitUntil('ringo further ahead than paul', async () => BigInt(await receivedOf(ringo)) > BigInt(await receivedOf(paul)), 10_000);
    const sampler = new SplitBrainSampler(cluster, 'agents election under synchronous_mode', 120_000);
    await killHost(bed, john);
    process.kill(frozen, 'SIGCONT');
    frozen = null;
    let winner: string | null = null;
    await waitUntil('a writable new master', async () => {
      for (const n of [paul, ringo]) if (await isWritable(n)) winner = n.name;
      return winner !== null;
    }, 60_000, 25);
    assert.equal(await pending, 'failed', 'the commit that waited for paul was never acknowledged');
    assert.equal(winner, 'paul', 'the recorded synchronous member wins, though ringo received more WAL');
    const record = await readMaster(bed);
    assert.equal(record?.name, 'paul');
    await waitUntil('paul confirmed the key', async () => (await readMaster(bed))?.timeline === 2, 20_000);
    const present = new Set((await cluster.psql(paul, 'SELECT id FROM acks WHERE id <= 50')).split('\n').filter(Boolean).map(Number));
    assert.deepEqual(acked.filter((id) => !present.has(id)), [], 'every acknowledged row is on paul');
    assert.equal(await cluster.psql(paul, 'SHOW synchronous_standby_names'), '*', 'paul\'s commits wait for a standby from its promotion on');
    const ringoLog = bed.agents.get('ringo')?.output() ?? '';
    // Whether ringo judged between john's lease expiry and paul's take depends on round timing; if it
    // did, it refused as no sync member. It never tried (the unit and race tests show the refusal).
    assert.doesNotMatch(ringoLog, /ringo: election: the master lease of john expired and this node is the best/);
    assert.doesNotMatch(ringoLog, /ringo: election: not trying \((?!not_sync_member)/, ringoLog.slice(-3000));
    const history = Object.values((await bed.client.getAll().prefix(`${PREFIX}history/`).strings()) as Record<string, string>).map((v) => JSON.parse(v) as { from: string; to: string; outcome: string; steps: { name: string }[] });
    assert.deepEqual(history.map((h) => [h.from, h.to, h.outcome]), [['john', 'paul', 'SUCCESS']]);
    assert.ok(history[0]?.steps.some((s) => s.name.startsWith("synchronous_standby_names '*'")), 'the step is journaled');
    // ringo follows paul: its unacknowledged extra WAL is rewound away.
    await cluster.waitStreaming(paul, [ringo], 120_000);
    const report = await sampler.stop();
    assert.equal(report.split_brain_samples, 0, 'at most one writable server at every sample');
    assert.equal(await isWritable(ringo), false);
    await writer.end().catch(() => undefined);
  });
});
