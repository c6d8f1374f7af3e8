/**
 * bench:agent, the agents-only part (design §9 rule 6): no controller, deployment `agents`, real
 * etcd (3 members), three real PostgreSQL nodes each with its agent (sources through tsx, as the
 * integration tests run them), loop_wait 1 s, etcd.ttl 5 s, safety_margin 2 s. Each run loses the
 * master's host (agent and PostgreSQL SIGKILLed together, a writer every 20 ms) and measures the
 * ms until the elected replica is writable (test/fixtures/agents-election.ts, shared with the
 * integration test); the old master rejoins as a standby before the next run.
 *
 * Merges its fields into bench/results/agent.json (written first by bench/agent.ts, which calls
 * this after its own cluster is gone); `npx tsx bench/agent-election.ts` runs it alone.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { putMasterRecord, agentStatus, waitUntil } from '../test/fixtures/agents.js';
import { electionBed, hostLossRun, startBedAgent, type ElectionRun } from '../test/fixtures/agents-election.js';
import { startCluster, type TestNode } from '../test/fixtures/cluster.js';
import { startEtcdCluster } from '../test/fixtures/etcd.js';

const TTL_S = 5;
const MARGIN_S = 2;
const LOOP_S = 1;
const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const PREFIX = '/handyrep/benchelect/';
const RESULTS = 'bench/results/agent.json';

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

export async function agentsOnlyBench(): Promise<void> {
  console.log(`bench:agent (agents only) — no controller, etcd.ttl ${TTL_S} s, safety_margin ${MARGIN_S} s, loop_wait ${LOOP_S} s, ${RUNS} runs; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  const [etcd, cluster] = await Promise.all([startEtcdCluster({ members: 3 }), startCluster({ nodes: 3, names: ['john', 'paul', 'ringo'], ssh: false })]);
  const bed = electionBed(cluster, etcd.endpoints, PREFIX, TTL_S, { loop_wait: LOOP_S, safety_margin: MARGIN_S });
  const runs: ElectionRun[] = [];
  try {
    await putMasterRecord(bed.client, PREFIX, 'john');
    for (const node of cluster.nodes) startBedAgent(bed, node);
    await waitUntil('john /primary', async () => (await agentStatus(cluster.nodes[0] as TestNode, '/primary')) === 200, 30_000);
    for (let run = 1; run <= RUNS; run++) {
      const r = await hostLossRun(bed, run);
      runs.push(r);
      console.log(`  run ${run}: ${r.oldMaster} lost → ${r.winner ?? 'nobody'} writable after ${Math.round(r.windowMs)} ms (expected ${r.expected}); split-brain samples ${r.splitBrainSamples}/${r.samples}; acked ${r.acked}, lost ${r.lostAckedRows}`);
      // The next run needs the master lease of the new master seen held by every agent.
      await waitUntil('new master /primary', async () => (await agentStatus(cluster.nodes.find((n) => n.name === r.winner) as TestNode, '/primary')) === 200, 30_000);
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  } finally {
    await Promise.all([...bed.agents.values()].map((a) => a.stop('SIGKILL')));
    bed.client.close();
    await Promise.all([cluster.stop(), etcd.stop()]);
  }
  const windows = runs.map((r) => r.windowMs);
  const fields = {
    agents_only_window_ms_median: Math.round(median(windows)),
    agents_only_window_ms_max: Math.round(Math.max(...windows)),
    agents_only_runs: runs.length,
    agents_only_expected_winner_runs: runs.filter((r) => r.winner === r.expected).length,
    agents_only_split_brain_samples: runs.reduce((sum, r) => sum + r.splitBrainSamples, 0),
    agents_only_lost_acked_rows: runs.reduce((sum, r) => sum + r.lostAckedRows, 0),
  };
  const target = TTL_S * 1000 + 2000;
  console.log(`  agents-only window median ${fields.agents_only_window_ms_median} ms (host loss target ≤ ttl + 2 s = ${target} ms) -> ${fields.agents_only_window_ms_median <= target ? 'met' : 'MISSED'}`);
  const existing: Record<string, unknown> = existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as Record<string, unknown>) : {};
  await mkdir('bench/results', { recursive: true });
  await writeFile(RESULTS, `${JSON.stringify({ ...existing, ...fields }, null, 2)}\n`);
  if (fields.agents_only_split_brain_samples > 0 || fields.agents_only_lost_acked_rows > 0 || fields.agents_only_expected_winner_runs < runs.length) process.exitCode = 1;
}

if (import.meta.url === `file://${process.argv[1]}`) await agentsOnlyBench();
