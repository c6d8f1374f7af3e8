/**
 * Role discovery when the agent starts (design §9 rule 3), against real etcd and real PostgreSQL
 * (john the old master, paul its replica), the agent its own process as the postgres OS user:
 *   paul promoted and recorded as master while john, stopped, wrote on its own timeline → john's
 *   agent rewinds it and starts it as a streaming standby of paul, never writable (sampled every
 *   50 ms); no master recorded → the agent does not start PostgreSQL, until one is; the recorded
 *   master stopped → its agent starts it writable.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';
import { HANDYREP_DB_PASSWORD } from '../fixtures/template.js';
import { isWritable, putMasterRecord, startAgent, waitUntil, type AgentSettings, type RunningAgent } from '../fixtures/agents.js';

const PREFIX = '/handyrep/agentboot/';

describe('node agent: role discovery at boot', { timeout: 300_000 }, () => {
  let etcd: EtcdCluster;
  let cluster: TestCluster;
  let client: Etcd3;
  let settings: AgentSettings;
  const agents: RunningAgent[] = [];
  const john = (): TestNode => cluster.nodes[0] as TestNode;
  const paul = (): TestNode => cluster.nodes[1] as TestNode;

  before(async () => {
    [etcd, cluster] = await Promise.all([startEtcdCluster({ members: 1 }), startCluster({ nodes: 2, ssh: false })]);
    client = new Etcd3({ hosts: etcd.endpoints });
    settings = {
      endpoints: etcd.endpoints,
      prefix: PREFIX,
      ttl: 5,
      sections: { passwords: { handyrep_db_pass: HANDYREP_DB_PASSWORD }, failover: { use_replication_slots: true } },
    };
  });

  after(async () => {
    const logTo = process.env['AGENT_TEST_LOG'];
    if (logTo) writeFileSync(logTo, [...agents.map((a) => a.output()), ...(cluster?.nodes.map((n) => readFileSync(n.logFile, 'utf8')) ?? [])].join('\n----\n'));
    await Promise.all(agents.map((a) => a.stop('SIGKILL')));
    client?.close();
    await Promise.all([cluster?.stop(), etcd?.stop()]);
  });

  it('no master recorded → the agent does not start a stopped PostgreSQL; once john is recorded it does', async () => {
    await john().stop('fast');
    const agent = startAgent(cluster, john(), settings);
    agents.push(agent);
    await waitUntil('the boot decision logged', () => agent.output().includes('boot: no master recorded'), 20_000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(john().postmasterPid(), null, 'not started without a recorded master');
    await putMasterRecord(client, PREFIX, 'john');
    await waitUntil('john started by its agent, writable', () => isWritable(john()), 30_000);
    await waitUntil('pg_ctl start -w returned', () => agent.output().includes('boot: started as the master'), 30_000);
    await agent.stop('SIGTERM'); // a master's agent stops its PostgreSQL on a clean stop
  });

  it('old master stopped, another node recorded → rewound and started as a streaming standby, never writable', async () => {
    await john().start();
    await cluster.psql(john(), 'CREATE TABLE before_fork (id int)');
    await waitUntil('paul replayed the table', async () => (await cluster.psql(paul(), "SELECT to_regclass('before_fork') IS NOT NULL")) === 't', 20_000);
    await cluster.psql(paul(), 'SELECT pg_promote(true, 60)');
    // john goes on writing on its own timeline after paul's fork point: only a rewind joins them.
    await cluster.psql(john(), 'CREATE TABLE after_fork AS SELECT generate_series(1, 1000) AS id');
    await john().stop('fast');
    await putMasterRecord(client, PREFIX, 'paul');

    let writableSamples = 0;
    let samples = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples++;
        if (await isWritable(john())) writableSamples++;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const agent = startAgent(cluster, john(), settings);
    agents.push(agent);
    try {
      await waitUntil(
        'john streams from paul',
        async () => (await cluster.psql(paul(), "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'john' AND state = 'streaming'").catch(() => '0')) === '1',
        90_000,
        200,
      );
    } finally {
      sampling = false;
      await sampler;
    }
    assert.equal(await cluster.psql(john(), 'SELECT pg_is_in_recovery()'), 't');
    assert.equal(await cluster.psql(john(), "SELECT to_regclass('after_fork') IS NULL"), 't', 'the writes of the old timeline were rewound away');
    assert.equal(await cluster.psql(paul(), "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'handyrep_john' AND active"), '1', 'streams through its slot');
    assert.match(agent.output(), /started as a standby of paul \(pg_rewind: /);
    assert.ok(samples > 20, `${samples} samples`);
    assert.equal(writableSamples, 0, `john was writable in ${writableSamples} of ${samples} samples`);
    await cluster.psql(paul(), 'CREATE TABLE after_boot (id int)');
    await waitUntil('john replays the new master', async () => (await cluster.psql(john(), "SELECT to_regclass('after_boot') IS NOT NULL")) === 't', 20_000);
  });

  it('the recorded master stopped → its agent starts it, writable', async () => {
    await paul().stop('fast');
    const agent = startAgent(cluster, paul(), settings);
    agents.push(agent);
    await waitUntil('paul writable again', () => isWritable(paul()), 60_000);
    await waitUntil('pg_ctl start -w returned', () => agent.output().includes('boot: started as the master'), 30_000);
  });
});
