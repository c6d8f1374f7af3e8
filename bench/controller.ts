/**
 * bench:controller — HandyRep's own availability under etcd_lease (real etcd, 3 members; real
 * PostgreSQL, 3 nodes; two controller daemons):
 *   - takeover: the leading controller SIGKILLed with the master healthy → time until the other
 *     says it leads (/health), and no failover;
 *   - leader + master: the leading controller and the master killed together → the client's
 *     write gap (the probe of bench:failover) until a new master accepts writes, and acknowledged
 *     rows lost (must be 0 on the rows replayed before the crash; the probe counts every ack);
 *   - deposed leader: the leader frozen (SIGSTOP) mid-failover (the journal shows `select`
 *     running) past the ttl; the other takes over and finishes. Then `deposed_leader_writes` is
 *     counted from etcd's revision history: the new leader is frozen for a moment (well inside its
 *     own deadline), in-flight requests are let land (200 ms), the store revision R0 is read, the
 *     deposed controller is resumed for 1 s (it runs whatever it had pending: the next journal
 *     write, the step it was entering), the revision R1 is read, and the new leader is resumed. Every write under the cluster prefix with R0 < revision <= R1
 *     came from the deposed controller (the only HandyRep process running; the test bed has no
 *     agents and PostgreSQL does not write to etcd), after its term ended (R0 is past the new
 *     term's create revision), so all of them count. The run is void (repeated) unless the leader
 *     key at R1 is still the new term's. What it does not see: a write the deposed controller would
 *     issue only later than 1 s after its resumption (then the new leader's writes share the history
 *     and nothing in a record names its writer). `deposed_leader_noticed_loss_runs` counts the runs
 *     whose deposed controller logged its lost leadership after the resumption: it was running.
 * Writes bench/results/controller.json (one flat object, units in the keys). BENCH_RUNS (default 5).
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crash } from '../test/fixtures/faults.js';
import { cleanupAll, closeBed, openBed, waitUntil, writableNodes, type Bed } from '../test/fixtures/chaos.js';
import { startEtcdCluster, type EtcdCluster } from '../test/fixtures/etcd.js';
import type { Etcd3 } from 'etcd3';
import { etcdClient, leaders, leadershipOf, monitorCycles, prefixOf, readKeyJson, startController, stopControllers, TTL_SECONDS, type Controller } from '../test/fixtures/etcd-controllers.js';
import { WriteProbe, writeWindowMs } from './write-probe.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Setup {
  bed: Bed;
  etcd: EtcdCluster;
  controllers: Controller[];
  leader: Controller;
  follower: Controller;
}

async function setUp(label: string): Promise<Setup> {
  const bed = await openBed({ label, expect: 'failover', open: false });
  const etcd = await startEtcdCluster({ members: 3 });
  const controllers = [await startController(bed, etcd, 'ctl-a'), await startController(bed, etcd, 'ctl-b')];
  await waitUntil(async () => (await leaders(controllers)).length === 1, 'one controller leads', 30_000);
  const [leader] = await leaders(controllers);
  if (!leader) throw new Error('no leader');
  await waitUntil(async () => (await monitorCycles(leader)) > 1, 'the leader monitors', 30_000);
  return { bed, etcd, controllers, leader, follower: controllers.find((c) => c !== leader) as Controller };
}

async function tearDown(s: Setup): Promise<void> {
  await stopControllers(s.controllers);
  await s.etcd.stop();
  await closeBed(s.bed);
}

async function takeoverRun(): Promise<{ takeoverMs: number; failedOver: boolean }> {
  const s = await setUp('bench:controller takeover');
  try {
    await sleep(Math.floor(Math.random() * 1000));
    const killedAt = performance.now();
    await s.leader.daemon.stop('SIGKILL');
    await waitUntil(async () => (await leadershipOf(s.follower))?.leading === true, 'the follower leads', 60_000, 50);
    const takeoverMs = Math.round(performance.now() - killedAt);
    await waitUntil(async () => (await monitorCycles(s.follower)) > 2, 'the new leader monitors', 30_000);
    const writable = await writableNodes(s.bed.cluster);
    return { takeoverMs, failedOver: !(writable.length === 1 && writable[0] === 'john') };
  } finally {
    await tearDown(s);
  }
}

async function leaderAndMasterRun(): Promise<{ windowMs: number; lostRows: number; acked: number }> {
  const s = await setUp('bench:controller leader and master');
  try {
    const { cluster } = s.bed;
    await cluster.psql(cluster.master, 'CREATE TABLE probe (n int PRIMARY KEY, at timestamptz DEFAULT now())');
    const probe = new WriteProbe(cluster.nodes.map((n) => ({ host: n.host, port: n.port })), 'probe');
    probe.start();
    await sleep(1500 + Math.floor(Math.random() * 1000));
    const faultAt = Date.now();
    await Promise.all([s.leader.daemon.stop('SIGKILL'), crash(cluster.master)]);
    await waitUntil(async () => {
      const writable = await writableNodes(cluster);
      return writable.length === 1 && writable[0] !== 'john';
    }, 'a new master', 90_000, 100);
    await sleep(1500);
    const result = await probe.stop();
    const [master] = await writableNodes(cluster);
    const present = await cluster.psql(s.bed.node(master as string), 'SELECT n FROM probe');
    const have = new Set(present.split('\n').filter(Boolean).map(Number));
    return { windowMs: writeWindowMs(result, faultAt), lostRows: result.acked.filter((a) => !have.has(a.n)).length, acked: result.acked.length };
  } finally {
    await tearDown(s);
  }
}

/** How long the frozen new leader's requests already sent may take to land before the window opens. */
const IN_FLIGHT_MS = 200;
/**
 * How long the deposed controller runs alone. With the freeze before it, the new leader stays
 * stopped ~1.3 s: within its own deadline (last renewal, every ttl/3, + ttl − 1 s = at least 1.7 s
 * ahead), so its term spans the window.
 */
