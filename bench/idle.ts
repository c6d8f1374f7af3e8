/**
 * bench:idle — what watching costs while nothing happens: a 3-node cluster watched by the
 * compiled daemon (dist/) at poll_interval 1 for 60 s. Measures, from /proc/<pid>/stat, the
 * controller's CPU and RSS, the three PostgreSQL process trees' CPU with HandyRep watching minus
 * the same window without it, and the sessions opened on the servers per second (pg_stat_database
 * sessions). The window starts 15 s after the daemon started (start-up work and V8's one-off
 * compaction of its garbage are not idle); the start-up RSS peak is reported on its own.
 * Writes bench/results/idle.json.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { startCluster, type TestCluster } from '../test/fixtures/cluster.js';
import { freePort, startDaemonProcess, type DaemonProcess } from '../test/fixtures/daemon.js';
import { writeConfig } from '../test/fixtures/handyrep-config.js';
import { treeOf } from '../test/fixtures/proc.js';

const WINDOW_S = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const WARMUP_S = 5;
/** From the daemon's start to the idle window: start-up work and its one-off heap compaction. */
const DAEMON_SETTLE_S = 15;
const POLL_INTERVAL_S = 1;
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** utime+stime of pid, and cutime+cstime (its reaped children), in clock ticks; null when gone. */
function ticks(pid: number): { own: number; reaped: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ').map(Number);
  // Fields 14-17 of proc(5): utime stime cutime cstime (f[0] is field 3, the state).
  return { own: (f[11] ?? 0) + (f[12] ?? 0), reaped: (f[13] ?? 0) + (f[14] ?? 0) };
}

/**
 * CPU ticks a process tree has used: every live member's own time plus the root's reaped
 * children (a backend that exits in the window is counted through its parent).
 */
function treeTicks(root: number): number {
  let total = ticks(root)?.reaped ?? 0;
  for (const pid of treeOf(root)) total += ticks(pid)?.own ?? 0;
  return total;
}

function postgresTicks(cluster: TestCluster): number {
  return cluster.nodes.reduce((sum, n) => {
    const pid = n.postmasterPid();
    return sum + (pid === null ? 0 : treeTicks(pid));
  }, 0);
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:')) ?? '';
  return Number(/\d+/.exec(line)?.[0] ?? NaN) / 1024;
}

/** Sessions established on all three servers so far (each reading itself opens one, counted too). */
async function sessionsSoFar(cluster: TestCluster): Promise<number> {
  let total = 0;
  for (const n of cluster.nodes) total += Number((await cluster.psql(n, 'SELECT sum(sessions) FROM pg_stat_database')).trim());
  return total;
}

/** CPU % of one core used by the PostgreSQL trees over `seconds`. */
async function postgresCpuPct(cluster: TestCluster, seconds: number): Promise<number> {
  const before = postgresTicks(cluster);
  const started = performance.now();
  await sleep(seconds * 1000);
  const elapsedS = (performance.now() - started) / 1000;
  return ((postgresTicks(cluster) - before) / CLOCK_TICKS / elapsedS) * 100;
}

