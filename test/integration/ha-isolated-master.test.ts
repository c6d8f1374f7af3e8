/**
 * The `ha` deployment's answer to a master nobody can reach (real etcd, real PostgreSQL, a real
 * node agent, a controller daemon under etcd_lease with failover.unreachable_master: agent_lease):
 *   - the master is cut off from the controller, the replicas and etcd (iptables by uid) while a
 *     client on its side (as nobody) commits every 20 ms: john's last acknowledgement comes within
 *     ttl − safety_margin of the cut, the controller sees the lease gone, fences by it and promotes
 *     a replica; the 50 ms sampler never sees two writable servers; once healed, auto_rejoin makes
 *     the old master a streaming standby of the new one;
 *   - the same cut with no agent on the master (the lease never seen held): no failover, because
 *     a lease that was never held proves nothing;
 *   - synchronous_mode on, 8 writers plus one every 20 ms (their own process, as nobody, so they
 *     keep reaching the isolated master over TCP while the controller and the replicas cannot):
 *     after the lease path's failover every acknowledged row is on the new master.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupAll, closeBed, openBed, sleep, sqlOn, waitUntil, writableNodes, type Bed } from '../fixtures/chaos.js';
import { readAcks, startLoad } from '../fixtures/sync-scenario.js';
import { basic, http } from '../fixtures/daemon.js';
import { AGENT_SAFETY_MARGIN, startAgent, type RunningAgent } from '../fixtures/agents.js';
import { ADMIN, etcdClient, leaders, prefixOf, readKeyJson, startController, TTL_SECONDS, type Controller } from '../fixtures/etcd-controllers.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';
import { postgresUser } from '../fixtures/exec.js';
import { dropHost, undropHost } from '../fixtures/iptables.js';

after(cleanupAll);

const FAILOVER = { unreachable_master: 'agent_lease' };

interface Scenario {
  bed: Bed;
  etcd: EtcdCluster;
  controller: Controller;
  agent: RunningAgent | null;
}

async function withScenario(label: string, withAgent: boolean, body: (s: Scenario) => Promise<void>, failover: Record<string, unknown> = {}): Promise<void> {
  const bed = await openBed({ label, expect: withAgent ? 'failover' : 'no_failover', open: false });
  const etcd = await startEtcdCluster({ members: 3 });
  let controller: Controller | null = null;
  let agent: RunningAgent | null = null;
  const master = bed.node('john');
  try {
    controller = await startController(bed, etcd, 'ctl-a', { ...FAILOVER, ...failover });
    const started = controller;
    await waitUntil(async () => (await leaders([started])).length === 1, 'the controller leads', 30_000);
    const client = etcdClient(etcd);
    try {
      // The controller seeds the master key with the verified master; the agent then takes the lease.
      await waitUntil(async () => (await readKeyJson(client, `${prefixOf(bed)}master`))?.['name'] === 'john', 'the master key names john', 30_000);
      if (withAgent) {
        agent = startAgent(bed.cluster, master, { endpoints: etcd.endpoints, prefix: prefixOf(bed), ttl: TTL_SECONDS });
        await waitUntil(async () => (await client.get(`${prefixOf(bed)}master_lease/john`).string()) !== null, "john's agent holds the master lease", 30_000);
      }
    } finally {
      client.close();
    }
    // A few healthy checks: the controller sees the lease held (or not) while the master is healthy.
    await sleep(3000);
    await body({ bed, etcd, controller, agent });
  } catch (err) {
    const story = `--- controller:\n${controller?.daemon.stderr().slice(-3000) ?? ''}\n--- agent:\n${agent?.output().slice(-3000) ?? ''}`;
    throw new Error(`${(err as Error).message}\n${story}`, { cause: err });
  } finally {
    undropHost(master.host);
    for (const member of etcd.members) undropHost(member.host);
    await agent?.stop('SIGTERM').catch(() => undefined);
    await controller?.daemon.stop('SIGTERM').catch(() => undefined);
    await etcd.stop();
    await closeBed(bed);
  }
}

/** The master's host cut off from everyone; its agent (the postgres user's sockets) cut off etcd. */
function isolateMaster(s: Scenario): void {
  dropHost(s.bed.node('john').host);
  for (const member of s.etcd.members) dropHost(member.host, postgresUser().uid);
}

