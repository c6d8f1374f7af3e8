/**
 * /replica?lag= without the master's member record (review F7, design §9 rule 5), real etcd,
 * PostgreSQL and agents (master john, replica paul, no controller):
 *   - john's agent frozen (SIGSTOP): its lease-bound record leaves etcd, john's PostgreSQL goes on
 *     and paul streams from it → paul still answers 200 within the limit, from what the WAL sender
 *     reported (master_lag_source wal_receiver; before: 503, the read backend emptied);
 *   - 32 MB written on john meanwhile: paul streams them and stays within 16 MB;
 *   - john's PostgreSQL stopped: paul no longer streams and has no record → 503 (unknown distance),
 *     while plain /replica stays 200;
 *   - then paul's agent does not see john: a controller-side read of the records (the onset) is
 *     followed by a "does not see" whose probe_revision is above it (review F3: etcd order, no clocks).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import pg from 'pg';
import { AGENT_PORT, putMasterRecord, startAgent, waitUntil, type RunningAgent } from '../fixtures/agents.js';
import { startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';
import { combineAgentReads } from '../../src/engine/agent-vantage.js';
import { parseConfig } from '../../src/config/load.js';
import { createEtcdContext } from '../../src/store/etcd/client.js';
import { readMemberViews } from '../../src/store/etcd/member-view.js';

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
    // An idle sender is heard only when the receiver pings it, every wal_receiver_timeout / 2: within
    // the ttl here (docs/node-agent.md asks for wal_receiver_timeout ≤ 2 × etcd.ttl).
    await cluster.psql(cluster.nodes[1] as TestNode, "ALTER SYSTEM SET wal_receiver_timeout = '4s'");
    await cluster.psql(cluster.nodes[1] as TestNode, 'SELECT pg_reload_conf()');
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
    // paul publishes john's newest position (master_lsn_seen), read with its own record's writes:
    // within ttl/3 of john's record showing it, plus a round to publish it.
    const lsn = (text: unknown): bigint => {
      if (typeof text !== 'string' || !/^[0-9A-F]+\/[0-9A-F]+$/.test(text)) return -1n;
      const [hi = '0', lo = '0'] = text.split('/');
      return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
    };
    const record = async (name: string): Promise<Record<string, unknown>> => JSON.parse((await client.get(`${PREFIX}members/${name}`).string()) ?? '{}') as Record<string, unknown>;
    const before = lsn((await record('john'))['wal_position']);
    await cluster.psql(john(), 'CREATE TABLE seen_fill AS SELECT 1 AS x');
    await waitUntil("john's record shows its new position", async () => lsn((await record('john'))['wal_position']) > before, 10_000, 100);
    const johnAt = lsn((await record('john'))['wal_position']);
    const shown = performance.now();
    await waitUntil("paul publishes john's new position", async () => lsn((await record('paul'))['master_lsn_seen']) >= johnAt, 10_000, 100);
    const lagMs = performance.now() - shown;
    assert.ok(lagMs < (TTL * 1000) / 3 + 3000, `published ${Math.round(lagMs)} ms after john's record showed it`);
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

    // Review F3 against real etcd: a controller's first read of the records is the onset; paul's
    // agent, which does not see john, writes a newer "does not see" each round, so one from a probe
    // that started after the onset arrives and counts, without comparing any clock.
    const ctx = createEtcdContext(parseConfig(JSON.stringify({ handyrep: { store: 'etcd' }, etcd: { endpoints: etcd.endpoints, prefix: PREFIX } }), 'test'));
    try {
      const onset = await readMemberViews(ctx);
      const early = { records: onset.views, revision: onset.revision };
      const judged = async (): Promise<string | undefined> => {
        const late = await readMemberViews(ctx);
        return combineAgentReads([{ replica: 'paul', probe: 'unknown', probeDetail: 'no ssh', walReceiver: null }], early, { records: late.views, revision: late.revision }, 'john')[0]?.probe;
      };
      await waitUntil('paul\'s "does not see" newer than the onset', async () => (await judged()) === 'no_answer', 10_000, 200);
      const paulNow = (await readMemberViews(ctx)).views.find((v) => v.name === 'paul');
      assert.equal(paulNow?.sees_master, false);
      assert.ok(BigInt(paulNow?.probe_revision ?? '0') > BigInt(onset.revision), `probe_revision ${paulNow?.probe_revision} after the onset ${onset.revision}`);
      assert.equal(combineAgentReads([{ replica: 'paul', probe: 'unknown', probeDetail: 'no ssh', walReceiver: null }], early, early, 'john')[0]?.probe, 'unknown', 'the onset read itself is no news');
    } finally {
      ctx.close();
    }
  });
});
