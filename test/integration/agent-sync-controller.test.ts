/**
 * Deployment `agents` with synchronous replication, on real etcd, three real PostgreSQL nodes and
 * their agents (`synchronous_mode: on`, `FIRST 1`: paul, first by name), the parts the keeper's own test
 * (agent-sync-keeper.test.ts) does not cover:
 *
 *   1. a hung keeper statement: john's keeper session's backend stopped (SIGSTOP) for two TTLs →
 *      the keeper's pass fails at its deadline ("did not answer within"), the master lease stays
 *      under the same lease and john stays writable (the renewal never waits for the keeper);
 *      thawed, the next pass opens a new session;
 *   2. a controller started on deployment agents + synchronous_mode on with a policy of its own (ANY 2),
 *      after the agent created the `cluster` key: it starts (that key is not damage), leads (its leader key says deployment agents), reports the agents' set over
 *      REST, and over several maintenance intervals changes neither the recorded set, its history
 *      nor john's synchronous_standby_names, though it writes the `cluster` key (its status);
 *      promote is refused naming the deployment;
 *   3. with that controller leading, the agents' keeper still keeps the set: paul's host lost →
 *      john's agent records and names ringo, and the controller reports the new set.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { TestNode } from '../fixtures/cluster.js';
import { basic, freePort, http, startDaemonProcess, type DaemonProcess } from '../fixtures/daemon.js';
import { isWritable, putMasterRecord, waitUntil } from '../fixtures/agents.js';
import { killHost, startBedAgent } from '../fixtures/agents-election.js';
import { writeConfig } from '../fixtures/handyrep-config.js';
import { startSyncBed, stopSyncBed, type SyncBed } from '../fixtures/sync-election.js';
import { HANDYREP_DB_PASSWORD } from '../fixtures/template.js';
import { isSyncRecord, type SyncRecord } from '../../src/model/sync-record.js';

const PREFIX = '/handyrep/agentsynccontroller/';
const TTL = 5;
const ADMIN = 'agents-sync-admin';
const SYNC = { synchronous_mode: 'on', synchronous_method: 'first', synchronous_node_count: 1 } as const;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('deployment agents, synchronous_mode on: a hung keeper statement, and a controller that serves the API beside the keeper', { timeout: 500_000 }, () => {
  let b: SyncBed;
  let daemon: DaemonProcess | null = null;
  let stopped: number | null = null;

  before(async () => {
    b = await startSyncBed(PREFIX, TTL, { failover: { use_replication_slots: true, ...SYNC } });
  });

  after(async () => {
    if (stopped !== null) {
      try {
        process.kill(stopped, 'SIGCONT');
      } catch {
        // gone
      }
    }
    await daemon?.stop('SIGTERM').catch(() => undefined);
    await stopSyncBed(b);
  });

  const clusterHead = async (): Promise<{ head: Record<string, unknown>; sync: SyncRecord | null; history: SyncRecord[]; modRevision: string }> => {
    const kv = (await b.bed.client.get(`${PREFIX}cluster`).exec()).kvs[0];
    const head = kv === undefined ? {} : (JSON.parse(kv.value.toString()) as Record<string, unknown>);
    return { head, sync: isSyncRecord(head['sync']) ? head['sync'] : null, history: Array.isArray(head['sync_history']) ? head['sync_history'].filter(isSyncRecord) : [], modRevision: kv?.mod_revision ?? '0' };
  };
  const describeSet = (r: SyncRecord | null): string => (r === null ? 'none' : `${r.master ?? '-'}:[${r.members.join(',')}]/${r.quorum}`);
  const agentLog = (name: string): string => b.bed.agents.get(name)?.output() ?? '';
  const waitForSet = async (expected: string, timeoutMs = 40_000): Promise<void> => {
    let last = '';
    await waitUntil(`recorded set ${expected}`, async () => (last = describeSet((await clusterHead()).sync)) === expected, timeoutMs, 200).catch((err: Error) => {
      throw new Error(`${err.message} (last seen ${last}; john's agent log ${JSON.stringify(agentLog('john').slice(-3000))})`);
    });
  };
  const keeperBackend = async (john: TestNode): Promise<number> => Number(await b.cluster.psql(john, "SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE application_name = 'handyrep-agent-sync-keeper'"));
  const leaseOfJohn = async (): Promise<string | null> => (await b.bed.client.get(`${PREFIX}master_lease/john`).exec()).kvs[0]?.lease ?? null;

  it('a stopped keeper backend fails the pass at its deadline, the lease renewals go on; a controller reports the agents\' set and never changes it', async () => {
    const { cluster, bed } = b;
    const [john, paul, ringo] = cluster.nodes as [TestNode, TestNode, TestNode];
    await putMasterRecord(bed.client, PREFIX, 'john');
    // No servers/* stored: the agents take the settings from their files (equal priorities: FIRST 1
    // names the first by name, paul), and the controller started later finds the cluster key the
    // agent created (no servers in it) and writes its servers itself.
    await cluster.waitStreaming(john, [paul, ringo], 60_000);
    for (const node of cluster.nodes) startBedAgent(bed, node);
    await waitForSet('john:[paul]/1');

    // 1. The keeper's own session hangs: its pass fails at the deadline, the round renews the lease.
    const backend = await keeperBackend(john);
    assert.ok(backend > 0, "john's keeper has its own session");
    const lease = await leaseOfJohn();
    assert.ok(lease !== null);
    stopped = backend;
    process.kill(backend, 'SIGSTOP');
    const until = Date.now() + 2 * TTL * 1000;
    while (Date.now() < until) {
      assert.equal(await leaseOfJohn(), lease, "john's master lease key stays under the same lease (renewed) while the keeper's statement hangs");
      assert.equal(await isWritable(john), true, 'john is never fenced');
      await sleep(500);
    }
    assert.match(agentLog('john'), /synchronous set not kept this round: the local PostgreSQL did not answer within \d+ ms \(SELECT/);
    // Review s8 M1/S1: the stopped backend may still finish its statement: the next passes write nothing while it lives and ask it to end.
    assert.match(agentLog('john'), new RegExp(`an earlier keeper session's backend \\(pid ${backend}\\) is still alive on the master: asked to end, nothing written until it is gone`));
    assert.ok(Number(await cluster.psql(john, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'handyrep-agent-sync-keeper'")) <= 2, 'at most the stopped backend and the current session: no pile-up');
    process.kill(backend, 'SIGCONT');
    stopped = null;
    await waitUntil('the stopped backend ended (asked to) and the next pass opened a new keeper session', async () => {
      const now = await keeperBackend(john);
      return now > 0 && now !== backend && Number(await cluster.psql(john, `SELECT count(*) FROM pg_stat_activity WHERE pid = ${backend}`)) === 0;
    }, 20_000, 200);
    assert.equal(describeSet((await clusterHead()).sync), 'john:[paul]/1', 'nothing new recorded');

    // 1b. Review s8 M1: an ALTER SYSTEM that landed with no reload (as a dropped keeper statement can):
    // postgresql.auto.conf says '' while FIRST 1 ("paul") is loaded. The keeper reads the file and
    // writes the decided value again (the next reload would otherwise make john asynchronous under a quorum-1 record).
    const inFile = async (): Promise<string> => cluster.psql(john, "SELECT coalesce((SELECT setting FROM pg_file_settings WHERE name = 'synchronous_standby_names' AND error IS NULL ORDER BY seqno DESC LIMIT 1), '<none>')");
    await cluster.psql(john, "ALTER SYSTEM SET synchronous_standby_names = ''");
    assert.equal(await cluster.psql(john, 'SHOW synchronous_standby_names'), 'FIRST 1 ("paul")', 'loaded: unchanged (no reload)');
    await waitUntil("the keeper wrote FIRST 1 (\"paul\") to the file again", async () => (await inFile()) === 'FIRST 1 ("paul")', 20_000, 200);
    assert.match(agentLog('john'), /synchronous_standby_names in postgresql\.auto\.conf \(''\) is not the loaded 'FIRST 1 \("paul"\)'/);
    assert.equal(await cluster.psql(john, 'SHOW synchronous_standby_names'), 'FIRST 1 ("paul")');
    assert.equal(describeSet((await clusterHead()).sync), 'john:[paul]/1', 'the record unchanged');

    // 2. A controller on deployment agents + synchronous_mode on: starts, leads, reports, changes nothing.
    const before = await clusterHead();
    const namedBefore = await cluster.psql(john, 'SHOW synchronous_standby_names');
    assert.equal(namedBefore, 'FIRST 1 ("paul")');
    const port = await freePort();
    const config = await writeConfig(cluster, {
      handyrep: { deployment: 'agents', store: 'etcd', connect_timeout_seconds: 1, server_file: `${cluster.root}/ctl.save`, log_file: `${cluster.root}/ctl.log`, authentication_method: 'simple_password_auth' },
      etcd: { endpoints: b.etcd.endpoints, prefix: PREFIX, ttl: TTL, retry_timeout: 2 },
      passwords: { admin_password: ADMIN, read_password: `${ADMIN}-read`, handyrep_db_pass: HANDYREP_DB_PASSWORD },
      daemon: { listen_address: '127.0.0.1', listen_port: port, advertised_url: `http://127.0.0.1:${port}` },
      // A policy of its own (review s8 S3): a controller that still maintained the set would name
      // ANY 2 ("paul", "ringo") on john and record both; the agents keep FIRST 1 ("paul").
      failover: { auto_failover: false, poll_interval: 1, fail_retries: 2, fail_retry_interval: 0.5, verify_interval: 30, use_replication_slots: true, ...SYNC, synchronous_method: 'any', synchronous_node_count: 2 },
    } as Record<string, unknown>, 'ctl.yaml');
    daemon = await startDaemonProcess(config);
    const url = daemon.url;
    const get = async <T>(path: string): Promise<T> => (await http(url, path, { headers: { authorization: basic(ADMIN) } })).json as T;
    type Status = { sync: { recorded: SyncRecord | null }; leadership?: { leading: boolean } };
    await waitUntil('the controller leads', async () => (await get<Status>('/get_status')).leadership?.leading === true, 30_000, 200);
    const leader = JSON.parse((await bed.client.get(`${PREFIX}leader`).string()) ?? '{}') as { deployment?: string };
    assert.equal(leader.deployment, 'agents', 'the leader key announces deployment agents');
    const ctlLog = (): string => { try { return readFileSync(`${cluster.root}/ctl.log`, 'utf8').slice(-4000); } catch { return ''; } };
    let lastStatus = '';
    await waitUntil("the controller reports the agents' set", async () => describeSet(JSON.parse((lastStatus = JSON.stringify(await get<Status>('/get_status')))).sync.recorded) === 'john:[paul]/1', 20_000, 200).catch((err: Error) => {
      throw new Error(`${err.message}: ${lastStatus}\n${ctlLog()}\n${daemon?.stderr().slice(-2000) ?? ''}`);
    });
    // Several maintenance intervals (poll_interval 1 s).
    await sleep(6000);
    const afterwards = await clusterHead();
    assert.notEqual(afterwards.modRevision, before.modRevision, 'the controller wrote the cluster key (its status)');
    assert.deepEqual(afterwards.sync, before.sync, 'the recorded set is the agents\' one, unchanged');
    assert.deepEqual(afterwards.history, before.history, 'its history unchanged');
    // pg_file_settings and current_setting give the value in the same form: a settled file is never taken as unsettled.
    assert.equal(agentLog('john').match(/is not the loaded/g)?.length ?? 0, 1, 'the names were unsettled only after 1b');
    assert.equal(await cluster.psql(john, 'SHOW synchronous_standby_names'), namedBefore);
    const promoted = await http(url, '/promote?newmaster=paul', { method: 'POST', headers: { authorization: basic(ADMIN) } });
    assert.match(JSON.stringify(promoted.json), /promote refused: handyrep.deployment is agents with failover.synchronous_mode on/);
    assert.equal(await isWritable(paul), false);
    assert.doesNotMatch(agentLog('john'), /a controller that keeps the synchronous set holds leader/);

    // 3. The keeper goes on beside the leading controller: paul lost → ringo named and recorded.
    await killHost(bed, paul);
    await waitForSet('john:[ringo]/1', 60_000);
    assert.equal(await cluster.psql(john, 'SHOW synchronous_standby_names'), 'FIRST 1 ("ringo")');
    await waitUntil('the controller reports the new set', async () => describeSet((await get<Status>('/get_status')).sync.recorded) === 'john:[ringo]/1', 20_000, 200);
    assert.ok((await clusterHead()).history.length > before.history.length, 'the keeper appended its changes');
  });
});
