/**
 * `handyrep store migrate` and `handyrep store check` against a real etcd and real state files:
 * the copy is complete and read back, the source is untouched, and every refusal (a daemon
 * holding the local state file in another process, a controller leading in etcd, a topology
 * change in flight, a target that already holds a state, bad arguments) changes nothing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';
import { parseConfig } from '../../src/config/load.js';
import type { FailoverRecord } from '../../src/model/failover-record.js';
import type { ControllerHistoryEntry } from '../../src/store/cluster-store.js';
import { createEtcdContext, type EtcdContext } from '../../src/store/etcd/client.js';
import { EtcdClusterStore } from '../../src/store/etcd/etcd-cluster-store.js';
import { EtcdLeadership } from '../../src/store/etcd/leadership.js';
import { controllerHistoryPath } from '../../src/store/local-cluster-store.js';
import { journalPath } from '../../src/store/journal.js';
import type { SavedState } from '../../src/store/saved-state.js';
import { StateLock } from '../../src/store/state-lock.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';

let etcd: EtcdCluster;
let dir: string;
let configFile: string;
let ctx: EtcdContext;

function record(id: string, started: string): FailoverRecord {
  return {
    id, kind: 'failover', reason: 'master john is down', started, finished: started, duration_ms: 900, from: 'john', to: 'paul', outcome: 'SUCCESS', details: '',
    steps: [{ name: 'promote', server: 'paul', started, finished: started, outcome: 'ok', details: 'promoted' }],
  };
}

const STATE: SavedState = {
  format: 'handyrep-state', version: 42, updated_ms: Date.UTC(2026, 11, 4, 9),
  servers: Object.fromEntries(['john', 'paul', 'george'].map((name, i) => [name, { hostname: `127.0.0.${11 + i}`, role: i === 1 ? 'master' : 'replica', status: 'healthy', enabled: true }])) as unknown as SavedState['servers'],
  status: { status: 'healthy', status_no: 1, status_ts: '2026-12-04T09:00:00.000Z', status_message: 'all servers healthy' } as unknown as SavedState['status'],
  history: [record('f-20261203-1', '2026-12-03T08:00:00.000Z'), record('f-20261204-2', '2026-12-04T08:00:00.000Z')],
};
const LEADERSHIP: ControllerHistoryEntry[] = [
  { at: '2026-12-03T07:00:00.000Z', controller_id: 'ctl-a', event: 'leading', term: null, details: 'started' },
  { at: '2026-12-03T07:30:00.000Z', controller_id: 'ctl-a', event: 'resigned', term: null, details: 'stopped' },
];

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { out: (t) => void (out += t), err: (t) => void (err += t), color: false, interactive: false, columns: null, env: {} };
  const code = await main(args, io);
  return { code, out, err };
}

/** The etcd store as a plain reader (no leadership needed to read). */
function etcdStore(): EtcdClusterStore {
  return new EtcdClusterStore(ctx, { current: null, markLost: () => undefined });
}

