/**
 * bench:failover — the write-unavailability window and the acknowledged rows lost, seen by a
 * client writing a numbered row every 20 ms, for (a) the master's postmaster SIGKILLed while
 * HandyRep's monitoring runs with poll_interval 1, fail_retries 2, fail_retry_interval 0.5, and
 * (b) a planned switchover. A fresh 3-node cluster per run. Prints medians and maxima and writes
 * bench/results/failover.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { HandyRep } from '../src/api/handyrep.js';
import { startCluster, type TestCluster, type TestNode } from '../test/fixtures/cluster.js';
import { crash, healAll } from '../test/fixtures/faults.js';
import { writeConfig } from '../test/fixtures/handyrep-config.js';
import { FAILOVER_TEST_SETTINGS, POSTGRES_FAST_RETRY } from '../test/fixtures/failover-settings.js';
import { WriteProbe, writeWindowMs } from './write-probe.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SETTLE_MS = 1500;
const CONNECT_TIMEOUT_S = 1;

interface RunResult {
  windowMs: number;
  lostRows: number;
  acked: number;
  newMaster: string | null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function lostRows(cluster: TestCluster, master: TestNode, acked: readonly number[]): Promise<number> {
  const present = new Set((await cluster.psql(master, 'SELECT n FROM probe')).split('\n').filter(Boolean).map(Number));
  return acked.filter((n) => !present.has(n)).length;
}

async function oneRun(kind: 'kill' | 'switchover'): Promise<RunResult> {
  const cluster = await startCluster({ nodes: 3, postgresConf: POSTGRES_FAST_RETRY });
  let hr: HandyRep | null = null;
  try {
    const path = await writeConfig(cluster, { handyrep: { connect_timeout_seconds: CONNECT_TIMEOUT_S }, failover: FAILOVER_TEST_SETTINGS });
    hr = await HandyRep.open(path);
    await cluster.psql(cluster.master, 'CREATE TABLE probe (n int PRIMARY KEY, at timestamptz DEFAULT now())');
    await hr.verify_all();
    hr.startMonitoring();
    const probe = new WriteProbe(cluster.nodes.map((n) => ({ host: n.host, port: n.port })), 'probe');
    probe.start();
    // A random phase against the 1 s poll schedule, so the runs sample detection delays fairly.
    await sleep(SETTLE_MS + Math.floor(Math.random() * 1000));
    const faultAt = Date.now();
    if (kind === 'kill') {
      await crash(cluster.master);
      const deadline = Date.now() + 30000;
      while (Date.now() < deadline && (await hr.get_master_name()) === cluster.master.name) await sleep(50);
    } else {
      const rd = await hr.manual_failover('paul', true);
      if (rd.result !== 'SUCCESS') throw new Error(`switchover failed: ${rd.details}`);
    }
    await sleep(SETTLE_MS);
    const result = await probe.stop();
    await hr.stopMonitoring();
    const newMasterName = await hr.get_master_name();
    const newMaster = cluster.nodes.find((n) => n.name === newMasterName);
    if (!newMaster) throw new Error(`no master after the ${kind}`);
    return {
      windowMs: writeWindowMs(result, faultAt),
      lostRows: await lostRows(cluster, newMaster, result.acked.map((a) => a.n)),
      acked: result.acked.length,
      newMaster: newMasterName,
    };
  } finally {
    await hr?.close();
    await healAll();
    await cluster.stop();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

async function scenario(kind: 'kill' | 'switchover'): Promise<RunResult[]> {
  const results: RunResult[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    const r = await oneRun(kind);
    console.log(`  ${kind} run ${i + 1}: window ${r.windowMs} ms, lost ${r.lostRows} of ${r.acked} acknowledged rows, new master ${String(r.newMaster)}`);
    results.push(r);
  }
  return results;
}

async function main(): Promise<void> {
  console.log(`bench:failover — ${RUNS} runs per scenario, probe writes every 20 ms`);
  const kill = await scenario('kill');
  const switchover = await scenario('switchover');
  const result = {
    runs: RUNS,
    kill_window_ms_median: median(kill.map((r) => r.windowMs)),
    kill_window_ms_max: Math.max(...kill.map((r) => r.windowMs)),
    kill_lost_rows_max: Math.max(...kill.map((r) => r.lostRows)),
    switchover_window_ms_median: median(switchover.map((r) => r.windowMs)),
    switchover_window_ms_max: Math.max(...switchover.map((r) => r.windowMs)),
    switchover_lost_rows_max: Math.max(...switchover.map((r) => r.lostRows)),
    poll_interval_s: FAILOVER_TEST_SETTINGS.poll_interval,
    fail_retries: FAILOVER_TEST_SETTINGS.fail_retries,
    fail_retry_interval_s: FAILOVER_TEST_SETTINGS.fail_retry_interval,
    connect_timeout_s: CONNECT_TIMEOUT_S,
    probe_interval_ms: 20,
  };
  const killOk = result.kill_window_ms_median <= 3000;
  const switchOk = result.switchover_window_ms_median <= 1000 && result.switchover_lost_rows_max === 0;
  console.log(`(a) master SIGKILLed: window median ${result.kill_window_ms_median} ms, max ${result.kill_window_ms_max} ms (target median ≤ 3000) -> ${killOk ? 'met' : 'MISSED'}; lost rows max ${result.kill_lost_rows_max}`);
  console.log(`(b) planned switchover: window median ${result.switchover_window_ms_median} ms, max ${result.switchover_window_ms_max} ms (target median ≤ 1000), lost rows max ${result.switchover_lost_rows_max} (target 0) -> ${switchOk ? 'met' : 'MISSED'}`);
  await mkdir('bench/results', { recursive: true });
  await writeFile('bench/results/failover.json', `${JSON.stringify(result, null, 2)}\n`);
  if (!killOk || !switchOk) process.exitCode = 1;
}

await main();
