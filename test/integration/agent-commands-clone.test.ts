/**
 * control_method agent, the long and the serialized commands, end to end: real etcd, real
 * PostgreSQL (3 nodes, NO sshd), a real agent per node and a controller daemon:
 *   - a clone of the replica george through its agent (reclone, old data deleted): the agent empties
 *     the data folder (keeping the node's configuration files), copies john with its own clone
 *     plugin and writes the standby configuration; the controller starts it; it streams from john;
 *   - three commands written at once to george (stop, clone, start) run one after the other, in
 *     order, each starting after the previous one ended; the later ones were marked `queued`;
 *   - cleanup_archive lists and deletes through the master's agent: only the expired segment goes;
 *   - cancel_clone during the agent's copy: the agent stops it and removes the partial copy;
 *   - an agent SIGKILLed during a clone: restarted, it answers the clone `interrupted` and never copies again for it.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Etcd3, type Watcher } from 'etcd3';
import { startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';
import { writeConfig } from '../fixtures/handyrep-config.js';
import { POSTGRES_FAST_RETRY } from '../fixtures/failover-settings.js';
import { commandBedSettings } from '../fixtures/agent-command-bed.js';
import { basic, freePort, http, startDaemonProcess, type DaemonProcess } from '../fixtures/daemon.js';
import { startAgent, waitUntil, type AgentSettings, type RunningAgent } from '../fixtures/agents.js';

const TTL = 4;
const ADMIN = 'agent-clone-admin';
const PREFIX = '/handyrep/agentclone/';

interface Seen {
  command: { id: string; request: { action: string; expect?: unknown } };
  started: { at: string } | null;
  result: { exit_code: number | null; duration_ms: number; stdout: string; stderr: string; refused: { kind: string; message: string } | null } | null;
  queued?: { behind: string; at: string } | null;
  progress?: { bytes_done: number | null; bytes_total: number | null } | null;
}

describe('control_method agent: clone and archive cleanup through the agents, commands one at a time', { timeout: 420_000 }, () => {
  let etcd: EtcdCluster;
  let cluster: TestCluster;
  let client: Etcd3;
  let daemon: DaemonProcess | null = null;
  const agents: RunningAgent[] = [];
  const retired: RunningAgent[] = [];
  let agentSettings: AgentSettings;
  let controllerSettings: Record<string, unknown>;
  let watcher: Watcher | null = null;
  /** Every value put under commands/george/, by id (the controller deletes answered records). */
  const seen = new Map<string, Seen>();
  const archive = (): Record<string, unknown> => ({
    archive_script_method: 'archive_local_dir',
    archive_delete_method: 'archive_delete_find',
    archive_directory: join(cluster.root, 'archive'),
    archive_script_path: join(cluster.root, 'archive.sh'),
    no_archive_file: join(cluster.root, 'noarchive'),
  });
  const node = (name: string): TestNode => cluster.nodes.find((n) => n.name === name) as TestNode;
  const agentOf = (name: string): RunningAgent => agents.find((a) => a.node.name === name) as RunningAgent;
  const call = async (path: string): Promise<{ result: string; details: string }> =>
    (await http((daemon as DaemonProcess).url, path, { method: 'POST', headers: { authorization: basic(ADMIN) } })).json as { result: string; details: string };
  const status = async (): Promise<Record<string, { status: string; role: string; enabled?: boolean }>> => {
    const reply = await http((daemon as DaemonProcess).url, '/get_status', { headers: { authorization: basic(ADMIN) } });
    return (reply.json as { servers: Record<string, { status: string; role: string }> }).servers;
  };
  const pgLog = (n: TestNode): string => {
    try {
      return readFileSync(n.logFile, 'utf8').slice(-1500);
    } catch {
      return '(no log)';
    }
  };
  const story = (): string => `--- controller:\n${daemon?.stderr().slice(-4000) ?? ''}\n${agents.map((a) => `--- agent ${a.node.name}:\n${a.output().slice(-3000)}\n--- its PostgreSQL log:\n${pgLog(a.node)}`).join('\n')}`;
  const receiver = async (n: TestNode): Promise<string> => (await cluster.psql(n, 'SELECT status || \'|\' || sender_host FROM pg_stat_wal_receiver').catch(() => '')).trim();
  const streamsFromJohn = async (): Promise<boolean> => (await receiver(node('george'))) === `streaming|${node('john').host}`;
  const endMs = (s: Seen): number => Date.parse(s.started?.at ?? '') + (s.result?.duration_ms ?? 0);

  before(async () => {
    [etcd, cluster] = await Promise.all([startEtcdCluster({ members: 1 }), startCluster({ nodes: 3, ssh: false, postgresConf: POSTGRES_FAST_RETRY })]);
    client = new Etcd3({ hosts: etcd.endpoints });
    const { controller: settings, agentSections: sections } = commandBedSettings(cluster, { prefix: PREFIX, admin: ADMIN, ttl: TTL, endpoints: etcd.endpoints, port: await freePort(), archive: archive() });
    agentSettings = { endpoints: etcd.endpoints, prefix: PREFIX, ttl: TTL, sections };
    for (const n of cluster.nodes) agents.push(startAgent(cluster, n, agentSettings));
    controllerSettings = settings;
    daemon = await startDaemonProcess(await writeConfig(cluster, settings, 'ctl.yaml'));
    watcher = await client.watch().prefix(`${PREFIX}commands/george/`).create();
    watcher.on('put', (kv) => {
      const record = JSON.parse(kv.value.toString()) as Seen;
      seen.set(record.command.id, record);
    });
    await waitUntil('every server healthy', async () => Object.values(await status()).every((s) => s.status === 'healthy'), 90_000, 500).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${story()}`);
    });
    for (const n of cluster.nodes) assert.equal(n.sshd.pid(), null, `${n.name} has no sshd`);
  });

  after(async () => {
    await watcher?.cancel().catch(() => undefined);
    await daemon?.stop('SIGTERM').catch(() => undefined);
    await Promise.all([...agents, ...retired].map((a) => a.stop('SIGKILL')));
    client?.close();
    await Promise.all([cluster?.stop(), etcd?.stop()]);
  });

  it("clone of the replica george through its agent: data folder emptied, copied by the agent, streaming from john again", async () => {
    try {
      const george = node('george');
      const marker = join(george.dataDir, 'handyrep-old-data-marker');
      writeFileSync(marker, 'from before the clone\n');
      const oldPid = george.postmasterPid();
      await cluster.psql(node('john'), 'CREATE TABLE before_clone (x int); INSERT INTO before_clone VALUES (7)');
      const reply = await call('/clone?replicaserver=george&reclone=true&keep_old_data=false');
      assert.equal(reply.result, 'SUCCESS', JSON.stringify(reply));
      assert.match(reply.details, /george cloned from john and streaming from john/);
      assert.equal(existsSync(marker), false, 'the old data folder was emptied');
      assert.ok(existsSync(join(george.dataDir, 'postgresql.conf')), "the node's own configuration files are kept");
      assert.notEqual(george.postmasterPid(), oldPid, 'a new postmaster on the copy');
      assert.equal(await streamsFromJohn(), true, `george streams from john (${await receiver(george)})`);
      assert.equal((await cluster.psql(george, 'SELECT x FROM before_clone')).trim(), '7');
      const clone = [...seen.values()].find((s) => s.command.request.action === 'clone');
      assert.ok(clone?.started && clone.result, 'the clone command was taken and answered in its record');
      assert.equal(clone.result.exit_code, 0, clone.result.stderr);
      assert.match(clone.result.stdout, /pg_basebackup from john finished; verified whole by pg_verifybackup against backup_manifest, WAL parsed/);
      assert.deepEqual(clone.command.request.expect, { pgdata: george.dataDir }, 'the clone carries the data folder the controller expects');
      assert.ok((clone.progress?.bytes_done ?? 0) > 0, `the agent reported the copy's progress in the record (${JSON.stringify(clone.progress)})`);
      assert.match(agentOf('george').output(), /command \S+ clone from \S+: exit 0/, "george's agent ran the copy");
      assert.match(agentOf('george').output(), /command \S+ inspect_folder from /, "the controller's folder check went through george's agent");
      await waitUntil('george healthy and enabled', async () => (await status())['george']?.status === 'healthy', 60_000, 500);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${story()}`, { cause: err });
    }
  });

  it('three commands written at once to george (stop, clone, start) run one after the other, in order', async () => {
    try {
      const term = (await client.get(`${PREFIX}leader`).exec()).kvs[0]?.create_revision as string;
      const base = String(Date.now() * 1000).padStart(17, '0');
      const requests = [
        { action: 'pg_ctl', op: 'stop', wait_s: 30 },
        { action: 'clone', source: 'john', upstream: 'john', old_data: 'delete', restore_command: false },
        { action: 'pg_ctl', op: 'start', wait_s: 60 },
      ];
      const ids = requests.map((_, i) => `${base.slice(0, -1)}${i}-atonce`);
      const keys = ids.map((id) => `${PREFIX}commands/george/${id}`);
      const records = requests.map((request, i) => ({
        command: { id: ids[i], node: 'george', term, controller: 'test', written_at: new Date().toISOString(), timeout_ms: 300_000, request, stdin: null },
        started: null,
        result: null,
      }));
      // One transaction: the agent sees all three at the same revision.
      let txn = client.if(keys[0] as string, 'Create', '==', 0);
      const puts = keys.map((key, i) => client.put(key).value(JSON.stringify(records[i])));
      txn = txn.then(...puts);
      await txn.commit();
      await waitUntil('three answers', async () => {
        for (const key of keys) if (JSON.parse((await client.get(key).string()) ?? '{}').result == null) return false;
        return true;
      }, 240_000, 250);
      const answered = await Promise.all(keys.map(async (key) => JSON.parse((await client.get(key).string()) as string) as Seen));
      await Promise.all(keys.map((key) => client.delete().key(key)));
      for (const [i, record] of answered.entries()) assert.equal(record.result?.exit_code, 0, `${requests[i]?.action}: ${record.result?.stderr ?? ''}`);
      for (let i = 1; i < answered.length; i++) {
        const previous = answered[i - 1] as Seen;
        const current = answered[i] as Seen;
        assert.ok(Date.parse(current.started?.at ?? '') >= endMs(previous) - 5, `command ${i + 1} started ${current.started?.at} after command ${i} ended (${new Date(endMs(previous)).toISOString()})`);
        assert.match(current.queued?.behind ?? '', /^command \d+-atonce/, `command ${i + 1} was made to wait (${JSON.stringify(current.queued)})`);
      }
      assert.ok((answered[1]?.result?.duration_ms ?? 0) > 100, 'the clone took its time (a real copy)');
      await waitUntil('george streams from john again', streamsFromJohn, 60_000, 250);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${story()}`, { cause: err });
    }
  });

  it('clone records with hostile parameters are refused with a clear error and nothing runs', async () => {
    const george = node('george');
    const pid = george.postmasterPid();
    const term = (await client.get(`${PREFIX}leader`).exec()).kvs[0]?.create_revision as string;
    const good = { action: 'clone', source: 'john', upstream: 'john', old_data: 'delete', restore_command: false };
    const hostile: [string, unknown, RegExp][] = [
      ['a data folder of its own choosing', { ...good, pgdata: '/etc' }, /pgdata: paths and flags come from the agent's own configuration/],
      ['a source that is a path', { ...good, source: '../../etc' }, /source: must be a server name/],
      ['a password in the record', { ...good, password: 'secret' }, /password: paths and flags/],
      ['an old_data that is a command', { ...good, old_data: 'rm -rf /' }, /old_data/],
      ['over the running PostgreSQL', good, /not cloned: PostgreSQL runs on george \(postmaster \d+\); stop it first\. Nothing changed/],
      ['archive_delete of a path', { action: 'archive_delete', files: ['../pgdata/PG_VERSION'] }, /files\.0: must be a plain file name/],
    ];
    for (const [i, [name, request, problem]] of hostile.entries()) {
      const id = `0000000000000000${i}-hostile`;
      const key = `${PREFIX}commands/george/${id}`;
      const command = { id, node: 'george', term, controller: 'test', written_at: new Date().toISOString(), timeout_ms: 60_000, request, stdin: null };
      await client.put(key).value(JSON.stringify({ command, started: null, result: null }));
      await waitUntil(`an answer to ${name}`, async () => JSON.parse((await client.get(key).string()) ?? '{}').result != null, 20_000);
      const record = JSON.parse((await client.get(key).string()) as string) as Seen;
      await client.delete().key(key);
      const said = record.result?.refused?.message ?? record.result?.stderr ?? '';
      assert.match(said, problem, name);
      if (name !== 'over the running PostgreSQL') assert.equal(record.started, null, `${name}: never started`);
    }
    assert.equal(george.postmasterPid(), pid, 'george still runs, same postmaster');
    assert.equal(await streamsFromJohn(), true, 'and still streams');
  });

  it('cleanup_archive: the listing and the deletes run through the master\'s agent; only the expired segment goes', async () => {
    try {
      await writeConfig(cluster, { ...controllerSettings, archive: { ...archive(), archiving: true } }, 'ctl.yaml');
      assert.equal((await call('/reload_conf')).result, 'SUCCESS');
      const started = await call('/start_archiving');
      assert.equal(started.result, 'SUCCESS', JSON.stringify(started));
      const folder = join(cluster.root, 'archive');
      const old = new Date(Date.now() - 72 * 3600_000);
      const files = { expired: '000000010000000000000000', fresh: '000000010000000000000000.partial', history: '00000002.history', other: 'notes.txt' };
      for (const name of Object.values(files)) writeFileSync(join(folder, name), 'x');
      for (const name of [files.expired, files.history, files.other]) utimesSync(join(folder, name), old, old);
      const cleaned = await call('/cleanup_archive');
      assert.equal(cleaned.result, 'SUCCESS', JSON.stringify(cleaned));
      const left = readdirSync(folder).sort();
      assert.deepEqual(left.filter((f) => Object.values(files).includes(f)), [files.fresh, files.history, files.other].sort(), `left: ${left.join(', ')}; ${cleaned.details}`);
      assert.match(agentOf('john').output(), /command \S+ archive_list from \S+: exit 0/);
      assert.match(agentOf('john').output(), /command \S+ archive_delete from \S+: exit 0/);
      // Not left for restore_command (a history file holding "x" would stop a standby's start).
      for (const name of Object.values(files)) rmSync(join(folder, name), { force: true });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${story()}`, { cause: err });
    }
  });
  it('cancel_clone of a clone the agent is copying: the agent stops the copy and removes it; cloned again afterwards', async () => {
    try {
      const george = node('george');
      // A slow copy (about 1 MB/s) from george's agent only, so that there is time to cancel it.
      const slow = { ...agentSettings, sections: { ...agentSettings.sections, plugins: { clone_basebackup: { extra_parameters: ['--max-rate=1M'] } } } };
      const restart = async (settings: AgentSettings): Promise<void> => {
        const old = agentOf('george');
        await old.stop('SIGKILL');
        retired.push(old);
        agents[agents.indexOf(old)] = startAgent(cluster, george, settings);
        await waitUntil("george's new agent runs its rounds", () => /PostgreSQL runs read-only/.test(agentOf('george').output()), 30_000, 100);
      };
      await restart(slow);
      const before = new Set(seen.keys());
      const started = await call('/clone?replicaserver=george&reclone=true&keep_old_data=false&wait=false');
      assert.equal(started.result, 'SUCCESS', JSON.stringify(started));
      const copying = (): Seen | undefined => [...seen.values()].find((r) => !before.has(r.command.id) && r.command.request.action === 'clone');
      await waitUntil('the agent reports progress of its copy', () => (copying()?.progress?.bytes_done ?? 0) > 0 && copying()?.result == null, 60_000, 100);
      const cancelled = await call('/cancel_clone?servername=george');
      assert.equal(cancelled.result, 'SUCCESS', JSON.stringify(cancelled));
      assert.match(cancelled.details, /clone cancelled/);
      await waitUntil('the agent stopped the copy', () => /its record was deleted \(cancelled by the controller, or its leader's lease ended\): stopping the copy/.test(agentOf('george').output()), 10_000, 100);
      // The run ends (logged) once the copy is stopped and removed.
      await waitUntil('the clone run ended', () => /command \S+ clone from \S+: exit 1/.test(agentOf('george').output()), 30_000, 100);
      assert.equal(existsSync(join(george.dataDir, 'PG_VERSION')), false, 'the partial copy is removed');
      assert.match(readFileSync(join(george.dataDir, 'postgresql.conf'), 'utf8'), new RegExp(george.host.replaceAll('.', '\\.')), "george's own configuration file is put back");
      assert.equal(copying()?.result ?? null, null, 'never answered: its record was gone');
      const basebackups = readdirSync('/proc').filter((pid) => /^\d+$/.test(pid) && (() => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`pg_basebackup\0-D\0${george.dataDir}\0`);
        } catch {
          return false;
        }
      })());
      assert.deepEqual(basebackups, [], 'no pg_basebackup left copying into george');
      // Its folder now holds only its configuration files: the agent's boot may copy it by itself
      // (serialized with the controller's commands), so the controller's clone is a reclone.
      await restart(agentSettings);
      const again = await call('/clone?replicaserver=george&reclone=true&keep_old_data=false');
      assert.equal(again.result, 'SUCCESS', JSON.stringify(again));
      await waitUntil('george streams from john again', streamsFromJohn, 60_000, 250);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${story()}`, { cause: err });
    }
  });

  it('an agent SIGKILLed in the middle of a clone: restarted, it answers the clone interrupted and does not run it again', async () => {
    try {
      const george = node('george');
      const term = (await client.get(`${PREFIX}leader`).exec()).kvs[0]?.create_revision as string;
      const stop = await call('/shutdown?servername=george');
      assert.equal(stop.result, 'SUCCESS', JSON.stringify(stop));
      const id = `${String(Date.now() * 1000).padStart(17, '0')}-killed`;
      const key = `${PREFIX}commands/george/${id}`;
      const command = { id, node: 'george', term, controller: 'test', written_at: new Date().toISOString(), timeout_ms: 300_000, request: { action: 'clone', source: 'john', upstream: 'john', old_data: 'delete', restore_command: false }, stdin: null };
      await client.put(key).value(JSON.stringify({ command, started: null, result: null }));
      await waitUntil('the clone started', async () => JSON.parse((await client.get(key).string()) ?? '{}').started != null, 30_000, 10);
      const old = agentOf('george');
      await old.stop('SIGKILL');
      const firstBy = (JSON.parse((await client.get(key).string()) as string) as { started: { by: string } }).started.by;
      assert.equal(JSON.parse((await client.get(key).string()) as string).result, null, 'killed before it answered');
      retired.push(old);
      agents[agents.indexOf(old)] = startAgent(cluster, george, agentSettings);
      await waitUntil('an answer', async () => JSON.parse((await client.get(key).string()) ?? '{}').result != null, 30_000, 100);
      const record = JSON.parse((await client.get(key).string()) as string) as Seen & { started: { by: string } };
      await client.delete().key(key);
      assert.equal(record.result?.refused?.kind, 'interrupted', JSON.stringify(record.result));
      assert.match(record.result?.refused?.message ?? '', /interrupted: the agent process that started it \(\S+\) ended before it answered; not run again/);
      assert.equal(record.started.by, firstBy, 'not taken again');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.doesNotMatch(agentOf('george').output(), /clone from john \(standby of john, old data: delete\) starting/, 'the new agent process never started that copy');
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${story()}`, { cause: err });
    }
  });
});
