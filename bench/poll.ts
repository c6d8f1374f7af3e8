/**
 * bench:poll — poll_all latency on a real 3-node cluster, and on 50 servers of which 10 never
 * answer (their addresses DROPped by iptables, so connects hang until the connect timeout).
 * Polls run in parallel, so the 50-server poll_all must finish within one connect timeout plus
 * 100 ms. Prints a summary and writes bench/results/poll.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { HandyRep } from '../src/api/handyrep.js';
import { startCluster, type TestCluster } from '../test/fixtures/cluster.js';
import { healAll, partition } from '../test/fixtures/faults.js';

const ROUNDS_3 = 200;
const ROUNDS_50 = 30;
const CONNECT_TIMEOUT_S = 1;
const DEAD_BASE = 201;

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? NaN;
}

let rssMaxMb = 0;
function sampleRss(): void {
  rssMaxMb = Math.max(rssMaxMb, process.memoryUsage().rss / 1048576);
}

async function timeRounds(hr: HandyRep, rounds: number, expectOk: (rd: Awaited<ReturnType<HandyRep['poll_all']>>) => boolean): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < rounds; i += 1) {
    const started = performance.now();
    const rd = await hr.poll_all();
    times.push(performance.now() - started);
    if (!expectOk(rd)) throw new Error(`unexpected poll_all result: ${rd.details}`);
    sampleRss();
  }
  return times.sort((a, b) => a - b);
}

async function openWith(cluster: TestCluster, name: string, servers: Record<string, unknown>): Promise<HandyRep> {
  const base = cluster.config({ handyrep: { connect_timeout_seconds: CONNECT_TIMEOUT_S, server_file: join(cluster.root, `${name}.save`) } });
  const path = join(cluster.root, `${name}.yaml`);
  await writeFile(path, stringify({ ...base, servers }), 'utf8');
  return HandyRep.open(path);
}

async function main(): Promise<void> {
  const cluster = await startCluster({ nodes: 3 });
  const timer = setInterval(sampleRss, 50);
  try {
    const three = await openWith(cluster, 'bench3', cluster.config().servers as Record<string, unknown>);
    const t3 = await timeRounds(three, ROUNDS_3, (rd) => rd.result === 'SUCCESS');
    await three.close();

    const subnet = cluster.nodes[0]?.host.split('.').slice(0, 3).join('.') ?? '127.0.0';
    const servers: Record<string, unknown> = {};
    for (let i = 0; i < 50; i += 1) {
      const name = `s${String(i + 1).padStart(2, '0')}`;
      if (i === 0) servers[name] = { hostname: cluster.nodes[0]?.host, role: 'master' };
      else if (i <= 39) servers[name] = { hostname: cluster.nodes[1 + (i % 2)]?.host, role: 'replica' };
      else {
        const host = `${subnet}.${DEAD_BASE + i - 40}`;
        partition(host);
        servers[name] = { hostname: host, role: 'replica' };
      }
    }
    const fifty = await openWith(cluster, 'bench50', servers);
    const t50 = await timeRounds(fifty, ROUNDS_50, (rd) => rd.result === 'SUCCESS' && Object.values(rd.servers).filter((s) => s.result === 'FAIL').length === 10);
    await fifty.close();

    const result = {
      poll_all_3_p50_ms: Math.round(percentile(t3, 50) * 10) / 10,
      poll_all_3_p99_ms: Math.round(percentile(t3, 99) * 10) / 10,
      poll_all_50_10dead_p50_ms: Math.round(percentile(t50, 50)),
      poll_all_50_10dead_p99_ms: Math.round(percentile(t50, 99)),
      poll_all_50_10dead_max_ms: Math.round(t50[t50.length - 1] ?? NaN),
      connect_timeout_ms: CONNECT_TIMEOUT_S * 1000,
      bound_ms: CONNECT_TIMEOUT_S * 1000 + 100,
      rss_mb_max: Math.round(rssMaxMb * 10) / 10,
      rounds_3: ROUNDS_3,
      rounds_50: ROUNDS_50,
    };
    const within = result.poll_all_50_10dead_p99_ms <= result.bound_ms;
    console.log('poll_all on a real 3-node cluster (poll_connect, parallel):');
    console.log(`  3 servers:             p50 ${result.poll_all_3_p50_ms} ms, p99 ${result.poll_all_3_p99_ms} ms (${ROUNDS_3} rounds)`);
    console.log(`  50 servers, 10 dead:   p50 ${result.poll_all_50_10dead_p50_ms} ms, p99 ${result.poll_all_50_10dead_p99_ms} ms, max ${result.poll_all_50_10dead_max_ms} ms (${ROUNDS_50} rounds)`);
    console.log(`  bound (connect timeout + 100 ms): ${result.bound_ms} ms -> ${within ? 'met' : 'MISSED'}`);
    console.log(`  max RSS: ${result.rss_mb_max} MB (limit 120 MB) -> ${result.rss_mb_max < 120 ? 'met' : 'MISSED'}`);
    await mkdir('bench/results', { recursive: true });
    await writeFile('bench/results/poll.json', `${JSON.stringify(result, null, 2)}\n`);
    if (!within || result.rss_mb_max >= 120) process.exitCode = 1;
  } finally {
    clearInterval(timer);
    await healAll();
    await cluster.stop();
  }
}

await main();