const RESUMED_WINDOW_MS = 1000;

class VoidRun extends Error {}

async function storeRevision(client: Etcd3, key: string): Promise<bigint> {
  return BigInt((await client.get(key).exec()).header.revision);
}

async function deposedRun(): Promise<{ noticed: boolean; deposedWrites: string[] }> {
  const s = await setUp('bench:controller deposed leader');
  const client = etcdClient(s.etcd);
  try {
    const prefix = prefixOf(s.bed);
    // The revision history of the whole prefix, from before the failover to the end of the run.
    const history: { revision: bigint; what: string }[] = [];
    const watcher = await client.watch().prefix(prefix).create();
    watcher.on('put', (kv) => history.push({ revision: BigInt(kv.mod_revision), what: `put ${kv.key.toString()}` }));
    watcher.on('delete', (kv) => history.push({ revision: BigInt(kv.mod_revision), what: `delete ${kv.key.toString()}` }));
    const frozen = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 60_000);
      watcher.on('put', (kv) => {
        if (kv.key.toString() !== `${prefix}journal`) return;
        const last = (JSON.parse(kv.value.toString()) as { steps?: { name: string; outcome: string }[] }).steps?.at(-1);
        if (last?.name === 'select' && last.outcome === 'running') {
          clearTimeout(timer);
          process.kill(s.leader.daemon.pid, 'SIGSTOP');
          resolve(true);
        }
      });
    });
    await crash(s.bed.node('john'));
    if (!(await frozen)) throw new Error('the leader never reached the select step');
    await waitUntil(async () => (await leadershipOf(s.follower))?.leading === true, 'the follower leads', (TTL_SECONDS + 15) * 1000);
    const term = (await leadershipOf(s.follower))?.term ?? null;
    await waitUntil(async () => {
      const writable = await writableNodes(s.bed.cluster);
      const key = await readKeyJson(client, `${prefix}master`).catch(() => null);
      const journal = await readKeyJson(client, `${prefix}journal`).catch(() => null);
      return writable.length === 1 && writable[0] !== 'john' && key?.['name'] === writable[0] && journal === null;
    }, 'the new leader finished the failover', 60_000, 250);
    await sleep(500);
    process.kill(s.follower.daemon.pid, 'SIGSTOP');
    await sleep(IN_FLIGHT_MS);
    const from = await storeRevision(client, `${prefix}leader`);
    const resumedAt = new Date().toISOString();
    process.kill(s.leader.daemon.pid, 'SIGCONT');
    await sleep(RESUMED_WINDOW_MS);
    const to = await storeRevision(client, `${prefix}leader`);
    process.kill(s.follower.daemon.pid, 'SIGCONT');
    await sleep(500);
    await watcher.cancel();
    // Void if the new term did not span the whole window (then a write in it could be a new term's).
    const keyAtEnd = (await client.get(`${prefix}leader`).revision(String(to)).exec()).kvs[0];
    if (term === null || BigInt(term) >= from || keyAtEnd?.create_revision !== term) throw new VoidRun(`the leader key at revision ${to} is not the new term ${String(term)}`);
    const noticed = readFileSync(join(s.bed.cluster.root, `${s.leader.name}.log`), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { time: string; category: string; msg: string })
      .some((l) => l.time >= resumedAt && l.category === 'LEADERSHIP' && /leadership lost/.test(l.msg));
    return { noticed, deposedWrites: history.filter((h) => h.revision > from && h.revision <= to).map((h) => `${h.revision} ${h.what}`) };
  } finally {
    client.close();
    await tearDown(s);
  }
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function main(): Promise<void> {
  const deposed: { noticed: boolean; deposedWrites: string[] }[] = [];
  for (let i = 0; i < RUNS; i++) {
    let r: { noticed: boolean; deposedWrites: string[] } | null = null;
    for (let attempt = 1; r === null; attempt++) {
      try {
        r = await deposedRun();
      } catch (err) {
        if (!(err instanceof VoidRun) || attempt === 3) throw err;
        console.log(`deposed leader run ${i + 1}: void (${err.message}), again`);
      }
    }
    console.log(`deposed leader run ${i + 1}: ${r.deposedWrites.length} writes after its term ended${r.noticed ? '' : ' (no loss logged after the resumption)'}${r.deposedWrites.length ? `: ${r.deposedWrites.join(', ')}` : ''}`);
    deposed.push(r);
  }
  const takeovers: { takeoverMs: number; failedOver: boolean }[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await takeoverRun();
    console.log(`takeover run ${i + 1}: ${r.takeoverMs} ms${r.failedOver ? ' (FAILED OVER)' : ''}`);
    takeovers.push(r);
  }
  const both: { windowMs: number; lostRows: number; acked: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await leaderAndMasterRun();
    console.log(`leader+master run ${i + 1}: write gap ${r.windowMs} ms, ${r.lostRows} of ${r.acked} acknowledged rows lost`);
    both.push(r);
  }
  const summary = {
    runs: RUNS,
    ttl_s: TTL_SECONDS,
    poll_interval_s: 1,
    etcd_members: 3,
    controllers: 2,
    takeover_ms_median: median(takeovers.map((r) => r.takeoverMs)),
    takeover_ms_max: Math.max(...takeovers.map((r) => r.takeoverMs)),
    takeover_false_failovers: takeovers.filter((r) => r.failedOver).length,
    failover_after_leader_loss_window_ms_median: median(both.map((r) => r.windowMs)),
    failover_after_leader_loss_window_ms_max: Math.max(...both.map((r) => r.windowMs)),
    failover_after_leader_loss_lost_acked_rows_max: Math.max(...both.map((r) => r.lostRows)),
    deposed_leader_writes: deposed.reduce((sum, r) => sum + r.deposedWrites.length, 0),
    deposed_leader_noticed_loss_runs: deposed.filter((r) => r.noticed).length,
    deposed_leader_resumed_window_ms: RESUMED_WINDOW_MS,
  };
  console.log(JSON.stringify(summary, null, 2));
  await mkdir('bench/results', { recursive: true });
  await writeFile('bench/results/controller.json', `${JSON.stringify(summary, null, 2)}\n`);
}

try {
  await main();
} finally {
  await cleanupAll();
}
