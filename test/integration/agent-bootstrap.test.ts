/**
 * Bootstrap of a new cluster by the node agents (issue 14, design §9 rule 3), against real etcd and
 * real PostgreSQL: two nodes whose data folders hold only their own configuration files
 * (postgresql.conf with their address, pg_hba.conf), nothing recorded in etcd, and both agents
 * configured with `agent.bootstrap: initdb`, started at the same moment. Exactly one takes the
 * `master` key (create-only) and runs initdb; it creates HandyRep's roles and confirms the key; the
 * other clones it and streams from it. At no 50 ms sample are both writable, and only the recorded
 * master ever is. And the claim alone, three agents racing with random delays, 20 times: exactly
 * one wins each time, and none while another agent reports a running PostgreSQL. A node holding data, nothing recorded, bootstrap on: never initdb'd over. The master lease taken
 * before a start as master is refused when the `master` key changed since the boot read it.
 */
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { putMasterLeaseIfStillMaster } from '../../src/agent/boot-lease.js';
import { claimMasterForBootstrap } from '../../src/agent/bootstrap-claim.js';
import { parseConfig } from '../../src/config/load.js';
import { createEtcdContext } from '../../src/store/etcd/client.js';
import { parseMasterRecord } from '../../src/store/etcd/master-record.js';
import type { TestCluster, TestNode } from '../fixtures/cluster.js';
import { sampleWritable, startAgentBed, type AgentBed } from '../fixtures/agent-bed.js';
import { putMasterRecord, startAgent, waitUntil, type RunningAgent } from '../fixtures/agents.js';

const PREFIX = '/handyrep/agentbootstrap/';
const KEEP = new Set(['postgresql.conf', 'pg_hba.conf']);

