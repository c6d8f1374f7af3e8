/**
 * bench:agent's failover figures in the `ha` deployment (called by bench/agent.ts): real etcd
 * (3 members, shared), per run a fresh 3-node cluster (master john) with a node agent on every
 * node (compiled, as the postgres OS user) and one controller daemon leading through etcd with
 * failover.unreachable_master: agent_lease. Three faults, `runs` times each:
 *   - host loss: john's agent and every process of its PostgreSQL SIGKILLed together, and its
 *     address DROPped (nothing there answers) → ms until another node is writable (the lease must
 *     expire first: ttl plus the controller's checks);
 *   - postmaster crash: john's postmaster SIGKILLed, its agent alive (it releases the lease at
 *     once) → ms until another node is writable;
 *   - isolation: john's address DROPped for everyone and its agent cut off etcd, a client on its
 *     unix socket writing every 20 ms → the last acknowledged write after the agent's last lease
 *     renewal (its fence log line), then the failover.
 * Over every run: the bed's 50 ms sampler of writable servers (split_brain_samples) and the write
 * probe of bench:failover (TCP, whichever node is writable): acknowledged rows missing on the new
 * master (lost_acked_rows).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { isWritable, startAgent, type RunningAgent } from '../test/fixtures/agents.js';
import { closeBed, openBed, writableNodes, type Bed } from '../test/fixtures/chaos.js';
import type { TestNode } from '../test/fixtures/cluster.js';
import { etcdClient, leaders, prefixOf, readKeyJson, startController, TTL_SECONDS, type Controller } from '../test/fixtures/etcd-controllers.js';
import type { EtcdCluster } from '../test/fixtures/etcd.js';
import { postgresUser } from '../test/fixtures/exec.js';
import { crash } from '../test/fixtures/faults.js';
import { dropHost, undropHost } from '../test/fixtures/iptables.js';
import { WriteProbe } from './write-probe.js';

export type WindowKind = 'host_loss' | 'crash' | 'isolation';

/** The controller's checks for these runs (printed with the figures). */
export const WINDOW_FAILOVER_SETTINGS = { unreachable_master: 'agent_lease', poll_interval: 0.5, fail_retries: 1, fail_retry_interval: 0.25 } as const;
export const WINDOW_AGENT_SETTINGS = { loop_wait: 1, safety_margin: 2 } as const;

export interface WindowRun {
  kind: WindowKind;
  /** Fault → another node writable, ms; NaN when no failover happened within the wait. */
  windowMs: number;
  splitBrainSamples: number;
  lostAckedRows: number;
  /** isolation only: last acknowledged write on john's socket − the agent's last lease renewal, ms. */
  ackedAfterRenewalMs: number | null;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, stepMs = 50): Promise<void> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

/** The agent's "last master lease renewal sent at N ms since the epoch" from its fence log line. */
function lastRenewalEpochMs(agent: RunningAgent): number | null {
  const matches = [...agent.output().matchAll(/last master lease renewal sent at (\d+) ms since the epoch/g)];
  const last = matches.at(-1);
  return last ? Number(last[1]) : null;
}

