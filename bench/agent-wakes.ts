/**
 * Where an idle agent's wake-ups go: a test bed (3 etcd members, master john whose agent runs
 * from WAKES_MASTER (a build root, `#` then extra node flags), one replica per entry of
 * WAKES_REPLICAS (up to three, comma-separated, same form; default this build), deployment
 * WAKES_DEPLOYMENT (default single)) and, per window, each agent's voluntary sleeps (a sleep ends
 * in a wake-up), runs on a CPU and on-CPU time per thread (`/proc/<pid>/task/<tid>/status` and
 * `schedstat`). On a virtual machine an idle vCPU's wake-up is dear, so sleeps per second is the
 * load-independent figure of an idle round's cost.
 *
 *   WAKES_REPLICAS=.,/tmp/old-build,.#--single-threaded-gc WAKES_MINUTES=3 npx tsx bench/agent-wakes.ts
 *
 * WAKES_TTL / WAKES_MARGIN (default 5 / 2 s, as bench:agent's idle part); writes
 * bench/results/agent-wakes.json (medians per agent, flat).
 */
import { spawn } from 'node:child_process';
import { openSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Etcd3 } from 'etcd3';
import { putMasterRecord, writeAgentConfig } from '../test/fixtures/agents.js';
import { startCluster, type TestNode } from '../test/fixtures/cluster.js';
import { startEtcdCluster } from '../test/fixtures/etcd.js';
import { postgresUser } from '../test/fixtures/exec.js';
import { track, untrack } from '../test/fixtures/processes.js';
import { agentNodeFlagsOf } from './launcher-of.js';
import { loadAverage } from './proc-stats.js';

const MINUTES = Number(process.env['WAKES_MINUTES'] ?? 3);
const WINDOW_S = Number(process.env['WAKES_WINDOW_S'] ?? 30);
const DEPLOYMENT = process.env['WAKES_DEPLOYMENT'] ?? 'single';
const TTL_S = Number(process.env['WAKES_TTL'] ?? 5);
const MARGIN_S = Number(process.env['WAKES_MARGIN'] ?? 2);
if (!(TTL_S >= 2 && MARGIN_S > 0 && MARGIN_S < TTL_S)) throw new Error('WAKES_TTL ≥ 2 and 0 < WAKES_MARGIN < WAKES_TTL');
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const PREFIX = '/handyrep/benchwakes/';
/** WAKES_LOG_DIR: each agent's standard output (and V8's traces, e.g. `#--trace-deopt`) to <dir>/<node>.log. */
const LOG_DIR = process.env['WAKES_LOG_DIR'] ?? null;
const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));
const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true; } catch { return false; }
};

interface ThreadSample { readonly comm: string; readonly ns: number; readonly runs: number; readonly voluntary: number }
function threads(pid: number): Map<string, ThreadSample> {
  const out = new Map<string, ThreadSample>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const [ns, , runs] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const voluntary = Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))?.[1] ?? 0);
      out.set(tid, { comm, ns: ns as number, runs: runs as number, voluntary });
    } catch {
      // ended
    }
  }
  return out;
}

