/**
 * The floor of an idle agent's cost on this machine: bare Node processes, started with the agent's
 * V8 flags, each doing ONE thing a second through the agent's own lean clients (an empty timer,
 * the facts query on the unix socket, a lease keep-alive on one gRPC stream, both one after the
 * other, both in the same tick), side by side on one bed (3 etcd members, one PostgreSQL). Per
 * window: each process's CPU (the scheduler's exact on-CPU time) and voluntary sleeps per second.
 * An agent's round holds at least a facts query and, on the master, a keep-alive: what these cost
 * bare is what no agent in Node can go below here (docs/node-agent.md, "fifth look").
 *
 *   FLOOR_MINUTES=3 FLOOR_WINDOW_S=60 npx tsx bench/agent-floor.ts
 *
 * Writes bench/results/agent-floor.json (medians per mode, flat).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { build } from 'esbuild';
import { Etcd3 } from 'etcd3';
import { launcherFlags } from '../src/cli/launcher-flags.js';
import { startCluster } from '../test/fixtures/cluster.js';
import { startEtcdCluster } from '../test/fixtures/etcd.js';
import { postgresUser } from '../test/fixtures/exec.js';
import { track, untrack } from '../test/fixtures/processes.js';
import { FLOOR_MODES } from './agent-floor-modes.js';
import { loadAverage } from './proc-stats.js';

const MINUTES = Number(process.env['FLOOR_MINUTES'] ?? 3);
const WINDOW_S = Number(process.env['FLOOR_WINDOW_S'] ?? 60);
if (!(MINUTES > 0 && WINDOW_S >= 10 && (MINUTES * 60) / WINDOW_S >= 1)) throw new Error('FLOOR_MINUTES > 0, FLOOR_WINDOW_S ≥ 10, at least one window');
const WARMUP_S = 30;
const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

/** On-CPU ns and voluntary context switches of every thread of `pid`. */
function usage(pid: number, mode: string): { ns: number; sleeps: number } {
  if (!existsSync(`/proc/${pid}/task`)) throw new Error(`the ${mode} process ended (its output is above)`);
  let ns = 0;
  let sleeps = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      sleeps += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // a thread that ended
    }
  }
  return { ns, sleeps };
}

async function main(): Promise<void> {
  // Bundled, so that the children run plain JavaScript (tsx would add its loader's thread); under
  // dist/ (ignored by git, readable by the postgres user) so that its packages resolve.
  const child = resolve('dist/bench-floor/agent-floor-child.mjs');
  await build({ entryPoints: [resolve('bench/agent-floor-child.ts')], bundle: true, packages: 'external', platform: 'node', format: 'esm', outfile: child, logLevel: 'warning' });
  const [etcd, cluster] = await Promise.all([startEtcdCluster({ members: 3 }), startCluster({ nodes: 1, ssh: false })]);
  const client = new Etcd3({ hosts: etcd.endpoints });
  const user = postgresUser();
  const children: { mode: string; pid: number }[] = [];
  const figures: Record<string, { cpu: number[]; sleeps: number[] }> = {};
  try {
    for (const mode of FLOOR_MODES) {
      const leaseId = await client.lease(60, { autoKeepAlive: false }).grant();
      const proc = spawn(process.execPath, [...launcherFlags(['agent']), child, mode, etcd.endpoints[0] as string, leaseId, (cluster.nodes[0] as { socketDir: string }).socketDir], { uid: user.uid, gid: user.gid, stdio: ['ignore', 'inherit', 'inherit'] });
      track(proc.pid as number, `agent-floor ${mode}`);
      children.push({ mode, pid: proc.pid as number });
    }
    console.log(`agent floor: ${FLOOR_MODES.join(' | ')}; flags ${launcherFlags(['agent']).join(' ')}; ${WARMUP_S} s left out`);
    await sleep(WARMUP_S * 1000);
    for (let w = 0; w < Math.floor((MINUTES * 60) / WINDOW_S); w++) {
      const before = children.map((c) => usage(c.pid, c.mode));
      await sleep(WINDOW_S * 1000);
      const line = children.map((c, i) => {
        const after = usage(c.pid, c.mode);
        const cpu = ((after.ns - (before[i] as { ns: number }).ns) / 1e9 / WINDOW_S) * 100;
        const sleeps = (after.sleeps - (before[i] as { sleeps: number }).sleeps) / WINDOW_S;
        const f = (figures[c.mode] ??= { cpu: [], sleeps: [] });
        f.cpu.push(cpu);
        f.sleeps.push(sleeps);
        return `${c.mode} ${cpu.toFixed(3)} % ${sleeps.toFixed(2)}/s`;
      });
      console.log(`window ${w + 1} (load ${loadAverage()}): ${line.join(' | ')}`);
    }
  } finally {
    for (const c of children) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // gone
      }
      untrack(c.pid);
    }
    client.close();
    await Promise.all([etcd.stop(), cluster.stop()]);
    rmSync(dirname(child), { recursive: true, force: true });
  }
  const summary: Record<string, number> = { window_s: WINDOW_S, windows: Math.floor((MINUTES * 60) / WINDOW_S), load_average_1m_end: Number(loadAverage().split(' ')[0]) };
  for (const [mode, f] of Object.entries(figures)) {
    summary[`${mode}_cpu_pct_median`] = Math.round(median(f.cpu) * 1000) / 1000;
    summary[`${mode}_sleeps_per_s_median`] = Math.round(median(f.sleeps) * 100) / 100;
    console.log(`${mode}: median ${summary[`${mode}_cpu_pct_median`]} % of a core, ${summary[`${mode}_sleeps_per_s_median`]} sleeps/s`);
  }
  await mkdir('bench/results', { recursive: true });
  await writeFile('bench/results/agent-floor.json', `${JSON.stringify(summary, null, 2)}\n`);
}
await main();