/** A client on john's unix socket (unaffected by iptables) writing every 20 ms; the last acknowledgement's epoch ms. */
function socketWriter(node: TestNode): { stop: () => Promise<number> } {
  let lastAck = 0;
  let writing = true;
  const loop = (async () => {
    const client = new pg.Client({ host: node.socketDir, port: node.port, user: 'postgres', database: 'postgres' });
    client.on('error', () => undefined);
    await client.connect();
    try {
      while (writing) {
        await client.query('INSERT INTO isolated_side DEFAULT VALUES');
        lastAck = Date.now();
        await sleep(20);
      }
    } catch {
      // the fence ended the session
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return {
    stop: async () => {
      writing = false;
      await loop.catch(() => undefined);
      return lastAck;
    },
  };
}

async function lostRows(node: TestNode, acked: readonly number[]): Promise<number> {
  const client = new pg.Client({ host: node.socketDir, port: node.port, user: 'postgres', database: 'postgres' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const present = new Set((await client.query<{ n: number }>('SELECT n FROM probe')).rows.map((r) => r.n));
    return acked.filter((n) => !present.has(n)).length;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function oneWindowRun(kind: WindowKind, etcd: EtcdCluster): Promise<WindowRun> {
  const bed: Bed = await openBed({ label: `bench:agent ${kind}`, expect: 'failover', open: false });
  let controller: Controller | null = null;
  const agents: RunningAgent[] = [];
  const john = bed.node('john');
  try {
    controller = await startController(bed, etcd, 'ctl-a', { ...WINDOW_FAILOVER_SETTINGS });
    const started = controller;
    await waitFor('the controller leads', async () => (await leaders([started])).length === 1, 30_000, 250);
    const client = etcdClient(etcd);
    try {
      await waitFor('the master key names john', async () => (await readKeyJson(client, `${prefixOf(bed)}master`))?.['name'] === 'john', 30_000, 250);
      for (const node of bed.cluster.nodes) agents.push(startAgent(bed.cluster, node, { endpoints: etcd.endpoints, prefix: prefixOf(bed), ttl: TTL_SECONDS, agent: { ...WINDOW_AGENT_SETTINGS } }, true));
      await waitFor("john's agent holds the master lease", async () => (await client.get(`${prefixOf(bed)}master_lease/john`).string()) !== null, 30_000, 100);
    } finally {
      client.close();
    }
    await bed.cluster.psql(john, 'CREATE TABLE probe (n int PRIMARY KEY, at timestamptz DEFAULT now()); CREATE TABLE isolated_side (id serial PRIMARY KEY)');
    // The controller must see the lease held while john is healthy (agent_lease's proof), and the probe rows flow.
    const probe = new WriteProbe(bed.cluster.nodes.map((n) => ({ host: n.host, port: n.port })), 'probe');
    probe.start();
    await sleep(3000 + Math.random() * 1000);
    const writer = kind === 'isolation' ? socketWriter(john) : null;
    if (writer) await sleep(500);
    const faultAt = performance.now();
    const johnAgent = agents[0] as RunningAgent;
    switch (kind) {
      case 'host_loss':
        dropHost(john.host);
        await Promise.all([johnAgent.stop('SIGKILL'), crash(john)]);
        break;
      case 'crash':
        process.kill(john.postmasterPid() as number, 'SIGKILL');
        break;
      case 'isolation':
        dropHost(john.host);
        for (const member of etcd.members) dropHost(member.host, postgresUser().uid);
        break;
    }
    let ackedAfterRenewalMs: number | null = null;
    if (writer) {
      await waitFor('john not writable', async () => !(await isWritable(john)), TTL_SECONDS * 1000 + 5000);
      const lastAck = await writer.stop();
      await sleep(200); // the fence log line
      const renewal = lastRenewalEpochMs(johnAgent);
      ackedAfterRenewalMs = renewal === null || lastAck === 0 ? Number.NaN : lastAck - renewal;
    }
    let windowMs = Number.NaN;
    try {
      await waitFor('another node writable', async () => (await writableNodes(bed.cluster)).some((n) => n !== 'john'), 60_000);
      windowMs = performance.now() - faultAt;
    } catch {
      // reported as NaN: no failover within the wait
    }
    await sleep(500);
    const result = await probe.stop();
    const newMaster = (await writableNodes(bed.cluster)).find((n) => n !== 'john');
    const lost = newMaster === undefined ? 0 : await lostRows(bed.node(newMaster), result.acked.map((a) => a.n));
    const report = await bed.sampler.stop();
    // BENCH_AGENT_STORY=1: the controller's log of each run (where the window went).
    if (process.env['BENCH_AGENT_STORY']) console.log(`fault at ${new Date(Date.now() - (performance.now() - faultAt)).toISOString()}\n${readFileSync(join(bed.cluster.root, 'ctl-a.log'), 'utf8').slice(-5000)}\n--- agent john:\n${johnAgent.output().slice(-2000)}`);
    return { kind, windowMs, splitBrainSamples: report.split_brain_samples, lostAckedRows: lost, ackedAfterRenewalMs };
  } catch (err) {
    const story = `--- controller:\n${controller?.daemon.stderr().slice(-2000) ?? ''}\n--- agent john:\n${agents[0]?.output().slice(-2000) ?? ''}`;
    throw new Error(`${(err as Error).message}\n${story}`, { cause: err });
  } finally {
    undropHost(john.host);
    for (const member of etcd.members) undropHost(member.host);
    await Promise.all(agents.map((a) => a.stop('SIGKILL')));
    await controller?.daemon.stop('SIGTERM').catch(() => undefined);
    await closeBed(bed).catch(() => undefined);
  }
}

const median = (values: readonly number[]): number => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : (sorted[Math.floor(sorted.length / 2)] as number);
};

/** The flat figures of agent.json from every run. */
export function windowFigures(runs: readonly WindowRun[]): Record<string, number> {
  const of = (kind: WindowKind): WindowRun[] => runs.filter((r) => r.kind === kind);
  const round = (n: number): number => Math.round(n);
  const after = of('isolation').map((r) => r.ackedAfterRenewalMs ?? Number.NaN);
  return {
    host_loss_window_ms_median: round(median(of('host_loss').map((r) => r.windowMs))),
    host_loss_window_ms_max: round(Math.max(...of('host_loss').map((r) => r.windowMs))),
    host_loss_runs: of('host_loss').length,
    postmaster_crash_window_ms_median: round(median(of('crash').map((r) => r.windowMs))),
    postmaster_crash_window_ms_max: round(Math.max(...of('crash').map((r) => r.windowMs))),
    postmaster_crash_runs: of('crash').length,
    isolated_master_acked_after_ms_max: round(after.some((v) => !Number.isFinite(v)) ? Number.NaN : Math.max(...after)),
    isolated_master_window_ms_median: round(median(of('isolation').map((r) => r.windowMs))),
    isolation_runs: of('isolation').length,
    split_brain_samples: runs.reduce((sum, r) => sum + r.splitBrainSamples, 0),
    lost_acked_rows: runs.reduce((sum, r) => sum + r.lostAckedRows, 0),
    failovers_missing: runs.filter((r) => !Number.isFinite(r.windowMs)).length,
  };
}

/** `runs` of each fault (of `kinds`, default all), in turn (host loss, crash, isolation), lines to `log`. */
export async function measureAgentWindows(etcd: EtcdCluster, runs: number, log: (line: string) => void, kinds: readonly WindowKind[] = ['host_loss', 'crash', 'isolation']): Promise<Record<string, number>> {
  const all: WindowRun[] = [];
  for (let i = 0; i < runs; i++) {
    for (const kind of kinds) {
      const run = await oneWindowRun(kind, etcd);
      all.push(run);
      const extra = run.ackedAfterRenewalMs === null ? '' : `, last write acknowledged ${Math.round(run.ackedAfterRenewalMs)} ms after the last lease renewal`;
      log(`  ${kind} run ${i + 1}: another node writable after ${Math.round(run.windowMs)} ms${extra}; split-brain samples ${run.splitBrainSamples}, lost acknowledged rows ${run.lostAckedRows}`);
    }
  }
  return windowFigures(all);
}
