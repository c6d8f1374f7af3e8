/**
 * bench:api — REST API throughput and latency from a client's view, while the daemon monitors a
 * real 3-node cluster (poll every second, verify every 10 s). The daemon runs as its own process
 * from compiled JavaScript through bin/handyrep.js (as in production, with its V8 flag);
 * autocannon runs here, on the same 2 cores. Measured: `GET /get_status` (cached, with the read
 * password under simple_password_auth) and `GET /primary/<master>` (health check, no auth).
 * Target: ≥ 10,000 requests/s with p99 < 5 ms each. For scale, the same load generator also
 * measures a bare fastify server (its own process) answering the very bytes HandyRep answered:
 * the machine's ceiling for those responses. Prints a summary and writes bench/results/api.json.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import autocannon from 'autocannon';
import { startCluster } from '../test/fixtures/cluster.js';
import { basic, freePort, http, startDaemonProcess, waitUntil, type DaemonProcess } from '../test/fixtures/daemon.js';
import { writeConfig } from '../test/fixtures/handyrep-config.js';

const DURATION_S = 10;
// Long enough for V8 to finish optimising the request path: a daemon runs for weeks, and the
// steady state is what load balancers see (with 2 s, the first seconds' slower code weighs in).
const WARMUP_S = 5;
const CONNECTIONS = 10;
const TARGET_RPS = 10_000;
const TARGET_P99_MS = 5;
const READ_PASSWORD = 'bench-read';

interface Run {
  rps: number;
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  total: number;
}

async function load(url: string, headers: Record<string, string>, seconds: number): Promise<Run> {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: seconds, headers });
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    total: result.requests.total,
  };
}

/**
 * Requests/s of a bare fastify server (its own process, no HandyRep) answering `body` under the
 * same load: the machine's ceiling for a response of that size.
 */
async function bareFastifyRps(body: string): Promise<number> {
  const port = await freePort();
  const script = `import Fastify from 'fastify';
const body = ${JSON.stringify(body)};
const app = Fastify({ logger: false });
app.get('/x', async (_request, reply) => reply.header('content-type', 'application/json; charset=utf-8').send(body));
await app.listen({ port: ${port}, host: '127.0.0.1' });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore', cwd: process.cwd() });
  try {
    await waitUntil(async () => (await http(`http://127.0.0.1:${port}`, '/x').catch(() => ({ status: 0 }))).status === 200, 'the bare fastify server');
    await load(`http://127.0.0.1:${port}/x`, {}, WARMUP_S);
    return (await load(`http://127.0.0.1:${port}/x`, {}, DURATION_S)).rps;
  } finally {
    child.kill('SIGKILL');
  }
}

/** Peak and current resident memory of a process, MB. */
function memoryMb(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rss: Math.round(kb('VmRSS') / 102.4) / 10, hwm: Math.round(kb('VmHWM') / 102.4) / 10 };
}

async function main(): Promise<void> {
  const cluster = await startCluster({ nodes: 3 });
  let daemon: DaemonProcess | null = null;
  try {
    const port = await freePort();
    const config = await writeConfig(cluster, {
      handyrep: { authentication_method: 'simple_password_auth', log_file: `${cluster.root}/handyrep.log` },
      passwords: { admin_password: 'bench-admin', read_password: READ_PASSWORD },
      failover: { poll_interval: 1, verify_interval: 10 },
      daemon: { listen_address: '127.0.0.1', listen_port: port },
    });
    daemon = await startDaemonProcess(config, { compiled: true });
    const url = daemon.url;
    const master = cluster.master.name;
    await waitUntil(async () => (await http(url, `/primary/${master}`)).status === 200, 'the first verification');
    const auth = { authorization: basic(READ_PASSWORD) };

    await load(`${url}/get_status`, auth, WARMUP_S);
    const status = await load(`${url}/get_status`, auth, DURATION_S);
    await load(`${url}/primary/${master}`, {}, WARMUP_S);
    const primary = await load(`${url}/primary/${master}`, {}, DURATION_S);
    const memory = memoryMb(daemon.pid);
    const health = (await http(url, '/health')).json as { monitor: { cycles: number; errors: number } };
    // The same bytes as HandyRep's answers, served with no work behind them.
    const bareStatus = await bareFastifyRps((await http(url, '/get_status', { headers: auth })).text);
    const barePrimary = await bareFastifyRps((await http(url, `/primary/${master}`)).text);

    const result = {
      get_status_rps: status.rps,
      get_status_p50_ms: status.p50,
      get_status_p99_ms: status.p99,
      get_status_max_ms: status.max,
      get_status_non2xx: status.non2xx,
      primary_rps: primary.rps,
      primary_p50_ms: primary.p50,
      primary_p99_ms: primary.p99,
      primary_max_ms: primary.max,
      primary_non2xx: primary.non2xx,
      errors: status.errors + primary.errors,
      connections: CONNECTIONS,
      duration_s: DURATION_S,
      warmup_s: WARMUP_S,
      monitor_cycles: health.monitor.cycles,
      monitor_errors: health.monitor.errors,
      daemon_rss_mb: memory.rss,
      daemon_rss_peak_mb: memory.hwm,
      bare_fastify_status_body_rps: bareStatus,
      bare_fastify_primary_body_rps: barePrimary,
      target_rps: TARGET_RPS,
      target_p99_ms: TARGET_P99_MS,
      target_met: [status, primary].every((r) => r.rps >= TARGET_RPS && r.p99 < TARGET_P99_MS && r.non2xx === 0 && r.errors === 0),
    };
    const code = await daemon.stop('SIGTERM');
    daemon = null;
    if (code !== 0) throw new Error(`daemon exited with ${String(code)} after SIGTERM`);
    await mkdir('bench/results', { recursive: true });
    await writeFile('bench/results/api.json', `${JSON.stringify(result, null, 2)}\n`);
    const line = (name: string, r: Run): string =>
      `${name.padEnd(22)} ${String(r.rps).padStart(7)} req/s   p50 ${r.p50} ms   p99 ${r.p99} ms   max ${r.max} ms   non-2xx ${r.non2xx}   errors ${r.errors}`;
    console.log(`bench:api — ${CONNECTIONS} connections, ${DURATION_S} s each, daemon monitoring a 3-node cluster (${health.monitor.cycles} cycles)`);
    console.log(line('GET /get_status', status));
    console.log(line(`GET /primary/${master}`, primary));
    console.log(`ceiling: a bare fastify route answering the same bytes, same load generator: get_status body ${bareStatus} req/s, /primary body ${barePrimary} req/s`);
    console.log(`daemon RSS ${memory.rss} MB (peak ${memory.hwm} MB)`);
    console.log(`target ≥ ${TARGET_RPS} req/s and p99 < ${TARGET_P99_MS} ms: ${result.target_met ? 'met' : 'NOT met'}`);
    console.log('written: bench/results/api.json');
  } finally {
    await daemon?.stop('SIGKILL');
    await cluster.stop();
  }
}

await main();
