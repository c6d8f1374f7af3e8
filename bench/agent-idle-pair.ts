/**
 * An idle REPLICA agent's cost, paired: one test bed (3 etcd members, master john whose agent runs
 * from PAIR_MASTER_ROOT, default this repository) with one replica per build in PAIR_ROOTS (up to
 * three repository roots with a compiled dist/, comma-separated), all agents running at the same
 * time, so every swing of the machine (load, a virtual machine's dear wake-ups when idle) hits
 * every build alike. Each replica agent's scheduler time (`/proc/<pid>/task/* /schedstat`) is
 * printed minute by minute (PAIR_WINDOW_S, default 60) for PAIR_MINUTES (default 12); the first
 * window (start-up: V8 compiling) is left out of the medians.
 *
 *   PAIR_ROOTS=/tmp/main-copy,.,/tmp/main-copy PAIR_MINUTES=12 npx tsx bench/agent-idle-pair.ts
 *
 * Replicas are paul, george and ringo in PAIR_ROOTS' order: list a build twice to see what the
 * node itself adds. Writes bench/results/agent-idle-pair.json (flat: `<n>_<root>_cpu_pct_median`).
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Etcd3 } from 'etcd3';
import { putMasterRecord, writeAgentConfig } from '../test/fixtures/agents.js';
import { startCluster, type TestNode } from '../test/fixtures/cluster.js';
import { startEtcdCluster } from '../test/fixtures/etcd.js';
import { postgresUser } from '../test/fixtures/exec.js';
import { track, untrack } from '../test/fixtures/processes.js';
import { agentNodeFlagsOf } from './launcher-of.js';
import { cpuNs, loadAverage } from './proc-stats.js';

const ROOTS = (process.env['PAIR_ROOTS'] ?? '.').split(',').map((r) => r.trim()).filter((r) => r !== '');
if (ROOTS.length < 1 || ROOTS.length > 3) throw new Error(`PAIR_ROOTS: one to three roots, not ${ROOTS.length}`);
const MINUTES = Number(process.env['PAIR_MINUTES'] ?? 12);
const WINDOW_S = Number(process.env['PAIR_WINDOW_S'] ?? 60);
if (!(MINUTES > 0 && WINDOW_S >= 10)) throw new Error('PAIR_MINUTES > 0 and PAIR_WINDOW_S ≥ 10');
const PREFIX = '/handyrep/benchpair/';
const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

async function main(): Promise<void> {
  const [etcd, cluster] = await Promise.all([startEtcdCluster({ members: 3 }), startCluster({ nodes: 1 + ROOTS.length, ssh: false })]);
  const client = new Etcd3({ hosts: etcd.endpoints });
  const [john, ...replicas] = cluster.nodes as [TestNode, ...TestNode[]];
  const settings = { endpoints: etcd.endpoints, prefix: PREFIX, ttl: 5, agent: { loop_wait: 1, safety_margin: 2 }, sections: { passwords: { handyrep_db_pass: cluster.passwords.handyrep_db_pass } } };
  const pids: number[] = [];
  const run = (node: TestNode, root: string): number => {
    const user = postgresUser();
    const child = spawn(process.execPath, [...agentNodeFlagsOf(root), resolve(root, 'bin', 'handyrep.js'), 'agent', '--config', writeAgentConfig(cluster, node, settings), '--node', node.name], {
      uid: user.uid,
      gid: user.gid,
      cwd: resolve(root),
      env: { ...process.env, HOME: cluster.root, HANDYREP_SOURCE: '0' },
      stdio: 'ignore',
    });
    const pid = child.pid as number;
    track(pid, `agent ${node.name}`);
    pids.push(pid);
    return pid;
  };
  const figures: Record<string, number[]> = {};
  try {
    await putMasterRecord(client, PREFIX, 'john');
    run(john, process.env['PAIR_MASTER_ROOT'] ?? '.');
    await sleep(3000);
    const measured = replicas.map((node, i) => ({ label: `${node.name}_${ROOTS[i]}`, pid: run(node, ROOTS[i] as string) }));
    console.log(`agent idle, paired replicas: ${measured.map((m) => m.label).join(' | ')}; ${MINUTES} windows of ${WINDOW_S} s`);
    for (let w = 0; w < (MINUTES * 60) / WINDOW_S; w++) {
      const before = measured.map((m) => cpuNs(m.pid));
      await sleep(WINDOW_S * 1000);
      const pct = measured.map((m, i) => ((cpuNs(m.pid) - (before[i] as number)) / 1e9 / WINDOW_S) * 100);
      console.log(`  ${new Date().toISOString().slice(11, 19)} ${measured.map((m, i) => `${m.label} ${(pct[i] as number).toFixed(3)} %`).join('  ')}  (load ${loadAverage()})${w === 0 ? '  start-up, not counted' : ''}`);
      if (w > 0) measured.forEach((m, i) => (figures[m.label] ??= []).push(pct[i] as number));
    }
  } finally {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      untrack(pid);
    }
    client.close();
    await Promise.all([cluster.stop(), etcd.stop()]);
  }
  const summary = Object.fromEntries(Object.entries(figures).map(([label, v]) => [`${label.replace(/[^A-Za-z0-9]+/g, '_')}_cpu_pct_median`, Math.round(median(v) * 1000) / 1000]));
  for (const [key, value] of Object.entries(summary)) console.log(`${key}: ${value} %`);
  await mkdir('bench/results', { recursive: true });
  await writeFile('bench/results/agent-idle-pair.json', `${JSON.stringify({ window_s: WINDOW_S, windows_counted: Object.values(figures)[0]?.length ?? 0, ...summary }, null, 2)}\n`);
}

await main();