/** Undo either cut. */
function healMaster(s: Scenario): void {
  undropHost(s.bed.node('john').host);
  for (const member of s.etcd.members) undropHost(member.host);
}

/**
 * The same, except for clients: only the controller (root) and the replicas' WAL receivers and the agent
 * (the postgres user) lose john; a client running as another user still reaches it.
 */
function isolateMasterFromAllButClients(s: Scenario): void {
  const john = s.bed.node('john');
  dropHost(john.host, 0);
  dropHost(john.host, postgresUser().uid);
  for (const member of s.etcd.members) dropHost(member.host, postgresUser().uid);
}

async function history(c: Controller): Promise<{ outcome: string; details: string }[]> {
  const reply = await http(c.daemon.url, '/failover_history', { headers: { authorization: basic(ADMIN) } });
  return reply.json as { outcome: string; details: string }[];
}

test('ha: a master isolated from all but its clients stops taking writes before its lease lapses; the controller fences by the lease and promotes; healed, it rejoins as a replica', { timeout: 240_000 }, async () => {
  const ackDir = mkdtempSync(join(tmpdir(), 'handyrep-ha-iso-'));
  chmodSync(ackDir, 0o777);
  try {
    await withScenario('ha: isolated master, agent lease', true, async (s) => {
      const table = 'iso_probe';
      const created = await sqlOn(s.bed.node('john'), `CREATE TABLE ${table} (w int, n int, PRIMARY KEY (w, n))`);
      assert.ok(created.ok, created.out);
      // One client on john's side writing every 20 ms (as nobody: the cut does not reach it).
      const logFile = join(ackDir, 'acks.log');
      const hosts = s.bed.cluster.nodes.map((n) => ({ host: n.host, port: n.port }));
      const johnIndex = s.bed.cluster.nodes.findIndex((n) => n.name === 'john');
      const load = startLoad({ hosts, table, writers: 0, durationMs: 120_000, maxRowsPerWriter: 10_000, logFile, queryTimeoutMs: 2000 }, true);
      let cutAt = 0;
      try {
        await waitUntil(async () => readAcks(logFile).length >= 20, 'the client committing on john', 30_000, 100);
        cutAt = Date.now();
        isolateMasterFromAllButClients(s);
        // The controller fails over once the lease is gone from etcd.
        await waitUntil(async () => (await writableNodes(s.bed.cluster)).some((n) => n !== 'john'), 'a replica promoted', 60_000, 100);
        await sleep(2000); // the client finds the new master
      } finally {
        await load.stop();
      }
      // The agent renewed at or before the cut, so its fence deadline is at most ttl − safety_margin after it.
      const lastOnJohn = Math.max(...readAcks(logFile).filter((a) => a.host === johnIndex).map((a) => a.at));
      const ackedAfterCutMs = lastOnJohn - cutAt;
      console.log(`# ha isolated: last write acknowledged by john ${ackedAfterCutMs} ms after the cut (deadline ${(TTL_SECONDS - AGENT_SAFETY_MARGIN) * 1000} ms)`);
      assert.ok(ackedAfterCutMs <= (TTL_SECONDS - AGENT_SAFETY_MARGIN) * 1000, `john acknowledged a write ${ackedAfterCutMs} ms after the cut, past ttl − safety_margin`);
      assert.ok(readAcks(logFile).some((a) => a.host !== johnIndex), 'the client writes to the new master');
      const writable = await writableNodes(s.bed.cluster);
      assert.equal(writable.length, 1, `one writable server: ${writable.join(', ')}`);
      const newMaster = writable[0] as string;
      const client = etcdClient(s.etcd);
      try {
        assert.equal((await readKeyJson(client, `${prefixOf(s.bed)}master`))?.['name'], newMaster, 'the master key names the new master');
      } finally {
        client.close();
      }
      await waitUntil(async () => (await history(s.controller)).some((r) => r.outcome === 'SUCCESS'), 'a successful failover in the history', 60_000, 250);
      const last = (await history(s.controller)).find((r) => r.outcome === 'SUCCESS');
      assert.match(JSON.stringify(last), /master lease is gone/);
      // Healed: with auto_rejoin the controller rewinds the stopped old master and starts it as a
      // standby of the new one; nobody types a command.
      healMaster(s);
      const newMasterHost = s.bed.node(newMaster).host;
      await waitUntil(async () => {
        const receiver = await sqlOn(s.bed.node('john'), "SELECT status || ' ' || sender_host FROM pg_stat_wal_receiver");
        return receiver.ok && receiver.out.trim() === `streaming ${newMasterHost}`;
      }, `john streaming from the new master ${newMaster} (${newMasterHost})`, 90_000, 500);
      assert.deepEqual(await writableNodes(s.bed.cluster), [newMaster], 'still one writable server after the rejoin');
    }, { auto_rejoin: true });
  } finally {
    rmSync(ackDir, { recursive: true, force: true });
  }
});

