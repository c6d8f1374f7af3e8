/**
 * The demo as a user runs it (`npm start` = `handyrep demo`): the demo in its own process, the
 * CLI in others, configured only from what the demo printed. Three healthy servers; SIGKILL of the
 * master's postmaster; the CLI shows a new master within the detection time (poll every 1 s, 2
 * retries 0.5 s apart, the replicas' vantage check); the old master comes back as a replica
 * (auto_rejoin, pg_rewind); SIGINT stops everything: exit 0, no process, no listening port, no
 * lock file left behind.
 *
 * The demo uses 127.0.0.11-13:5432 (fixed): the test waits while another cluster holds them. Run
 * as root with a mkdtemp folder (0700, which postgres cannot enter), so it also covers the demo
 * moving PostgreSQL's data to a folder postgres can reach.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isListening as listening } from '../../src/demo/demo-cluster.js';
import { jsonOf, runCli } from '../fixtures/cli.js';
import { demoAddressesFree, demoPorts, processesMentioning, startDemo, type DemoRun } from '../fixtures/demo-process.js';
import { isAlive } from '../fixtures/proc.js';

const HOSTS = ['127.0.0.11', '127.0.0.12', '127.0.0.13'];
const NODES = ['john', 'paul', 'george'];

interface Status {
  cluster: { status: string };
  servers: Record<string, { role: string; enabled: boolean; status: string; status_message: string }>;
}

let run: DemoRun | null = null;
after(() => run?.cleanUp());

test('npm start: the demo cluster, a failover seen through the CLI, the old master rejoining, a clean Ctrl-C', { timeout: 300_000 }, async () => {
  // Nobody else may use the demo's fixed addresses (other test files use them too, one at a time).
  await demoAddressesFree(HOSTS, 120_000);
  const port = await demoPorts(1);
  const started = Date.now();
  const demo = startDemo(['--port', String(port)], 'demo-e2e');
  run = demo;
  const { pid, dir, exited } = demo;
  const waitFor = demo.waitFor.bind(demo);
  await waitFor('the demo\'s "watching" line', 180_000, async () => (/HandyRep is watching/.test(demo.output()) && /HANDYREP_PASSWORD=\S+/.test(demo.output()) ? true : null));
  const setupMs = Date.now() - started;
  const output = demo.output;
  const env = {
    HANDYREP_URL: /HANDYREP_URL=(\S+)/.exec(output())?.[1] ?? '',
    HANDYREP_PASSWORD: /HANDYREP_PASSWORD=(\S+)/.exec(output())?.[1] ?? '',
  };
  const nodeRoot = demo.nodeRoot();
  assert.equal(env.HANDYREP_URL, `http://127.0.0.1:${port}`);
  assert.ok(nodeRoot, output());
  assert.match(output(), /not keeping PostgreSQL's data in .*cannot enter/, 'a 0700 folder is not used for postgres-owned data');

  // Three healthy servers, as the CLI shows them.
  const healthy = await waitFor('three healthy servers', 60_000, async () => {
    const run = await runCli(['status', '--json'], env);
    if (run.code !== 0) return null;
    const status = jsonOf<Status>(run);
    const servers = Object.values(status.servers);
    return servers.length === 3 && servers.every((s) => s.status === 'healthy' && s.enabled) && status.cluster.status === 'healthy' ? status : null;
  });
  const oldMaster = Object.entries(healthy.servers).find(([, s]) => s.role === 'master')?.[0];
  assert.equal(oldMaster, 'john');
  const table = await runCli(['status'], env);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^NAME +ROLE +STATUS +LAG \(MB\) +TIMELINE +MESSAGE/m);
  for (const name of NODES) assert.match(table.stdout, new RegExp(`^${name} +(master|replica) +healthy `, 'm'), table.stdout);
  assert.match(table.stdout, /^cluster: healthy/m);

  // Crash the master: SIGKILL of its postmaster.
  const pidFile = join(nodeRoot, oldMaster, 'data', 'postmaster.pid');
  const postmaster = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  assert.ok(isAlive(postmaster), `postmaster ${postmaster} runs`);
  const killedAt = Date.now();
  process.kill(postmaster, 'SIGKILL');
  const promoted = await waitFor('a new master in the CLI', 30_000, async () => {
    const status = jsonOf<Status>(await runCli(['status', '--json'], env));
    const master = Object.entries(status.servers).find(([name, s]) => s.role === 'master' && s.enabled && name !== oldMaster && s.status === 'healthy');
    return master ? master[0] : null;
  });
  const failoverMs = Date.now() - killedAt;
  assert.ok(failoverMs <= 10_000, `new master ${promoted} seen after ${failoverMs} ms (limit 10 s)`);

  // auto_rejoin: the old master comes back as a replica of the new one.
  await waitFor(`${oldMaster} back as a healthy replica`, 60_000, async () => {
    const status = jsonOf<Status>(await runCli(['status', '--json'], env));
    const old = status.servers[oldMaster];
    return old?.role === 'replica' && old.enabled && old.status === 'healthy' ? true : null;
  });
  const rejoinMs = Date.now() - killedAt;
  const final = await runCli(['status'], env);
  assert.match(final.stdout, new RegExp(`^${promoted} +master +healthy `, 'm'), final.stdout);
  assert.match(final.stdout, new RegExp(`^${oldMaster} +replica +healthy `, 'm'), final.stdout);
  const history = await runCli(['history', '--json'], env);
  const records = jsonOf<{ kind: string; from: string; to: string; outcome: string }[]>(history);
  assert.ok(records.some((r) => r.kind === 'failover' && r.from === oldMaster && r.to === promoted && r.outcome === 'SUCCESS'), history.stdout);

  // Ctrl-C: exit 0, nothing left behind.
  const stoppedAt = Date.now();
  process.kill(pid, 'SIGINT');
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([exited, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), 90_000)))]);
  clearTimeout(timer);
  assert.equal(code, 0, `the demo exits 0 after SIGINT:\n${output()}`);
  const stopMs = Date.now() - stoppedAt;
  assert.match(output(), /handyrep demo: stopped/);
  assert.deepEqual(processesMentioning(nodeRoot), [], 'no PostgreSQL of the demo runs');
  assert.deepEqual(processesMentioning(dir), [], 'no handyrep process of the demo runs');
  for (const host of HOSTS) assert.equal(await listening(host, 5432), false, `${host}:5432 refuses`);
  assert.equal(await listening('127.0.0.1', port), false, 'the API port refuses');
  assert.equal(existsSync(join(dir, 'servers.save.lock')), false, 'no lock file');
  assert.equal(existsSync(join(dir, 'servers.save')), true, 'the state is kept for the next run');
  console.log(`demo e2e: set-up ${setupMs} ms, new master ${promoted} seen after ${failoverMs} ms, ${oldMaster} rejoined after ${rejoinMs} ms, stop ${stopMs} ms`);
});
