/**
 * CPU per call of the lean etcd client, builds side by side: for each build root of
 * LEAN_COST_BUILDS (comma-separated, default this build), a Node process with the agent's V8 flags
 * renews a lease on the keep-alive stream and writes a member-record-sized value in the agent's
 * Txn (put + range) and reads an absent key (a unary call with nearly nothing in it), back to back
 * against one etcd member, and prints its own CPU time per call
 * (process.cpuUsage: the JavaScript, Node's http2 and the syscalls of a call, without the idle
 * wake-ups an agent's rounds pay besides). Builds alternate LEAN_COST_ROUNDS times.
 *
 *   HANDYREP_TEST_SUBNET=127.0.4 LEAN_COST_BUILDS=/tmp/old-build,. npx tsx bench/lean-call-cost.ts
 *
 * Writes bench/results/lean-call-cost.json (medians per build, flat). LEAN_COST_NODE_FLAGS: more node flags for the measured processes (a CPU profile: `--cpu-prof --cpu-prof-dir=DIR`).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Etcd3 } from 'etcd3';
import { startEtcdCluster } from '../test/fixtures/etcd.js';
import { agentNodeFlagsOf } from './launcher-of.js';

const BUILDS = (process.env['LEAN_COST_BUILDS'] ?? '.').split(',').filter((b) => b !== '');
const ROUNDS = Number(process.env['LEAN_COST_ROUNDS'] ?? 3);
const CALLS = Number(process.env['LEAN_COST_CALLS'] ?? 600);
/** Extra node flags for the measured processes (e.g. `--cpu-prof --cpu-prof-dir=/tmp/x`). */
const EXTRA_FLAGS = (process.env['LEAN_COST_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== '');

const CHILD = `
const [root, endpoint, lease, calls] = process.argv.slice(2);
const lean = (m) => import(root + '/dist/src/store/etcd/lean/' + m + '.js');
const { LeanEtcd } = await lean('client');
const { LeanKeepalive } = await lean('keepalive');
const { leanGet, leanPutThenGet } = await lean('kv');
const etcd = new LeanEtcd({ endpoints: [endpoint], tls: null, auth: null });
const keepalive = new LeanKeepalive(etcd);
const value = JSON.stringify({ name: 'john', postgres: { state: 'running', writable: true }, facts: { lsn: '0/3000060', timeline: 1 }, observed_at: new Date().toISOString(), pad: 'x'.repeat(600) });
const n = Number(calls);
const per = async (run) => {
  for (let i = 0; i < 50; i++) await run();
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await run();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
};
const ka = await per(() => keepalive.keepalive(lease, 2000));
const txn = await per(() => leanPutThenGet(etcd, 'write', { key: '/handyrep/leancost/members/john', value, lease }, '/handyrep/leancost/master', 2000));
const range = await per(() => leanGet(etcd, 'read', '/handyrep/leancost/absent', 2000));
console.log(JSON.stringify({ ka, txn, range }));
keepalive.close();
etcd.close();
`;

async function main(): Promise<void> {
  const etcd = await startEtcdCluster({ members: 1 });
  const client = new Etcd3({ hosts: etcd.endpoints });
  const child = join(tmpdir(), `lean-call-cost-${process.pid}.mjs`);
  writeFileSync(child, CHILD);
  try {
    const lease = (await client.leaseClient.leaseGrant({ TTL: 600 })).ID;
    const figures: Record<string, { ka: number[]; txn: number[]; range: number[] }> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const build of BUILDS) {
        const root = resolve(build);
        const out = spawnSync(process.execPath, [...agentNodeFlagsOf(root), ...EXTRA_FLAGS, child, root, etcd.endpoints[0] as string, lease, String(CALLS)], { encoding: 'utf8' });
        if (out.status !== 0) throw new Error(`${build}: ${out.stderr}`);
        const { ka, txn, range } = JSON.parse(out.stdout.trim().split('\n').pop() as string) as { ka: number; txn: number; range: number };
        const f = (figures[build] ??= { ka: [], txn: [], range: [] });
        f.ka.push(ka);
        f.txn.push(txn);
        f.range.push(range);
        console.log(`round ${round + 1} ${build}: keep-alive ${ka.toFixed(0)} µs, txn ${txn.toFixed(0)} µs, range of an absent key ${range.toFixed(0)} µs of CPU per call`);
      }
    }
    const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;
    const summary: Record<string, number> = { rounds: ROUNDS, calls_per_round: CALLS };
    for (const [build, f] of Object.entries(figures)) {
      console.log(`${build}: median keep-alive ${median(f.ka).toFixed(0)} µs, txn ${median(f.txn).toFixed(0)} µs, range ${median(f.range).toFixed(0)} µs per call`);
      const key = build.replace(/[^A-Za-z0-9]+/g, '_');
      summary[`${key}_keepalive_cpu_us_median`] = Math.round(median(f.ka));
      summary[`${key}_txn_cpu_us_median`] = Math.round(median(f.txn));
      summary[`${key}_range_cpu_us_median`] = Math.round(median(f.range));
    }
    await mkdir('bench/results', { recursive: true });
    await writeFile('bench/results/lean-call-cost.json', `${JSON.stringify(summary, null, 2)}\n`);
  } finally {
    client.close();
    await etcd.stop();
  }
}

await main();