describe('node agent: bootstrap of a new cluster', { timeout: 300_000 }, () => {
  let bed: AgentBed;
  let cluster: TestCluster;
  let agents: RunningAgent[];

  before(async () => {
    bed = await startAgentBed(PREFIX, 2, { bootstrap_node: 'john' });
    cluster = bed.cluster;
    agents = bed.agents;
    // New nodes: stopped, and nothing in the data folder but the node's own configuration files.
    for (const node of cluster.nodes) {
      await node.stop('fast');
      for (const entry of readdirSync(node.dataDir)) if (!KEEP.has(entry)) rmSync(join(node.dataDir, entry), { recursive: true, force: true });
    }
  });

  after(async () => {
    await bed?.close();
  });

  it('two agents race: exactly one initdbs and is recorded, the other clones it and streams; never two writable', async () => {
    const [a, b] = cluster.nodes as [TestNode, TestNode];
    const client = bed.client;
    const violations: string[] = [];
    const sampler = sampleWritable([a, b], async ([wa, wb]) => {
      const value = await client.get(`${PREFIX}master`).string().catch(() => null);
      const recorded = value === null ? null : parseMasterRecord(`${PREFIX}master`, value).name;
      if (wa && wb) violations.push('both writable');
      for (const [node, writable] of [[a, wa], [b, wb]] as const) {
        // The key is written before initdb runs: a writable node must already be recorded.
        if (writable && recorded !== node.name) violations.push(`${node.name} writable while the key names ${String(recorded)}`);
      }
    });
    agents.push(startAgent(cluster, a, bed.settings), startAgent(cluster, b, bed.settings));
    let sampled: { samples: number };
    let winner: TestNode;
    let loser: TestNode;
    try {
      await waitUntil('a master recorded', async () => (await client.get(`${PREFIX}master`).string()) !== null, 60_000, 100);
      const name = parseMasterRecord(`${PREFIX}master`, (await client.get(`${PREFIX}master`).string()) as string).name;
      [winner, loser] = name === a.name ? [a, b] : [b, a];
      await waitUntil(
        `${loser.name} streams from ${winner.name}`,
        async () => (await cluster.psql(winner, `SELECT count(*) FROM pg_stat_replication WHERE application_name = '${loser.name}' AND state = 'streaming'`).catch(() => '0')) === '1',
        150_000,
        200,
      );
    } finally {
      sampled = await sampler.stop();
    }
    // pg_ctl start -w may return (and the agent log it) a moment after the WAL receiver streams.
    await waitUntil('the copy\'s pg_ctl start returned', () => agents.some((agent) => agent.node === loser && agent.output().includes('started as a standby')), 30_000, 100);
    const outputs = agents.map((agent) => agent.output());
    assert.equal(outputs.filter((o) => o.includes('running initdb')).length, 1, 'exactly one agent ran initdb');
    const winnerOut = agents.find((agent) => agent.node === winner)?.output() ?? '';
    const loserOut = agents.find((agent) => agent.node === loser)?.output() ?? '';
    assert.match(winnerOut, /started as the master of a new cluster \(master lease held; initdb .* data checksums on\)\); created role handyrep, role replicator; master key confirmed/);
    assert.match(loserOut, /started as a standby of \w+ \(cloned: pg_basebackup from \w+ finished; verified whole by pg_verifybackup against backup_manifest, WAL parsed\)/);
    assert.doesNotMatch(loserOut, /running initdb/);

    const record = parseMasterRecord(`${PREFIX}master`, (await client.get(`${PREFIX}master`).string()) as string);
    assert.equal(record.name, winner.name);
    assert.equal(record.written_by, `agent:${winner.name} bootstrap`);
    assert.equal(record.timeline, 1, 'confirmed once it ran');
    const sysid = 'SELECT system_identifier FROM pg_control_system()';
    assert.equal(await cluster.psql(loser, sysid), await cluster.psql(winner, sysid), 'the loser is a copy of the winner');
    assert.equal(await cluster.psql(winner, 'SHOW data_checksums'), 'on');
    assert.equal(await cluster.psql(loser, 'SELECT pg_is_in_recovery()'), 't');
    assert.equal(await cluster.psql(winner, "SELECT count(*) FROM pg_roles WHERE rolname IN ('handyrep', 'replicator')"), '2');
    assert.equal(await cluster.psql(winner, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $$handyrep_" + loser.name + "$$ AND active"), '1', 'streams through its slot');
    assert.ok(sampled.samples > 20, `${sampled.samples} samples`);
    assert.deepEqual(violations, []);
    await cluster.psql(winner, 'CREATE TABLE after_bootstrap (id int)');
    await waitUntil('the copy replays the master', async () => (await cluster.psql(loser, "SELECT to_regclass('after_bootstrap') IS NOT NULL")) === 't', 20_000);

    // A folder holding data is never initdb'd over: the copy, stopped, under a prefix where nothing
    // is recorded, with bootstrap initdb → left stopped, its data untouched.
    const before = await cluster.psql(loser, sysid);
    const loserAgent = agents.find((agent) => agent.node === loser) as RunningAgent;
    await loserAgent.stop('SIGKILL');
    await loser.stop('fast');
    const again = startAgent(cluster, loser, { ...bed.settings, prefix: '/handyrep/agentbootstrap-empty/', agent: { bootstrap_node: loser.name } });
    agents.push(again);
    await waitUntil('the boot decision logged', () => again.output().includes('boot: no master recorded: PostgreSQL not started'), 30_000, 100);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.equal(loser.postmasterPid(), null, 'not started');
    assert.doesNotMatch(again.output(), /initdb/);
    await loser.start();
    assert.equal(await cluster.psql(loser, sysid), before, 'the same data');
  });

  it('the create-only claim: three agents racing with random delays, 20 rounds → exactly one wins each time', async () => {
    for (let round = 0; round < 20; round++) {
      const prefix = `/handyrep/claimrace${round}/`;
      const contexts = ['john', 'paul', 'george'].map(() => createEtcdContext(parseConfig(JSON.stringify({ handyrep: { store: 'etcd' }, etcd: { endpoints: bed.etcd.endpoints, prefix } }), 'test')));
      try {
        const results = await Promise.all(
          ['john', 'paul', 'george'].map(async (node, i) => {
            await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
            return { node, ...(await claimMasterForBootstrap(contexts[i] as ReturnType<typeof createEtcdContext>, node, 5000)) };
          }),
        );
        const winners = results.filter((r) => r.won);
        assert.equal(winners.length, 1, `round ${round}: ${JSON.stringify(results)}`);
        const recorded = parseMasterRecord(`${prefix}master`, (await bed.client.get(`${prefix}master`).string()) as string);
        assert.equal(recorded.name, winners[0]?.node);
        if (round === 0) {
          // The master key lost: the `initialized` key (written with the claim) forbids a second bootstrap.
          await bed.client.delete().key(`${prefix}master`);
          const again = await claimMasterForBootstrap(contexts[0] as ReturnType<typeof createEtcdContext>, 'john', 5000);
          assert.equal(again.won, false);
          assert.match(again.details, /the cluster was initialized before/);
          assert.equal(await bed.client.get(`${prefix}master`).string(), null);
        }
      } finally {
        for (const ctx of contexts) ctx.close();
      }
    }
    // Not a new cluster: another agent's member record says its PostgreSQL runs → refused, nothing written.
    const prefix = '/handyrep/claimrunning/';
    await bed.client.put(`${prefix}members/paul`).value(JSON.stringify({ name: 'paul', postgres: 'running' }));
    const ctx = createEtcdContext(parseConfig(JSON.stringify({ handyrep: { store: 'etcd' }, etcd: { endpoints: bed.etcd.endpoints, prefix } }), 'test'));
    try {
      const refused = await claimMasterForBootstrap(ctx, 'john', 5000);
      assert.deepEqual(refused, { won: false, details: 'not a new cluster: PostgreSQL runs on paul and no master is recorded; not bootstrapping' });
      assert.equal(await bed.client.get(`${prefix}master`).string(), null);
    } finally {
      ctx.close();
    }
  });

  it('the master lease before a start as master: refused when the master key changed since the boot read it', async () => {
    const prefix = '/handyrep/bootlease/';
    const ctx = createEtcdContext(parseConfig(JSON.stringify({ handyrep: { store: 'etcd' }, etcd: { endpoints: bed.etcd.endpoints, prefix } }), 'test'));
    try {
      await putMasterRecord(bed.client, prefix, 'john');
      const read = async (): Promise<string> => (await ctx.client.kv.range({ key: Buffer.from(`${prefix}master`) })).kvs[0]?.mod_revision ?? '0';
      const seenByBoot = await read();
      await putMasterRecord(bed.client, prefix, 'paul'); // a controller records paul in between
      const grant = await ctx.client.leaseClient.leaseGrant({ TTL: 5 });
      const refused = await putMasterLeaseIfStillMaster(ctx, 'john', grant.ID, seenByBoot, 5000);
      assert.equal(refused.ok, false);
      assert.equal(await bed.client.get(`${prefix}master_lease/john`).string(), null, 'nothing written');
      const taken = await putMasterLeaseIfStillMaster(ctx, 'john', grant.ID, await read(), 5000);
      assert.equal(taken.ok, true, taken.details);
      const kv = (await ctx.client.kv.range({ key: Buffer.from(`${prefix}master_lease/john`) })).kvs[0];
      assert.equal(kv?.lease, grant.ID, 'under the agent\'s lease');
    } finally {
      ctx.close();
    }
  });
});