test('ha: the same isolation without an agent on the master is not failed over (a lease never held proves nothing)', { timeout: 180_000 }, async () => {
  await withScenario('ha: isolated master, no agent', false, async (s) => {
    isolateMaster(s);
    // Long enough for detection, retries and a lease ttl several times over.
    await sleep(4 * TTL_SECONDS * 1000);
    const writable = await writableNodes(s.bed.cluster);
    assert.deepEqual(writable, ['john'], `only john stays writable (nothing proves it stopped): ${writable.join(', ')}`);
    assert.equal((await history(s.controller)).filter((r) => r.outcome === 'SUCCESS').length, 0, 'no failover');
    const status = await http(s.controller.daemon.url, '/get_status', { headers: { authorization: basic(ADMIN) } });
    assert.match(JSON.stringify(status.json), /master_lease_never_held|no node agent was seen holding/);
  });
});

test('ha + synchronous_mode on: an isolated master whose clients still reach it loses no acknowledged row through the lease path', { timeout: 240_000 }, async () => {
  const ackDir = mkdtempSync(join(tmpdir(), 'handyrep-ha-sync-'));
  chmodSync(ackDir, 0o777);
  try {
    await withScenario('ha: isolated master, agent lease, synchronous', true, async (s) => {
      const table = 'sync_probe';
      const created = await sqlOn(s.bed.node('john'), `CREATE TABLE ${table} (w int, n int, PRIMARY KEY (w, n))`);
      assert.ok(created.ok, created.out);
      await waitUntil(async () => {
        const status = (await http(s.controller.daemon.url, '/get_status', { headers: { authorization: basic(ADMIN) } })).json as { sync?: { recorded?: { quorum?: number } | null } };
        return (status.sync?.recorded?.quorum ?? 0) >= 1;
      }, 'a synchronous set recorded with quorum 1', 30_000);
      const logFile = join(ackDir, 'acks.log');
      const load = startLoad({ hosts: s.bed.cluster.nodes.map((n) => ({ host: n.host, port: n.port })), table, writers: 8, durationMs: 90_000, maxRowsPerWriter: 200_000, logFile, queryTimeoutMs: 5000 }, true);
      try {
        await waitUntil(async () => readAcks(logFile).length >= 200, 'the probe committing', 30_000, 100);
        isolateMasterFromAllButClients(s);
        await waitUntil(async () => (await writableNodes(s.bed.cluster)).some((n) => n !== 'john'), 'a replica promoted', 60_000, 100);
        await sleep(3000); // the writers find the new master
      } finally {
        await load.stop();
      }
      const writable = await writableNodes(s.bed.cluster);
      assert.equal(writable.length, 1, `one writable server: ${writable.join(', ')}`);
      const master = s.bed.node(writable[0] as string);
      const rows = await sqlOn(master, `SELECT w || ' ' || n FROM ${table}`, 60_000);
      assert.ok(rows.ok, rows.out);
      const present = new Set(rows.out.split('\n'));
      const acks = readAcks(logFile);
      const lost = acks.filter((a) => !present.has(`${a.w} ${a.n}`));
      await s.bed.countAcked(master.name, table, acks.length);
      console.log(`# ha sync: ${acks.length} acknowledged rows, ${lost.length} missing on the new master ${master.name}`);
      assert.equal(lost.length, 0, `acknowledged rows missing on ${master.name}: ${lost.slice(0, 5).map((a) => `${a.w}/${a.n}`).join(', ')}`);
    }, { synchronous_mode: 'on' });
  } finally {
    rmSync(ackDir, { recursive: true, force: true });
  }
});
