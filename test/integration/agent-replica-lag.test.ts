/**
 * /replica?lag= without the master's member record (review F7, design §9 rule 5), real etcd,
 * PostgreSQL and agents (master john, replica paul, no controller):
 *   - john's agent frozen (SIGSTOP): its lease-bound record leaves etcd, john's PostgreSQL goes on
 *     and paul streams from it → paul still answers 200 within the limit, from what the WAL sender
 *     reported (master_lag_source wal_receiver; before: 503, the read backend emptied);
 *   - 32 MB written on john meanwhile: paul streams them and stays within 16 MB;
 *   - john's PostgreSQL stopped: paul no longer streams and has no record → 503 (unknown distance),
 *     while plain /replica stays 200.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import pg from 'pg';
import { AGENT_PORT, putMasterRecord, startAgent, waitUntil, type RunningAgent } from '../fixtures/agents.js';
import { startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';

const TTL = 4;
const PREFIX = '/handyrep/agentreplicalag/';

/** Status and JSON body of GET <path> on a node's agent (status 0 when it does not answer). */
async function agentGet(node: TestNode, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  try {
    const res = await fetch(`http://${node.host}:${AGENT_PORT}${path}`, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  } catch {
    return { status: 0, body: {} };
  }
}

describe('/replica?lag= while the master\'s record is gone', { timeout: 180_000 }, () => {
  let etcd: EtcdCluster;
  let cluster: TestCluster;
  let client: Etcd3;
  let agents: RunningAgent[] = [];
  const john = (): TestNode => cluster.nodes[0] as TestNode;
  const paul = (): TestNode => cluster.nodes[1] as TestNode;
  const output = (): string => agents.map((a) => a.output().slice(-1500)).join('\n---\n');

  before(async () => {
    [etcd, cluster] = await Promise.all([startEtcdCluster({ members: 1 }), startCluster({ nodes: 2, ssh: false })]);
    client = new Etcd3({ hosts: etcd.endpoints });
    await putMasterRecord(client, PREFIX, 'john');
    const settings = { endpoints: etcd.endpoints, prefix: PREFIX, ttl: TTL };
    agents = [startAgent(cluster, john(), settings), startAgent(cluster, paul(), settings)];
  });

  after(async () => {
    for (const agent of agents) if (agent.child.exitCode === null) agent.child.kill('SIGCONT');
    await Promise.all(agents.map((a) => a.stop('SIGKILL')));
    client?.close();
    await Promise.all([cluster?.stop(), etcd?.stop()]);
  });

  it('streaming without the master\'s record → 200 from the WAL receiver; not streaming → 503', async () => {
    await waitUntil('paul within 16MB by john\'s record', async () => (await agentGet(paul(), '/replica?lag=16MB')).body['master_lag_source'] === 'member_record', 30_000, 200).catch((err: Error) => {
      throw new Error(`${err.message}\n${output()}`);
    });
    // paul's record says after which etcd revision its probe of john started (review F3: no clocks).
    const paulRecord = JSON.parse((await client.get(`${PREFIX}members/paul`).string()) ?? '{}') as Record<string, unknown>;
    assert.match(String(paulRecord['probe_revision']), /^[1-9]\d*$/, JSON.stringify(paulRecord));
    (agents[0] as RunningAgent).child.kill('SIGSTOP');
    await waitUntil('john\'s member record gone (its lease expired)', async () => (await client.get(`${PREFIX}members/john`).string()) === null, TTL * 1000 + 10_000, 200);
    // paul's next round reads no record: its answer comes from the WAL receiver now.
    await waitUntil('paul answers from its WAL receiver', async () => (await agentGet(paul(), '/replica?lag=16MB')).body['master_lag_source'] === 'wal_receiver', 10_000, 200);
    const fromReceiver = await agentGet(paul(), '/replica?lag=16MB');
    assert.equal(fromReceiver.status, 200, JSON.stringify(fromReceiver.body));

    const db = new pg.Client({ host: john().socketDir, port: john().port, user: 'postgres', database: 'postgres' });
    await db.connect();
    try {
      await db.query("CREATE TABLE lagfill AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 32000) g");
    } finally {
      await db.end();
    }
    await waitUntil('paul within 16MB after 32 MB written', async () => (await agentGet(paul(), '/replica?lag=16MB')).status === 200, 15_000, 200);
    assert.equal((await agentGet(paul(), '/replica?lag=16MB')).body['master_lag_source'], 'wal_receiver');

    await john().stop('immediate');
    await waitUntil('paul ?lag= 503 once nothing streams', async () => (await agentGet(paul(), '/replica?lag=16MB')).status === 503, 15_000, 200);
    assert.equal((await agentGet(paul(), '/replica')).status, 200, 'plain /replica still answers: reads go on (backup servers)');
  });
});
