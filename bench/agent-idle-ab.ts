/**
 * An idle agent's cost, A/B: the same test bed (3 etcd members, master john and replica paul, the
 * other node's agent running from this repository) and the measured agent (the master's; the
 * replica's with AB_MEASURE=replica) run in turn from several builds (each a
 * repository root with a compiled dist/), alternately, so the builds share the machine's load.
 * Each turn: the agent starts, /primary answers, `AB_SETTLE_S` (default 12 s: start-up garbage and
 * the previous agent's lease gone) pass, then its CPU time and max RSS are taken over
 * `AB_WINDOW_S` (default 30 s). The agent is SIGKILLed after its window (PostgreSQL stays up, as
 * after an agent crash; the next agent adopts it).
 *
 *   AB_ROOTS=/tmp/main-copy,. AB_ROUNDS=3 npx tsx bench/agent-idle-ab.ts
 *
 * AB_NODE_FLAGS='--trace-gc …': extra Node flags for the measured agent (e.g. to see its garbage collections
 * with AB_LOG_DIR). A build given as `<root>#<flags>` (flags separated by `+`) runs with those flags
 * too, so one root can be compared with itself under other V8 flags: AB_ROOTS='.,.#--max-lazy'.
 * AB_PROFILE_DIR=<dir>: each agent runs with --cpu-prof into that folder, stopped with SIGINT
 * instead (a clean stop, which also stops john's PostgreSQL: use it for one round only).
 * Writes bench/results/agent-idle-ab.json (per build: CPU % of a core and RSS MB per round).
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Etcd3 } from 'etcd3';
import { agentStatus, isWritable, putMasterRecord, startAgent, waitUntil, writeAgentConfig } from '../test/fixtures/agents.js';
import { startCluster, type TestNode } from '../test/fixtures/cluster.js';
import { startEtcdCluster } from '../test/fixtures/etcd.js';
import { postgresUser } from '../test/fixtures/exec.js';
import { track, untrack } from '../test/fixtures/processes.js';
import { agentNodeFlagsOf } from './launcher-of.js';
import { cpuNs, cpuTicks, CLOCK_TICKS, loadAverage, rssMb } from './proc-stats.js';

const BUILDS = (process.env['AB_ROOTS'] ?? '.').split(',').map((build) => {
  const [root = '.', flags = ''] = build.split('#');
  return { label: build, root: resolve(root), flags: flags.split('+').filter((flag) => flag !== '') };
});
const ROUNDS = Number(process.env['AB_ROUNDS'] ?? 3);
const WINDOW_S = Number(process.env['AB_WINDOW_S'] ?? 30);
const SETTLE_S = Number(process.env['AB_SETTLE_S'] ?? 12);
const PROFILE_DIR = process.env['AB_PROFILE_DIR'] ?? null;
const NODE_FLAGS = (process.env['AB_NODE_FLAGS'] ?? '').split(' ').filter((flag) => flag !== '');
const PREFIX = '/handyrep/benchidle/';
const MEASURE = process.env['AB_MEASURE'] ?? 'master';
if (MEASURE !== 'master' && MEASURE !== 'replica') throw new Error(`AB_MEASURE: master or replica, not ${JSON.stringify(MEASURE)}`);
const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

async function main(): Promise<void> {
  console.log(`agent idle A/B: ${BUILDS.map((b) => b.label).join(' vs ')}, ${ROUNDS} rounds of ${WINDOW_S} s; load average ${loadAverage()}`);
  const [etcd, cluster] = await Promise.all([startEtcdCluster({ members: 3 }), startCluster({ nodes: 2, ssh: false })]);
  const client = new Etcd3({ hosts: etcd.endpoints });
  const [john, paul] = cluster.nodes as [TestNode, TestNode];
  // The password as deployed (docs/node-agent.md): without it a replica's probe of the master fails
  // its authentication and reconnects every round, which is not an idle agent's cost.
  const settings = { endpoints: etcd.endpoints, prefix: PREFIX, ttl: 5, agent: { loop_wait: 1, safety_margin: 2 }, sections: { passwords: { handyrep_db_pass: cluster.passwords.handyrep_db_pass } } };
  // The measured node's agent comes and goes; the other one's runs throughout.
  const [measured, other, ready] = MEASURE === 'master' ? [john, paul, '/primary'] : [paul, john, '/replica'];
  const steady = startAgent(cluster, other, settings, true);
  const figures: Record<string, { cpu_pct: number[]; cpu_sched_pct: number[]; rss_mb: number[]; load_1m: number[] }> = {};
  try {
    await putMasterRecord(client, PREFIX, 'john');
    const file = writeAgentConfig(cluster, measured, settings);
    for (let round = 0; round < ROUNDS; round++) {
      for (const { label, root, flags } of BUILDS) {
        if (MEASURE === 'master' && !(await isWritable(john))) await john.start();
        const user = postgresUser();
        const profile = PROFILE_DIR === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${resolve(PROFILE_DIR)}`, '--cpu-prof-interval=200'];
        const child = spawn(process.execPath, [...agentNodeFlagsOf(root), ...NODE_FLAGS, ...flags, ...profile, resolve(root, 'bin', 'handyrep.js'), 'agent', '--config', file, '--node', measured.name], {
          uid: user.uid,
          gid: user.gid,
          cwd: root,
          env: { ...process.env, HOME: cluster.root, HANDYREP_SOURCE: '0' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const pid = child.pid as number;
        track(pid, `agent ${measured.name}`);
        console.log(`  round ${round + 1} ${label}: agent pid ${pid}`);
        let out = '';
        child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
        const exited = new Promise<void>((done) => child.once('exit', () => done()));
        try {
          await waitUntil(`${measured.name} ${ready}`, async () => (await agentStatus(measured, ready)) === 200, 30_000);
          await sleep(SETTLE_S * 1000);
          const before = cpuTicks(pid);
          const beforeNs = cpuNs(pid);
          const started = performance.now();
          let rss = 0;
          for (let i = 0; i < WINDOW_S; i++) {
            await sleep(1000);
            rss = Math.max(rss, rssMb(pid));
          }
          const elapsedS = (performance.now() - started) / 1000;
          const cpu = ((cpuTicks(pid) - before) / CLOCK_TICKS / elapsedS) * 100;
          const exact = ((cpuNs(pid) - beforeNs) / 1e9 / elapsedS) * 100;
          const load = loadAverage();
          const entry = (figures[label] ??= { cpu_pct: [], cpu_sched_pct: [], rss_mb: [], load_1m: [] });
          entry.cpu_pct.push(Math.round(cpu * 100) / 100);
          entry.cpu_sched_pct.push(Math.round(exact * 1000) / 1000);
          entry.rss_mb.push(Math.round(rss * 10) / 10);
          entry.load_1m.push(Number(load.split(' ')[0]));
          console.log(`  round ${round + 1} ${label}: ${cpu.toFixed(2)} % of a core (scheduler: ${exact.toFixed(3)} %), RSS max ${rss.toFixed(1)} MB (load average ${load})`);
        } catch (err) {
          console.log(`  round ${round + 1} ${label}: failed: ${String(err)}\n${out.slice(-3000)}`);
          throw err;
        } finally {
          if (process.env['AB_LOG_DIR']) writeFileSync(`${process.env['AB_LOG_DIR']}/agent-${round + 1}-${label.replace(/[^A-Za-z0-9.=-]+/g, '_')}.log`, out);
          child.kill(PROFILE_DIR === null ? 'SIGKILL' : 'SIGINT');
          await exited;
          untrack(pid);
        }
      }
    }
  } finally {
    await steady.stop('SIGKILL');
    client.close();
    await Promise.all([cluster.stop(), etcd.stop()]);
  }
  const summary = Object.fromEntries(Object.entries(figures).map(([root, f]) => [root, { ...f, cpu_pct_median: median(f.cpu_pct), cpu_sched_pct_median: median(f.cpu_sched_pct), rss_mb_max: Math.max(...f.rss_mb) }]));
  for (const [root, f] of Object.entries(summary)) console.log(`${root}: CPU median ${f.cpu_pct_median} % (${f.cpu_pct.join(', ')}; scheduler ${f.cpu_sched_pct_median} %: ${f.cpu_sched_pct.join(', ')}), RSS max ${f.rss_mb_max} MB`);
  await mkdir('bench/results', { recursive: true });
  await writeFile('bench/results/agent-idle-ab.json', `${JSON.stringify({ measured: MEASURE, window_s: WINDOW_S, rounds: ROUNDS, builds: summary }, null, 2)}\n`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

await main();
