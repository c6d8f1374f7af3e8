/**
 * Issue 14, clone through an agent — the remaining safety gaps, shown with real etcd, PostgreSQL
 * and agents (no sshd):
 *   A. no controller (the commands written as a leader would):
 *      - john, the master, holds its master lease while its `master` key is unreadable: a clone and
 *        a rewind sent to it are refused (reason master_lease_held), never taken; with the key
 *        absent (lease released, PostgreSQL left writable) a clone is refused (postgres_writable);
 *      - paul's boot copy of john, its agent SIGKILLed midway: the partial folder is marked; the
 *        agent started again copies again (never starts or rewinds the partial copy) and streams;
 *   B. a controller daemon, control_method agent: its clone of paul (old data kept aside), paul's
 *      agent SIGKILLed mid-copy → the clone call ends "interrupted: agent gone" a few seconds after
 *      the agent's member lease expired (not at the command's limit); paul's agent started again
 *      copies again, the old data folder still kept aside, and paul streams from john.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { startAgentBed, type AgentBed } from '../fixtures/agent-bed.js';
import { basebackupsInto as basebackups } from '../fixtures/proc.js';
import { commandBedSettings } from '../fixtures/agent-command-bed.js';
import { commandAsLeader, putTestLeader } from '../fixtures/leader-command.js';
import { startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { basic, freePort, http, startDaemonProcess, type DaemonProcess } from '../fixtures/daemon.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';
import { POSTGRES_FAST_RETRY } from '../fixtures/failover-settings.js';
import { writeConfig } from '../fixtures/handyrep-config.js';
import { isWritable, putMasterRecord, startAgent, waitUntil, type AgentSettings, type RunningAgent } from '../fixtures/agents.js';

const KEEP = new Set(['postgresql.conf', 'pg_hba.conf']);

const markerOf = (n: TestNode): string => join(dirname(n.dataDir), `.handyrep-agent-${n.name}.copying`);
const slow = (settings: AgentSettings, rate: string): AgentSettings => ({ ...settings, sections: { ...settings.sections, plugins: { clone_basebackup: { extra_parameters: [`--max-rate=${rate}`] } } } });
const receiver = async (cluster: TestCluster, n: TestNode): Promise<string> => (await cluster.psql(n, "SELECT status || '|' || sender_host FROM pg_stat_wal_receiver").catch(() => '')).trim();

describe('clone guard without a controller: refusals on the master, a boot copy killed midway', { timeout: 400_000 }, () => {
  const PREFIX = '/handyrep/cloneguard-a/';
  let bed: AgentBed;
  let settings: AgentSettings;
  const john = (): TestNode => bed.cluster.nodes[0] as TestNode;
  const paul = (): TestNode => bed.cluster.nodes[1] as TestNode;
  const start = (n: TestNode, s: AgentSettings): RunningAgent => {
    const agent = startAgent(bed.cluster, n, s);
    bed.agents.push(agent);
    return agent;
  };
  const command = (node: string, id: string, request: Record<string, unknown>) => commandAsLeader(bed.client, PREFIX, node, id, request);

  before(async () => {
    bed = await startAgentBed(PREFIX, 2);
    settings = { ...bed.settings, sections: { ...bed.settings.sections, handyrep: { store: 'etcd' }, server_defaults: { control_method: 'agent' } } };
    // A leader key (its create revision is the term the agents compare); no controller runs.
    await putTestLeader(bed.client, PREFIX);
    // 8 MB: a copy at 32 kB/s takes minutes.
    await bed.cluster.psql(john(), "CREATE TABLE filler AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 8000) g");
    await putMasterRecord(bed.client, PREFIX, 'john');
  });

  after(async () => {
    await Promise.all(bed.agents.map((a) => a.stop('SIGTERM')));
    await bed?.close();
  });

  it('the master holds its lease while its master key is unreadable: clone and rewind refused (master_lease_held), never taken', async () => {
    const agent = start(john(), settings);
    try {
      await waitUntil("john's master lease", async () => (await bed.client.get(`${PREFIX}master_lease/john`).string()) !== null, 30_000, 100);
      const pid = john().postmasterPid();
      await bed.client.put(`${PREFIX}master`).value('not a master record');
      await waitUntil('john keeps its lease with the key unreadable', () => /the master key is unreadable/.test(agent.output()), 15_000, 100);
      assert.notEqual(await bed.client.get(`${PREFIX}master_lease/john`).string(), null, 'lease still held');
      const requests = {
        clone: { action: 'clone', source: 'paul', upstream: 'paul', old_data: 'delete', restore_command: false },
        rewind: { action: 'rewind', source: 'paul' },
      };
      for (const [name, request] of Object.entries(requests)) {
        const record = await command('john', `0000000000000000${name === 'clone' ? 1 : 2}-guard`, request);
        assert.equal(record.started, null, `${name}: never taken`);
        assert.equal(record.result.refused?.kind, 'invalid', JSON.stringify(record.result));
        assert.match(record.result.refused?.message ?? '', new RegExp(`${name} refused, this agent holds master_lease/john.*\\(reason master_lease_held\\); nothing changed`));
      }
      assert.match(agent.output(), /refused \(master_lease_held\)/);
      // Nothing recorded: the lease is released, PostgreSQL left writable — still no clone.
      await bed.client.delete().key(`${PREFIX}master`);
      await waitUntil('the lease released', async () => (await bed.client.get(`${PREFIX}master_lease/john`).string()) === null, 15_000, 100);
      assert.equal(await isWritable(john()), true);
      const record = await command('john', '00000000000000003-guard', requests.clone);
      assert.match(record.result.refused?.message ?? '', /clone refused, PostgreSQL runs writable on john \(reason postgres_writable\)/);
      assert.equal(john().postmasterPid(), pid, 'the same postmaster all along');
      assert.equal(await isWritable(john()), true, 'and still the writable master');
      await putMasterRecord(bed.client, PREFIX, 'john');
      await waitUntil("john's master lease again", async () => (await bed.client.get(`${PREFIX}master_lease/john`).string()) !== null, 30_000, 100);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${agent.output().slice(-4000)}`, { cause: err });
    }
  });

  it("paul's boot copy killed midway (SIGKILL): the folder is marked; the agent started again copies again and never starts the partial copy", async () => {
    await paul().stop('fast');
    await bed.cluster.psql(john(), "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'handyrep_paul'");
    for (const entry of readdirSync(paul().dataDir)) if (!KEEP.has(entry)) rmSync(join(paul().dataDir, entry), { recursive: true, force: true });
    const first = start(paul(), slow(settings, '32k'));
    let second: RunningAgent | null = null;
    try {
      await waitUntil('pg_basebackup copying into paul', () => basebackups(paul().dataDir).length > 0, 60_000, 100);
      // Until it looks like data (PG_VERSION): what the boot took for data before the marker.
      await waitUntil('the partial copy has a PG_VERSION', () => existsSync(join(paul().dataDir, 'PG_VERSION')), 60_000, 100);
      await first.stop('SIGKILL');
      const marker = JSON.parse(readFileSync(markerOf(paul()), 'utf8')) as { phase: string; source: string; pgdata: string };
      assert.equal(marker.phase, 'copying');
      assert.equal(marker.pgdata, paul().dataDir);
      second = start(paul(), settings);
      await waitUntil('paul streams from john', async () => (await receiver(bed.cluster, paul())) === `streaming|${john().host}`, 120_000, 250);
      // The agent says so once its start returned: the WAL receiver may stream a moment before.
      const runningAgent = second;
      await waitUntil("paul's agent reports the standby started", () => /started as a standby of john/.test(runningAgent.output()), 30_000, 100);
      const said = second.output();
      assert.match(said, /holds a partial copy, never started; copying again/);
      assert.doesNotMatch(said, /starting as its standby \(pg_rewind first/, 'never taken for data');
      assert.equal(existsSync(markerOf(paul())), false, 'the marker is removed once the copy is whole');
      assert.equal(await isWritable(paul()), false);
      assert.equal((await bed.cluster.psql(paul(), 'SELECT count(*) FROM filler')).trim(), '8000', 'a whole copy');
      assert.match(readFileSync(join(paul().dataDir, 'postgresql.conf'), 'utf8'), new RegExp(paul().host.replaceAll('.', '\\.')), "paul's own configuration file is back");
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- first agent:\n${first.output().slice(-3000)}\n--- second agent:\n${second?.output().slice(-5000) ?? ''}`, { cause: err });
    }
  });
});

describe('clone guard with a controller: an agent killed mid-clone', { timeout: 400_000 }, () => {
  const PREFIX = '/handyrep/cloneguard-b/';
  const TTL = 4;
  const ADMIN = 'clone-guard-admin';
  let etcd: EtcdCluster;
  let cluster: TestCluster;
  let client: Etcd3;
  let daemon: DaemonProcess | null = null;
  let agentSettings: AgentSettings;
  const agents: RunningAgent[] = [];
  const node = (name: string): TestNode => cluster.nodes.find((n) => n.name === name) as TestNode;
  const call = async (path: string): Promise<{ result: string; details: string }> =>
    (await http((daemon as DaemonProcess).url, path, { method: 'POST', headers: { authorization: basic(ADMIN) }, timeoutMs: 180_000 })).json as { result: string; details: string };
  const status = async (): Promise<Record<string, { status: string }>> => ((await http((daemon as DaemonProcess).url, '/get_status', { headers: { authorization: basic(ADMIN) } })).json as { servers: Record<string, { status: string }> }).servers;
  const story = (): string => `--- controller:\n${daemon?.stderr().slice(-4000) ?? ''}\n${agents.map((a) => `--- agent ${a.node.name}:\n${a.output().slice(-3000)}`).join('\n')}`;

  before(async () => {
    [etcd, cluster] = await Promise.all([startEtcdCluster({ members: 1 }), startCluster({ nodes: 2, ssh: false, postgresConf: POSTGRES_FAST_RETRY })]);
    client = new Etcd3({ hosts: etcd.endpoints });
    const archive = { archive_directory: join(cluster.root, 'archive') };
    const { controller, agentSections } = commandBedSettings(cluster, { prefix: PREFIX, admin: ADMIN, ttl: TTL, endpoints: etcd.endpoints, port: await freePort(), archive });
    agentSettings = { endpoints: etcd.endpoints, prefix: PREFIX, ttl: TTL, sections: agentSections };
    agents.push(startAgent(cluster, node('john'), agentSettings), startAgent(cluster, node('paul'), slow(agentSettings, '256k')));
    daemon = await startDaemonProcess(await writeConfig(cluster, controller, 'ctl.yaml'));
    await cluster.psql(node('john'), "CREATE TABLE filler AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 8000) g");
    await waitUntil('every server healthy', async () => Object.values(await status()).every((s) => s.status === 'healthy'), 90_000, 500).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${story()}`);
    });
  });

  after(async () => {
    await daemon?.stop('SIGTERM').catch(() => undefined);
    await Promise.all(agents.map((a) => a.stop('SIGKILL')));
    client?.close();
    await Promise.all([cluster?.stop(), etcd?.stop()]);
  });

  it('the clone call ends "interrupted: agent gone" seconds after the agent\'s lease expired; restarted, the agent copies again, the old data still kept', async (t) => {
    const paul = node('paul');
    try {
      const cloning = call('/clone?replicaserver=paul&reclone=true&keep_old_data=true');
      await waitUntil('pg_basebackup copying into paul', () => basebackups(paul.dataDir).length > 0, 90_000, 100);
      const kept = readdirSync(dirname(paul.dataDir)).filter((e) => e.startsWith(`${paul.dataDir.split('/').pop() as string}.handyrep-old-`));
      assert.equal(kept.length, 1, `the old data moved aside (${kept.join(', ')})`);
      const killedAt = performance.now();
      const old = agents.find((a) => a.node === paul) as RunningAgent;
      await old.stop('SIGKILL');
      const reply = await cloning;
      const afterMs = performance.now() - killedAt;
      assert.equal(reply.result, 'FAIL', JSON.stringify(reply));
      assert.match(reply.details, /clone interrupted: agent gone \(its member key members\/paul expired/);
      // The member lease lasts TTL after the last renewal; then about a second to notice, and the clone's own end.
      t.diagnostic(`clone answered ${Math.round(afterMs)} ms after the agent's SIGKILL (member lease ttl ${TTL} s)`);
      assert.ok(afterMs < TTL * 1000 + 6000, `answered ${Math.round(afterMs)} ms after the kill (member lease ${TTL} s), not at the command's limit`);
      assert.ok(existsSync(markerOf(paul)), 'the partial copy is marked');
      const again = startAgent(cluster, paul, agentSettings);
      agents[agents.indexOf(old)] = again;
      await waitUntil('paul streams from john', async () => (await receiver(cluster, paul)) === `streaming|${node('john').host}`, 120_000, 250);
      assert.match(again.output(), /holds a partial copy, never started; copying again; the old data stays at \S+handyrep-old-/);
      assert.equal(existsSync(markerOf(paul)), false, 'marker removed');
      const keptAt = join(dirname(paul.dataDir), kept[0] as string);
      assert.ok(existsSync(join(keptAt, 'PG_VERSION')), 'the old data folder the operator asked to keep is still there');
      assert.equal((await cluster.psql(paul, 'SELECT count(*) FROM filler')).trim(), '8000');
      assert.equal(await isWritable(paul), false);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${story()}`, { cause: err });
    }
  });
});