before(async () => {
  etcd = await startEtcdCluster({ members: 1 });
  dir = await mkdtemp(join(tmpdir(), 'handyrep-migrate-'));
  configFile = join(dir, 'handyrep.yaml');
  const config = { handyrep: { cluster_name: 'migr', store: 'local', server_file: 'servers.save' }, etcd: { endpoints: etcd.endpoints, ttl: 2, retry_timeout: 2 } };
  await writeFile(configFile, JSON.stringify(config));
  ctx = createEtcdContext(parseConfig(JSON.stringify(config), 'test'));
});
after(async () => {
  ctx?.close();
  await etcd?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const serverFile = (): string => join(dir, 'servers.save');

describe('store migrate', () => {
  it('copies definitions, statuses, history and leadership changes to etcd; the source is unchanged', async () => {
    await writeFile(serverFile(), JSON.stringify(STATE));
    await writeFile(controllerHistoryPath(serverFile()), JSON.stringify(LEADERSHIP));
    const sourceBytes = await readFile(serverFile(), 'utf8');
    const run = await cli('store', 'migrate', '--to', 'etcd', '-c', configFile);
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, /copied 3 servers, 2 failover records and 2 leadership changes from the local store to etcd .* under \/handyrep\/migr\/ as state version 43; read back and compared/);
    assert.match(run.out, /Next: set handyrep.store: etcd in .*handyrep.yaml/);
    const copy = await etcdStore().readState();
    assert.equal(copy.kind, 'ok');
    if (copy.kind !== 'ok') return;
    assert.deepEqual(copy.state.servers, STATE.servers);
    assert.deepEqual(copy.state.status, STATE.status);
    assert.deepEqual(copy.state.history, STATE.history);
    assert.equal(copy.state.version, STATE.version + 1, 'numbered above both copies');
    assert.deepEqual(await etcdStore().readControllerHistory(), LEADERSHIP);
    assert.equal(await readFile(serverFile(), 'utf8'), sourceBytes, 'the source file is untouched');
    const leader = await ctx.client.kv.range({ key: Buffer.from(ctx.keys.leader) });
    assert.equal(leader.kvs.length, 0, 'the migration gave its leadership up');
  });

  it('refuses a target that already holds a state, without --overwrite', async () => {
    const revision = (await ctx.client.kv.range({ key: Buffer.from(ctx.keys.cluster) })).kvs[0]?.mod_revision;
    const run = await cli('store', 'migrate', '--to', 'etcd', '-c', configFile);
    assert.equal(run.code, 1);
    assert.match(run.err, /the etcd store already holds a state \(version 43, 3 servers, written \S+\); pass --overwrite/);
    assert.equal((await ctx.client.kv.range({ key: Buffer.from(ctx.keys.cluster) })).kvs[0]?.mod_revision, revision, 'nothing written');
  });

  it('refuses while a controller leads in etcd, naming it (exit 4)', async () => {
    const leading = new EtcdLeadership(createEtcdContext(parseConfig(await readFile(configFile, 'utf8'), 'test')), { controllerId: 'ctl-running', apiUrl: 'http://127.0.0.1:8080' });
    await leading.campaign();
    try {
      const run = await cli('store', 'migrate', '--to', 'local', '--overwrite', '-c', configFile);
      assert.equal(run.code, 4);
      assert.match(run.err, /controller ctl-running \(http:\/\/127.0.0.1:8080\) leads the etcd state under \/handyrep\/migr\/: stop every HandyRep daemon/);
      assert.equal(JSON.parse(await readFile(serverFile(), 'utf8')).version, 42, 'local state unchanged');
    } finally {
      await leading.resign();
    }
  });

  it('refuses while another process holds the local state file (exit 4)', async () => {
    const lock = await StateLock.acquire(serverFile());
    try {
      const child = spawn(process.execPath, ['bin/handyrep.js', 'store', 'migrate', '--to', 'etcd', '--overwrite', '-c', configFile], {
        env: { ...process.env, HANDYREP_SOURCE: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(code, 4, err);
      assert.match(err, /another HandyRep \(pid \d+\) is using .*servers.save/);
    } finally {
      await lock.release();
    }
  });

  it('refuses while a topology change is in flight in the source', async () => {
    await writeFile(journalPath(serverFile()), JSON.stringify({ ...record('f-inflight', '2026-12-04T09:30:00.000Z'), outcome: 'RUNNING', finished: null }));
    try {
      const run = await cli('store', 'migrate', '--to', 'etcd', '--overwrite', '-c', configFile);
      assert.equal(run.code, 1);
      assert.match(run.err, /the local store records an interrupted failover \(f-inflight, started 2026-12-04T09:30:00.000Z\)/);
    } finally {
      await rm(journalPath(serverFile()));
    }
  });

  it('copies back to the local store with --overwrite, leadership history not doubled', async () => {
    await rm(serverFile());
    const run = await cli('store', 'migrate', '--to', 'local', '-c', configFile);
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, /copied 3 servers, 2 failover records and 2 leadership changes from the etcd store to .*servers.save/);
    const back = JSON.parse(await readFile(serverFile(), 'utf8')) as SavedState;
    assert.deepEqual(back.servers, STATE.servers);
    assert.deepEqual(back.history, STATE.history);
    assert.equal(back.version, 44, 'numbered above both copies');
    assert.deepEqual(JSON.parse(await readFile(controllerHistoryPath(serverFile()), 'utf8')), LEADERSHIP);
    const again = await cli('store', 'migrate', '--to', 'local', '--overwrite', '-c', configFile);
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /\(its previous state replaced\)/);
    assert.deepEqual(JSON.parse(await readFile(controllerHistoryPath(serverFile()), 'utf8')), LEADERSHIP);
  });

  it('refuses bad arguments and a configuration without etcd, changing nothing', async () => {
    const wrong = await cli('store', 'migrate', '--to', 'zookeeper', '-c', configFile);
    assert.equal(wrong.code, 2);
    const missing = await cli('store', 'migrate', '-c', configFile);
    assert.equal(missing.code, 2);
    const noEtcd = join(dir, 'no-etcd.yaml');
    await writeFile(noEtcd, JSON.stringify({ handyrep: { cluster_name: 'migr', server_file: 'servers.save' } }));
    const run = await cli('store', 'migrate', '--to', 'etcd', '-c', noEtcd);
    assert.equal(run.code, 2);
    assert.match(run.err, /etcd.endpoints: list the etcd endpoints/);
  });
});

describe('store check', () => {
  it('reports the endpoints, the leader, the state and the journal of both stores', async () => {
    const run = await cli('store', 'check', '-c', configFile);
    assert.equal(run.code, 0, run.out + run.err);
    assert.match(run.out, /^ok {3}local state .*servers.save: version 45, 3 servers, 2 failover records, cluster healthy/m);
    assert.match(run.out, /^ok {3}etcd endpoint http:\/\/[\d.]+:2379: etcd 3\.\d+\.\d+, member \w+ \(raft leader\)/m);
    assert.match(run.out, /^ok {3}etcd leader key \/handyrep\/migr\/leader: no controller leads/m);
    assert.match(run.out, /^ok {3}etcd state under \/handyrep\/migr\/: version 43, 3 servers/m);
    assert.match(run.out, /^ok {3}etcd journal: none/m);
  });

  it('fails, naming the endpoint, when etcd does not answer', async () => {
    etcd.members[0]?.freeze();
    try {
      const run = await cli('store', 'check', '-c', configFile);
      assert.equal(run.code, 1);
      assert.match(run.out, /^FAIL etcd endpoint http:\/\/[\d.]+:2379: etcd did not answer within 2000 ms/m);
      assert.match(run.out, /^ok {3}local state /m, 'the local store is still reported');
    } finally {
      etcd.members[0]?.thaw();
    }
  });
});

