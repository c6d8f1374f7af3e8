/**
 * control_method agent end to end: real etcd, real PostgreSQL (3 nodes, NO sshd), a real agent per
 * node (its own process, as the postgres OS user) and a controller daemon whose every node action
 * goes to the agents as `commands/<node>/<id>` records:
 *   - a switchover (manual_failover) runs to the end, john rejoining as a replica of paul;
 *   - a failover (the master's postmaster SIGKILLed) runs to the end; the old master rejoins;
 *   - a command written under an old term is answered stale_term and nothing runs;
 *   - records with hostile parameters (a shell tail, a path) are answered invalid and nothing runs;
 *   - an agent that does not answer fails the action as an unreachable ssh host would; restarted,
 *     it answers a record its dead process had started `interrupted` and does not run it;
 *   - start_archiving / stop_archiving: the script pushed, the flag file removed and created by the agents.
 * Each scenario asserts that the actions went through the agents (their logs name the commands).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';
import { writeConfig } from '../fixtures/handyrep-config.js';
import { POSTGRES_FAST_RETRY } from '../fixtures/failover-settings.js';
import { commandBedSettings } from '../fixtures/agent-command-bed.js';
import { basic, freePort, http, startDaemonProcess, type DaemonProcess } from '../fixtures/daemon.js';
import { startAgent, waitUntil, type AgentSettings, type RunningAgent } from '../fixtures/agents.js';
import { writableNodes } from '../fixtures/chaos.js';
import { postgresUser } from '../fixtures/exec.js';

const TTL = 4;
const ADMIN = 'agent-commands-admin';
const PREFIX = '/handyrep/agentcmd/';

describe('control_method agent: node actions executed by the agents, no ssh', { timeout: 420_000 }, () => {
  let etcd: EtcdCluster;
  let cluster: TestCluster;
  let client: Etcd3;
  let daemon: DaemonProcess | null = null;
  const agents: RunningAgent[] = [];
  let agentSettings: AgentSettings;
  let controllerSettings: Record<string, unknown>;
  const archive = (): Record<string, unknown> => ({
    archive_script_method: 'archive_local_dir',
    archive_directory: join(cluster.root, 'archive'),
    archive_script_path: join(cluster.root, 'archive.sh'),
    no_archive_file: join(cluster.root, 'noarchive'),
  });
  const retired: RunningAgent[] = [];
  const node = (name: string): TestNode => cluster.nodes.find((n) => n.name === name) as TestNode;
  const agentOf = (name: string): RunningAgent => agents.find((a) => a.node.name === name) as RunningAgent;
  const masterKey = async (): Promise<string | null> => {
    const value = await client.get(`${PREFIX}master`).string();
    return value === null ? null : (JSON.parse(value) as { name: string }).name;
  };
  const history = async (): Promise<{ outcome: string; details: string }[]> =>
    (await http((daemon as DaemonProcess).url, '/failover_history?numentries=10', { headers: { authorization: basic(ADMIN) } })).json as { outcome: string; details: string }[];
  const status = async (): Promise<Record<string, { status: string; role: string }>> => {
    const reply = await http((daemon as DaemonProcess).url, '/get_status', { headers: { authorization: basic(ADMIN) } });
    return (reply.json as { servers: Record<string, { status: string; role: string }> }).servers;
  };
  const story = (): string => `--- controller:\n${daemon?.stderr().slice(-4000) ?? ''}\n${agents.map((a) => `--- agent ${a.node.name}:\n${a.output().slice(-2500)}`).join('\n')}`;

  before(async () => {
    [etcd, cluster] = await Promise.all([startEtcdCluster({ members: 1 }), startCluster({ nodes: 3, ssh: false, postgresConf: POSTGRES_FAST_RETRY })]);
    client = new Etcd3({ hosts: etcd.endpoints });
    const { controller: settings, agentSections } = commandBedSettings(cluster, {
      prefix: PREFIX,
      admin: ADMIN,
      ttl: TTL,
      endpoints: etcd.endpoints,
      port: await freePort(),
      archive: archive(),
      failover: { auto_rejoin: true },
      // promote_pg_ctl (not the default promote_sql): the promotion is a node action too.
      serverDefaults: { promotion_method: 'promote_pg_ctl' },
    });
    agentSettings = { endpoints: etcd.endpoints, prefix: PREFIX, ttl: TTL, sections: agentSections };
    for (const n of cluster.nodes) agents.push(startAgent(cluster, n, agentSettings));
    controllerSettings = settings;
    daemon = await startDaemonProcess(await writeConfig(cluster, settings, 'ctl.yaml'));
    await waitUntil('the master key names john', async () => (await masterKey()) === 'john', 60_000, 250);
    await waitUntil("john's agent holds the master lease", async () => (await client.get(`${PREFIX}master_lease/john`).string()) !== null, 30_000, 250);
  });

  after(async () => {
    await daemon?.stop('SIGTERM').catch(() => undefined);
    await Promise.all([...agents, ...retired].map((a) => a.stop('SIGKILL')));
    client?.close();
    await Promise.all([cluster?.stop(), etcd?.stop()]);
  });

  it('there is no sshd on any node: the controller reaches them only through the agents', async () => {
    for (const n of cluster.nodes) assert.equal(n.sshd.pid(), null, `${n.name} has no sshd`);
    // Verification runs the test command through each agent: every server is healthy without ssh.
    await waitUntil('every server healthy', async () => Object.values(await status()).every((s) => s.status === 'healthy'), 60_000, 500).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${story()}`);
    });
    assert.match(agentOf('paul').output(), /command \S+ test from /, "the verify test command ran through paul's agent");
  });

  it('switchover: manual_failover to paul runs to the end, every node action by the agents', async () => {
    try {
      const reply = await http((daemon as DaemonProcess).url, '/manual_failover?newmaster=paul', { method: 'POST', headers: { authorization: basic(ADMIN) } });
      assert.equal((reply.json as { result: string }).result, 'SUCCESS', JSON.stringify(reply.json));
      assert.equal(await masterKey(), 'paul');
      assert.deepEqual(await writableNodes(cluster), ['paul']);
      assert.match(agentOf('john').output(), /command \S+ pg_ctl from \S+: exit 0/, "john was stopped by its agent");
      assert.match(agentOf('john').output(), /command \S+ controldata from /, "the final checkpoint was read by john's agent");
      assert.match(agentOf('paul').output(), /command \S+ promote from \S+: exit 0/, 'paul was promoted by its agent');
      await waitUntil('john rejoined as a replica', async () => (await status())['john']?.role === 'replica' && (await status())['john']?.status === 'healthy', 60_000, 500);
      assert.match(agentOf('john').output(), /command \S+ standby_signal from /, "john's standby.signal written by its agent");
      const records = await client.getAll().prefix(`${PREFIX}commands/`).keys();
      assert.deepEqual(records, [], 'answered command records are deleted by the controller');
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${story()}`, { cause: err });
    }
  });

  it('a command written under an old term is refused (stale term) and nothing runs', async () => {
    const george = node('george');
    const pid = george.postmasterPid();
    assert.notEqual(pid, null);
    const key = `${PREFIX}commands/george/00000000000000001-oldterm`;
    const command = { id: '00000000000000001-oldterm', node: 'george', term: '1', controller: 'deposed', written_at: new Date().toISOString(), timeout_ms: 10_000, request: { action: 'pg_ctl', op: 'stop', wait_s: 5 }, stdin: null };
    await client.put(key).value(JSON.stringify({ command, started: null, result: null }));
    await waitUntil('an answer', async () => JSON.parse((await client.get(key).string()) ?? '{}').result != null, 10_000);
    const record = JSON.parse((await client.get(key).string()) as string) as { started: unknown; result: { refused: { kind: string; message: string } } };
    await client.delete().key(key);
    assert.equal(record.result.refused.kind, 'stale_term');
    assert.match(record.result.refused.message, /stale term: command written under term 1 by deposed, the current leader's term is \d+/);
    assert.equal(record.started, null, 'never started');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(george.postmasterPid(), pid, 'george still runs, same postmaster');
  });

  it('records with hostile parameters are refused with a clear error and nothing runs', async () => {
    const george = node('george');
    const pid = george.postmasterPid();
    const leader = await client.get(`${PREFIX}leader`).exec();
    const term = leader.kvs[0]?.create_revision as string;
    const marker = join(cluster.root, 'pwned');
    const hostile: [string, unknown, string | null, RegExp][] = [
      ['shell tail in op', { action: 'pg_ctl', op: `stop; touch ${marker}`, wait_s: 5 }, null, /op: /],
      ['shell tail in a server name', { action: 'isready', server: `; touch ${marker}`, timeout_s: 1 }, null, /server: must be a server name/],
      ['a path outside the data folder', { action: 'controldata', pgdata: '/etc' }, null, /pgdata: paths and flags come from the agent's own configuration/],
      ['rewind source as a path', { action: 'rewind', source: '../../etc/passwd' }, null, /source: must be a server name/],
      ['archive_command smuggled into set_upstream', { action: 'set_upstream', upstream: 'john' }, `archive_command = 'touch ${marker}'\n`, /takes no input/],
      ['an action not in the table', { action: 'exec', argv: ['touch', marker] }, null, /invalid command/],
    ];
    for (const [i, [name, request, stdin, problem]] of hostile.entries()) {
      const id = `0000000000000000${i}-hostile`;
      const key = `${PREFIX}commands/george/${id}`;
      const command = { id, node: 'george', term, controller: 'test', written_at: new Date().toISOString(), timeout_ms: 10_000, request, stdin };
      await client.put(key).value(JSON.stringify({ command, started: null, result: null }));
      await waitUntil(`an answer to ${name}`, async () => JSON.parse((await client.get(key).string()) ?? '{}').result != null, 10_000);
      const record = JSON.parse((await client.get(key).string()) as string) as { started: unknown; result: { refused: { kind: string; message: string } } };
      await client.delete().key(key);
      assert.equal(record.result.refused.kind, 'invalid', name);
      assert.match(record.result.refused.message, problem, name);
      assert.equal(record.started, null, `${name}: never started`);
    }
    assert.equal(existsSync(marker), false, 'nothing ran');
    assert.equal(george.postmasterPid(), pid, 'george still runs, same postmaster');
  });

  it("an agent that does not answer is an unreachable control channel; restarted, it answers a command in flight 'interrupted' and does not run it", async () => {
    const george = node('george');
    const pid = george.postmasterPid();
    const old = agentOf('george');
    await old.stop('SIGKILL');
    const reply = await http((daemon as DaemonProcess).url, '/restart?servername=george', { method: 'POST', headers: { authorization: basic(ADMIN) } });
    const rd = reply.json as { result: string; details: string };
    assert.equal(rd.result, 'FAIL', JSON.stringify(rd));
    assert.match(rd.details, /agent george \(etcd commands\/george\/\): the agent did not take pg_ctl within \d+ ms \(agent not running, or its node cut off from etcd\)/);
    assert.equal(george.postmasterPid(), pid, 'george untouched');
    assert.deepEqual(await client.getAll().prefix(`${PREFIX}commands/george/`).keys(), [], 'the unanswered records were deleted by the controller');
    // A record its previous process had started (and died running) — the new process must not run it.
    const term = (await client.get(`${PREFIX}leader`).exec()).kvs[0]?.create_revision as string;
    const key = `${PREFIX}commands/george/00000000000000009-inflight`;
    const command = { id: '00000000000000009-inflight', node: 'george', term, controller: 'test', written_at: new Date().toISOString(), timeout_ms: 10_000, request: { action: 'pg_ctl', op: 'stop', wait_s: 5 }, stdin: null };
    await client.put(key).value(JSON.stringify({ command, started: { by: 'george-4242-deadbeef', at: new Date().toISOString() }, result: null }));
    retired.push(old);
    agents[agents.indexOf(old)] = startAgent(cluster, george, agentSettings);
    await waitUntil('an answer', async () => JSON.parse((await client.get(key).string()) ?? '{}').result != null, 20_000);
    const record = JSON.parse((await client.get(key).string()) as string) as { started: { by: string }; result: { refused: { kind: string; message: string } } };
    await client.delete().key(key);
    assert.equal(record.result.refused.kind, 'interrupted');
    assert.equal(record.started.by, 'george-4242-deadbeef', 'not taken again');
    assert.equal(george.postmasterPid(), pid, 'not run: george still runs, same postmaster');
  });

  it("failover: paul's postmaster SIGKILLed → a replica promoted by its agent, paul rejoins, all through the agents", async () => {
    try {
      const before = (await history()).filter((r) => r.outcome === 'SUCCESS').length;
      const paul = node('paul');
      process.kill(paul.postmasterPid() as number, 'SIGKILL');
      await waitUntil('a new master', async () => {
        const master = await masterKey();
        return master !== null && master !== 'paul';
      }, 60_000, 250);
      const master = (await masterKey()) as string;
      await waitUntil('the new master writable', async () => (await writableNodes(cluster)).includes(master), 30_000, 250);
      assert.deepEqual(await writableNodes(cluster), [master], 'one writable server');
      await waitUntil('a successful failover in the history', async () => (await history()).filter((r) => r.outcome === 'SUCCESS').length > before, 60_000, 500);
      assert.match(agentOf(master).output(), /command \S+ promote from \S+: exit 0/, `${master} was promoted by its agent`);
      await waitUntil('paul rejoined as a replica', async () => (await status())['paul']?.role === 'replica' && (await status())['paul']?.status === 'healthy', 90_000, 500);
      assert.match(agentOf('paul').output(), /command \S+ rewind from /, "paul was rewound by its agent");
      assert.deepEqual(await writableNodes(cluster), [master], 'still one writable server');
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${story()}`, { cause: err });
    }
  });

  it('start_archiving / stop_archiving: the archive script pushed and the flag file handled by the agents', async () => {
    const call = async (path: string): Promise<{ result: string; details: string }> =>
      (await http((daemon as DaemonProcess).url, path, { method: 'POST', headers: { authorization: basic(ADMIN) } })).json as { result: string; details: string };
    // Turned on only now: archive_mode is off in these clusters, which turns the master to warning.
    await writeConfig(cluster, { ...controllerSettings, archive: { ...archive(), archiving: true } }, 'ctl.yaml');
    assert.equal((await call('/reload_conf')).result, 'SUCCESS');
    const started = await call('/start_archiving');
    assert.equal(started.result, 'SUCCESS', JSON.stringify(started));
    const script = statSync(join(cluster.root, 'archive.sh'));
    assert.equal(script.mode & 0o777, 0o700);
    assert.equal(script.uid, postgresUser().uid, 'written by the agent, as the PostgreSQL user');
    assert.match(readFileSync(join(cluster.root, 'archive.sh'), 'utf8'), /HandyRep WAL archive script/);
    assert.ok(statSync(join(cluster.root, 'archive')).isDirectory());
    assert.equal(existsSync(join(cluster.root, 'noarchive')), false);
    assert.match(agentOf('john').output(), /command \S+ archive_push from \S+: exit 0/);
    const stopped = await call('/stop_archiving');
    assert.equal(stopped.result, 'SUCCESS', JSON.stringify(stopped));
    assert.equal(existsSync(join(cluster.root, 'noarchive')), true, 'the no-archiving flag created');
  });
});
