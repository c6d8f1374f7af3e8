/**
 * bench:failover — the write-unavailability window and the acknowledged rows lost, seen by a
 * client writing a numbered row every 20 ms, for (a) the master's postmaster SIGKILLed while
 * HandyRep's monitoring runs (poll_interval 1, fail_retries 2, fail_retry_interval 0.2,
 * connect_timeout 1: settings that ride out (c)), (b) a planned switchover, and (c) a blip: the
 * whole master instance SIGSTOPped for 0.5 s, which must cause no failover. A fresh 3-node cluster
 * per run. Prints medians and maxima and writes bench/results/failover.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { HandyRep } from '../src/api/handyrep.js';
import type { FailoverRecord } from '../src/model/failover-record.js';
import { startCluster, type TestCluster, type TestNode } from '../test/fixtures/cluster.js';
import { crash, freeze, healAll, thaw } from '../test/fixtures/faults.js';
import { writeConfig } from '../test/fixtures/handyrep-config.js';
import { FAILOVER_TEST_SETTINGS, POSTGRES_FAST_RETRY } from '../test/fixtures/failover-settings.js';
import { WriteProbe, writeWindowMs } from './write-probe.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const SETTLE_MS = 1500;
const CONNECT_TIMEOUT_S = 1;
const BLIP_MS = 500;
/** After a blip, long enough for retries and a judgement to have failed over if they were going to. */
const BLIP_WATCH_MS = 4000;
/** Detection settings: a blip shorter than connect_timeout never fails a poll (README, "What the timings tolerate"). */
const SETTINGS = { ...FAILOVER_TEST_SETTINGS, poll_interval: 1, fail_retries: 2, fail_retry_interval: 0.2 };

type Kind = 'kill' | 'switchover' | 'blip';

interface RunResult {
  windowMs: number;
  lostRows: number;
  acked: number;
  newMaster: string | null;
  failedOver: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function lostRows(cluster: TestCluster, master: TestNode, acked: readonly number[]): Promise<number> {
  const present = new Set((await cluster.psql(master, 'SELECT n FROM probe')).split('\n').filter(Boolean).map(Number));
  return acked.filter((n) => !present.has(n)).length;
}

async function oneRun(kind: Kind): Promise<RunResult> {
  const cluster = await startCluster({ nodes: 3, postgresConf: POSTGRES_FAST_RETRY });
  let hr: HandyRep | null = null;
  try {
    const path = await writeConfig(cluster, { handyrep: { connect_timeout_seconds: CONNECT_TIMEOUT_S }, failover: SETTINGS });
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
    } else if (kind === 'blip') {
      freeze(cluster.master);
      await sleep(BLIP_MS);
      thaw(cluster.master);
      await sleep(BLIP_WATCH_MS);
    } else {
      const rd = await hr.manual_failover('paul', true);
      if (rd.result !== 'SUCCESS') throw new Error(`switchover failed: ${rd.details}`);
      if (process.env.BENCH_STEPS === '1') printSteps((await hr.failover_history(1))[0], faultAt);
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
      failedOver: newMasterName !== cluster.master.name,
    };
  } finally {
    await hr?.close();
    await healAll();
    await cluster.stop();
  }
}

/** BENCH_STEPS=1: each step's start and duration relative to the fault, for profiling a switchover. */
function printSteps(record: FailoverRecord | undefined, faultAt: number): void {
  for (const step of record?.steps ?? []) {
    const started = Date.parse(step.started) - faultAt;
    const took = step.finished === null ? NaN : Date.parse(step.finished) - Date.parse(step.started);
    console.log(`    +${started} ms ${step.name}${step.server ? ` ${step.server}` : ''}: ${took} ms ${step.outcome}`);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

async function scenario(kind: Kind): Promise<RunResult[]> {
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
  // BENCH_SCENARIOS=switchover (comma-separated) runs some only, for profiling; results need all three.
  const only = process.env.BENCH_SCENARIOS?.split(',');
  const pick = async (kind: Kind): Promise<RunResult[]> => (only === undefined || only.includes(kind) ? scenario(kind) : []);
  const kill = await pick('kill');
  const switchover = await pick('switchover');
  const blip = await pick('blip');
  if (only !== undefined) return;
  const result = {
    kill_runs: kill.length,
    kill_window_ms_median: median(kill.map((r) => r.windowMs)),
    kill_window_ms_max: Math.max(...kill.map((r) => r.windowMs)),
    kill_lost_rows_max: Math.max(...kill.map((r) => r.lostRows)),
    switchover_runs: switchover.length,
    switchover_window_ms_median: median(switchover.map((r) => r.windowMs)),
    switchover_window_ms_max: Math.max(...switchover.map((r) => r.windowMs)),
    switchover_lost_rows_max: Math.max(...switchover.map((r) => r.lostRows)),
    blip_runs: blip.length,
    blip_ms: BLIP_MS,
    blip_failovers: blip.filter((r) => r.failedOver).length,
    blip_window_ms_max: Math.max(...blip.map((r) => r.windowMs)),
    blip_lost_rows_max: Math.max(...blip.map((r) => r.lostRows)),
    poll_interval_s: SETTINGS.poll_interval,
    fail_retries: SETTINGS.fail_retries,
    fail_retry_interval_s: SETTINGS.fail_retry_interval,
    connect_timeout_s: CONNECT_TIMEOUT_S,
    probe_interval_ms: 20,
  };
  const checks: [string, boolean][] = [
    [`(a) master SIGKILLed: window median ${result.kill_window_ms_median} ms (target ≤ 1200), max ${result.kill_window_ms_max} ms (target ≤ 1800), lost rows max ${result.kill_lost_rows_max}`, result.kill_window_ms_median <= 1200 && result.kill_window_ms_max <= 1800 && result.kill_lost_rows_max === 0],
    [`(b) planned switchover: window median ${result.switchover_window_ms_median} ms (target ≤ 300), max ${result.switchover_window_ms_max} ms, lost rows max ${result.switchover_lost_rows_max} (target 0)`, result.switchover_window_ms_median <= 300 && result.switchover_lost_rows_max === 0],
    [`(c) ${BLIP_MS} ms freeze of the master: ${result.blip_failovers} failovers in ${result.blip_runs} runs (target 0), lost rows max ${result.blip_lost_rows_max}`, result.blip_failovers === 0 && result.blip_lost_rows_max === 0],
  ];
  for (const [line, met] of checks) console.log(`${line} -> ${met ? 'met' : 'MISSED'}`);
  await mkdir('bench/results', { recursive: true });
  await writeFile('bench/results/failover.json', `${JSON.stringify(result, null, 2)}\n`);
  if (checks.some(([, met]) => !met)) process.exitCode = 1;
}

await main();
