/**
 * bench:agent with BENCH_AGENT_ONLY=host_loss[,crash,isolation] (bench/agent.ts): only those
 * failover windows of agent-windows.ts, BENCH_AGENT_RUNS runs each (default 5), on a shared
 * 3-member etcd. Prints the figures and the load average, writes bench/results/agent-windows.json
 * (agent.json stays the full bench's). The machine is shared: figures include others' noise.
 */
import { loadavg } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { startEtcdCluster } from '../test/fixtures/etcd.js';
import { TTL_SECONDS } from '../test/fixtures/etcd-controllers.js';
import { measureAgentWindows, WINDOW_AGENT_SETTINGS, WINDOW_FAILOVER_SETTINGS, type WindowKind } from './agent-windows.js';

function runsFromEnv(value = process.env['BENCH_AGENT_RUNS']): number {
  if (value === undefined || value === '') return 5;
  const runs = Number(value);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`BENCH_AGENT_RUNS must be a positive integer, not ${JSON.stringify(value)}`);
  return runs;
}

export async function windowsOnlyBench(kinds: readonly WindowKind[]): Promise<void> {
  const runs = runsFromEnv();
  const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`bench:agent (only ${kinds.join(', ')}) — etcd.ttl ${TTL_SECONDS} s, agent ${JSON.stringify(WINDOW_AGENT_SETTINGS)}, controller ${JSON.stringify(WINDOW_FAILOVER_SETTINGS)}, ${runs} runs each; load average ${load()}`);
  const etcd = await startEtcdCluster({ members: 3 });
  try {
    const figures = await measureAgentWindows(etcd, runs, console.log, kinds);
    const result = { ...figures, windows_ttl_s: TTL_SECONDS, runs, load_average_1m_end: Math.round((loadavg()[0] ?? Number.NaN) * 100) / 100 };
    console.log(`  load average at the end ${load()}`);
    for (const [key, value] of Object.entries(result)) console.log(`  ${key}: ${value}`);
    if (kinds.includes('host_loss')) {
      const met = (figures['host_loss_window_ms_median'] ?? Number.NaN) <= (TTL_SECONDS + 2) * 1000;
      console.log(`  host loss → writable new master, median ${figures['host_loss_window_ms_median']} ms (target ≤ ttl + 2 s = ${(TTL_SECONDS + 2) * 1000}) -> ${met ? 'met' : 'MISSED'}`);
      if (!met) process.exitCode = 1;
    }
    if (figures['split_brain_samples'] !== 0 || figures['failovers_missing'] !== 0) process.exitCode = 1;
    await mkdir('bench/results', { recursive: true });
    await writeFile('bench/results/agent-windows.json', `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await etcd.stop();
  }
}