async function main(): Promise<void> {
  console.log(`bench:idle — 3 nodes, poll_interval ${POLL_INTERVAL_S} s, ${WINDOW_S} s windows (machine shared: figures include others' noise)`);
  const cluster = await startCluster({ nodes: 3 });
  let daemon: DaemonProcess | null = null;
  try {
    await sleep(WARMUP_S * 1000);
    const postgresAlone = await postgresCpuPct(cluster, WINDOW_S);
    console.log(`  PostgreSQL trees without HandyRep: ${postgresAlone.toFixed(2)} % of a core`);

    const port = await freePort();
    const config = await writeConfig(cluster, {
      handyrep: { authentication_method: 'simple_password_auth', log_file: `${cluster.root}/handyrep.log` },
      passwords: { admin_password: 'bench-admin', read_password: 'bench-read' },
      failover: { poll_interval: POLL_INTERVAL_S },
      daemon: { listen_address: '127.0.0.1', listen_port: port },
    });
    // The shebang runs one node process with HandyRep's V8 flag; compiled: dist/, built by the script.
    daemon = await startDaemonProcess(config, { compiled: true });
    // Start-up is not idle: its garbage stays in the heap until V8's memory reducer compacts it,
    // about 9 s after start (a one-off ~75 ms of CPU, RSS ~82 -> ~76 MB). The idle window starts
    // after that; the start-up peak is reported on its own.
    let startupRssPeak = 0;
    for (let i = 0; i < (DAEMON_SETTLE_S * 1000) / 100; i += 1) {
      startupRssPeak = Math.max(startupRssPeak, rssMb(daemon.pid));
      await sleep(100);
    }

    const sessionsBefore = await sessionsSoFar(cluster);
    const controllerBefore = ticks(daemon.pid)?.own ?? NaN;
    const postgresBefore = postgresTicks(cluster);
    const started = performance.now();
    let rssMax = 0;
    for (let i = 0; i < WINDOW_S; i += 1) {
      await sleep(1000);
      rssMax = Math.max(rssMax, rssMb(daemon.pid));
    }
    const elapsedS = (performance.now() - started) / 1000;
    const controllerTicks = (ticks(daemon.pid)?.own ?? NaN) - controllerBefore;
    const postgresWatched = ((postgresTicks(cluster) - postgresBefore) / CLOCK_TICKS / elapsedS) * 100;
    // The first reading's own three sessions ended inside the window: not HandyRep's.
    const sessionsOpened = Math.max(0, (await sessionsSoFar(cluster)) - sessionsBefore - cluster.nodes.length);
    const health = await fetch(`${daemon.url}/health`).then((r) => r.json() as Promise<{ monitor?: { cycles?: number } }>).catch(() => null);

    const result = {
      window_s: Math.round(elapsedS * 10) / 10,
      poll_interval_s: POLL_INTERVAL_S,
      controller_cpu_pct: Math.round((controllerTicks / CLOCK_TICKS / elapsedS) * 100 * 100) / 100,
      controller_rss_mb: Math.round(rssMax * 10) / 10,
      controller_startup_rss_peak_mb: Math.round(startupRssPeak * 10) / 10,
      controller_settle_s: DAEMON_SETTLE_S,
      postgres_cpu_pct_watched: Math.round(postgresWatched * 100) / 100,
      postgres_cpu_pct_alone: Math.round(postgresAlone * 100) / 100,
      postgres_cpu_pct_monitoring: Math.round((postgresWatched - postgresAlone) * 100) / 100,
      postgres_sessions_opened: sessionsOpened,
      postgres_sessions_opened_per_s: Math.round((sessionsOpened / elapsedS) * 1000) / 1000,
      monitor_cycles: health?.monitor?.cycles ?? null,
      clock_ticks_per_s: CLOCK_TICKS,
      controller: 'dist/ (compiled), one node process with the launcher flags --max-semi-space-size=2 --v8-pool-size=0',
    };
    const checks: [string, boolean][] = [
      [`controller CPU ${result.controller_cpu_pct} % of a core (target < 0.5)`, result.controller_cpu_pct < 0.5],
      [`controller RSS max ${result.controller_rss_mb} MB in the idle window (target < 80; start-up peak ${result.controller_startup_rss_peak_mb} MB)`, result.controller_rss_mb < 80],
      [`PostgreSQL CPU for monitoring ${result.postgres_cpu_pct_monitoring} % (${result.postgres_cpu_pct_watched} watched − ${result.postgres_cpu_pct_alone} alone; target < 1)`, result.postgres_cpu_pct_monitoring < 1],
      [`sessions opened ${result.postgres_sessions_opened_per_s}/s (${sessionsOpened} in ${result.window_s} s; target ≤ 0.1)`, result.postgres_sessions_opened_per_s <= 0.1],
    ];
    for (const [line, met] of checks) console.log(`  ${line} -> ${met ? 'met' : 'MISSED'}`);
    await mkdir('bench/results', { recursive: true });
    await writeFile('bench/results/idle.json', `${JSON.stringify(result, null, 2)}\n`);
    if (checks.some(([, met]) => !met)) process.exitCode = 1;
  } finally {
    await daemon?.stop();
    await cluster.stop();
  }
}

await main();
