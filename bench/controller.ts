/**
 * bench:controller — HandyRep's own availability under etcd_lease (real etcd, 3 members; real
 * PostgreSQL, 3 nodes; two controller daemons):
 *   - takeover: the leading controller SIGKILLed with the master healthy → time until the other
 *     says it leads (/health), and no failover;
 *   - leader + master: the leading controller and the master killed together → the client's
 *     write gap (the probe of bench:failover) until a new master accepts writes, and acknowledged
 *     rows lost (must be 0 on the rows replayed before the crash; the probe counts every ack).
 * Writes bench/results/controller.json (one flat object, units in the keys). BENCH_RUNS (default 5).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { crash } from '../test/fixtures/faults.js';
import { cleanupAll, closeBed, openBed, waitUntil, writableNodes, type Bed } from '../test/fixtures/chaos.js';
import { startEtcdCluster, type EtcdCluster } from '../test/fixtures/etcd.js';
import { leaders, leadershipOf, monitorCycles, startController, TTL_SECONDS, type Controller } from '../test/fixtures/etcd-controllers.js';
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
  for (const c of s.controllers) await c.daemon.stop('SIGTERM').catch(() => undefined);
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

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function main(): Promise<void> {
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