async function main(): Promise<void> {
  const builds = (process.env['WAKES_REPLICAS'] ?? '.').split(',').map((b) => b.trim()).filter((b) => b !== '');
  if (builds.length < 1 || builds.length > 3) throw new Error(`WAKES_REPLICAS: one to three builds, not ${builds.length}`);
  const [etcd, cluster] = await Promise.all([startEtcdCluster({ members: 3 }), startCluster({ nodes: 1 + builds.length, ssh: false })]);
  const client = new Etcd3({ hosts: etcd.endpoints });
  const [john, ...replicas] = cluster.nodes as [TestNode, ...TestNode[]];
  const settings = { endpoints: etcd.endpoints, prefix: PREFIX, ttl: TTL_S, agent: { loop_wait: 1, safety_margin: MARGIN_S }, sections: { handyrep: { deployment: DEPLOYMENT }, passwords: { handyrep_db_pass: cluster.passwords.handyrep_db_pass } } };
  const pids: number[] = [];
  const figures: Record<string, { sleeps: number[]; cpu: number[] }> = {};
  const run = (node: TestNode, build: string): number => {
    const [root, flags] = build.split('#') as [string, string | undefined];
    const user = postgresUser();
    const logFd = LOG_DIR === null ? -1 : openSync(`${LOG_DIR}/${node.name}.log`, 'w');
    const child = spawn(process.execPath, [...agentNodeFlagsOf(root), ...(flags ?? '').split(' ').filter((f) => f !== ''), resolve(root, 'bin', 'handyrep.js'), 'agent', '--config', writeAgentConfig(cluster, node, settings), '--node', node.name], {
      uid: user.uid, gid: user.gid, cwd: resolve(root), env: { ...process.env, HOME: cluster.root, HANDYREP_SOURCE: '0' }, stdio: LOG_DIR === null ? 'ignore' : ['ignore', logFd, logFd],
    });
    const pid = child.pid as number;
    track(pid, `agent ${node.name}`);
    pids.push(pid);
    return pid;
  };
  try {
    await putMasterRecord(client, PREFIX, 'john');
    const measured = [{ name: `john ${process.env['WAKES_MASTER'] ?? '.'}`, pid: run(john, process.env['WAKES_MASTER'] ?? '.') }];
    await sleep(3000);
    replicas.forEach((node, i) => measured.push({ name: `${node.name} ${builds[i]}`, pid: run(node, builds[i] as string) }));
    console.log(`agent wake-ups: deployment ${DEPLOYMENT}, ttl ${TTL_S} s, safety_margin ${MARGIN_S} s, loop_wait 1 s; ${measured.map((m) => m.name).join(' | ')}; the start-up minute left out`);
    await sleep(60_000);
    for (let w = 0; w < (MINUTES * 60) / WINDOW_S; w++) {
      const before = measured.map((m) => threads(m.pid));
      await sleep(WINDOW_S * 1000);
      console.log(`window ${w + 1} (load ${loadAverage()})`);
      measured.forEach((m, i) => {
        const after = threads(m.pid);
        const rows: string[] = [];
        let runs = 0;
        let ns = 0;
        let voluntary = 0;
        for (const [tid, a] of after) {
          const b = before[i]?.get(tid) ?? { comm: a.comm, ns: 0, runs: 0, voluntary: 0 };
          const dr = a.runs - b.runs;
          const dn = a.ns - b.ns;
          runs += dr;
          voluntary += a.voluntary - b.voluntary;
          ns += dn;
          if (dr > 0) rows.push(`${tid === String(m.pid) ? "main" : a.comm}:${(dr / WINDOW_S).toFixed(2)}/s ${(dn / 1e6 / WINDOW_S).toFixed(3)}ms/s`);
        }
        (figures[m.name] ??= { sleeps: [], cpu: [] }).sleeps.push(voluntary / WINDOW_S);
        figures[m.name]?.cpu.push((ns / 1e9 / WINDOW_S) * 100);
        console.log(`  ${m.name}: ${(voluntary / WINDOW_S).toFixed(2)} sleeps/s, ${(runs / WINDOW_S).toFixed(2)} runs/s, ${((ns / 1e9 / WINDOW_S) * 100).toFixed(3)} %  [${rows.join('  ')}]`);
      });
    }
  } finally {
    // SIGTERM first, so that an agent started with --cpu-prof writes its profile on the way out.
    for (const pid of pids) {
      try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
    }
    for (let waited = 0; waited < 10_000 && pids.some(alive); waited += 200) await sleep(200);
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      untrack(pid);
    }
    client.close();
    await Promise.all([cluster.stop(), etcd.stop()]);
  }
  const summary: Record<string, number | string> = { deployment: DEPLOYMENT, ttl_s: TTL_S, safety_margin_s: MARGIN_S, loop_wait_s: 1, window_s: WINDOW_S };
  for (const [name, f] of Object.entries(figures)) {
    const key = name.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, '');
    summary[`${key}_sleeps_per_s_median`] = Math.round(median(f.sleeps) * 100) / 100;
    summary[`${key}_cpu_pct_median`] = Math.round(median(f.cpu) * 1000) / 1000;
    console.log(`${name}: median ${summary[`${key}_sleeps_per_s_median`]} sleeps/s, ${summary[`${key}_cpu_pct_median`]} % of a core`);
  }
  await mkdir('bench/results', { recursive: true });
  await writeFile('bench/results/agent-wakes.json', `${JSON.stringify(summary, null, 2)}\n`);
}
await main();
