/**
 * restart_pg_ctl's `kill` (the last step of fencing) on real PostgreSQL: every process of a
 * frozen instance dies, so a COMMIT sent to a frozen backend is never acknowledged after SIGCONT;
 * a postmaster.pid naming anything but this instance's postmaster is refused and nothing is
 * signalled.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import type { HandyRepConfig } from '../../src/config/schema.js';
import { EventLog } from '../../src/log/event-log.js';
import { LocalShell } from '../../src/nodes/local-shell.js';
import { NodeShellPool } from '../../src/nodes/node-shells.js';
import { PgSqlClient } from '../../src/nodes/sql-client.js';
import { restartPgCtl } from '../../src/plugins/restart/restart_pg_ctl.js';
import type { ControlOutcome } from '../../src/plugins/types.js';
import { buildPluginContext } from '../../src/runtime/plugin-context.js';
import { serversFromConfig } from '../../src/runtime/state-sync.js';
import { startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { freeze, instancePids, thaw } from '../fixtures/faults.js';
import { removeStaleLocks } from '../fixtures/pidfile.js';
import { openTransaction } from '../fixtures/open-transaction.js';
import { isAlive } from '../fixtures/proc.js';
import { track, untrack } from '../fixtures/processes.js';

let cluster: TestCluster;
const shells = new NodeShellPool();

before(async () => {
  cluster = await startCluster({ nodes: 2 });
});

after(async () => {
  await shells.closeAll();
  await cluster?.stop();
});

/** Runs the plugin's kill on a node, through ssh (the cluster's default) or a local shell. */
async function kill(node: TestNode, controlMethod: 'ssh' | 'local'): Promise<ControlOutcome> {
  const config: HandyRepConfig = parseConfig(
    stringify(cluster.config({ server_defaults: { control_method: controlMethod, local_user: 'postgres' } })),
    'fence-kill test',
  );
  const ctx = buildPluginContext({
    config,
    configDir: cluster.root,
    log: new EventLog({ file: null, tailSize: 100, verbose: false }),
    sql: new PgSqlClient(),
    shells,
    controllerShell: new LocalShell(),
  });
  const record = serversFromConfig(config, new Date().toISOString())[node.name];
  assert.ok(record);
  return restartPgCtl.control(ctx, { ...record, name: node.name }, 'kill');
}

/** Live (non-zombie) processes whose working directory is the node's data folder, from /proc. */
function processesIn(dataDir: string): number[] {
  const wanted = realpathSync(dataDir);
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (isAlive(Number(entry)) && realpathSync(`/proc/${entry}/cwd`) === wanted) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The settled outcome, or 'no answer' after ms. */
function within(outcome: Promise<string>, ms: number): Promise<string> {
  return Promise.race([outcome, new Promise<string>((resolve) => setTimeout(() => resolve('no answer'), ms))]);
}

test('kill of a frozen master: no process of the instance survives, a COMMIT sent while frozen is never acknowledged', async () => {
  const john = cluster.master;
  await cluster.psql(john, 'CREATE TABLE IF NOT EXISTS fenced_writes (id int)');
  const tx = await openTransaction(john, 'fenced_writes', 1);
  try {
    const before = instancePids(john);
    assert.ok(before.length >= 5, `postmaster and its children: ${before.join(' ')}`);
    freeze(john);
    const commit = tx.commit();
    const killed = await kill(john, 'ssh');
    assert.equal(killed.ok, true, killed.details);
    assert.match(killed.details, /killed every process/);
    assert.deepEqual(before.filter(isAlive), [], 'every process seen before the freeze is gone');
    assert.deepEqual(processesIn(john.dataDir), [], 'no process works in the data folder any more');
    thaw(john);
    const outcome = await within(commit, 3000);
    assert.match(outcome, /^failed/, `the COMMIT must never be acknowledged: ${outcome}`);
  } finally {
    await tx.close();
  }
  removeStaleLocks(john.dataDir, john.socketDir, john.port);
  await john.start();
  assert.equal(await cluster.psql(john, 'SELECT count(*) FROM fenced_writes'), '0', 'the unacknowledged insert is not there');
});

test('kill refuses a postmaster.pid naming another instance, a foreign process or pid 1, and signals nothing', async () => {
  const [john, paul] = cluster.nodes as [TestNode, TestNode];
  await john.stop('immediate');
  const paulPid = paul.postmasterPid();
  assert.ok(paulPid !== null);
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  const sleeperPid = sleeper.pid as number;
  track(sleeperPid, 'foreign sleep');
  const pidFile = join(john.dataDir, 'postmaster.pid');
  try {
    for (const [what, pid] of [['another instance\'s postmaster', paulPid], ['a foreign process', sleeperPid], ['pid 1', 1]] as const) {
      writeFileSync(pidFile, `${pid}\n${john.dataDir}\n`);
      const outcome = await kill(john, 'local');
      assert.equal(outcome.ok, false, `${what}: ${outcome.details}`);
      assert.match(outcome.details, /refused/, what);
      assert.ok(isAlive(pid), `${what} (pid ${pid}) is alive`);
    }
    assert.equal(await cluster.psql(paul, 'SELECT 1'), '1', 'paul still answers');
    assert.equal(readFileSync(pidFile, 'utf8').split('\n')[0], '1', 'postmaster.pid left as it was');
    sleeper.kill('SIGKILL');
    await new Promise((resolve) => sleeper.once('exit', resolve));
    writeFileSync(pidFile, `${sleeperPid}\n`);
    const stale = await kill(john, 'local');
    assert.equal(stale.ok, true, stale.details);
    assert.match(stale.details, /not running/);
  } finally {
    sleeper.kill('SIGKILL');
    untrack(sleeperPid);
    rmSync(pidFile, { force: true });
  }
});

test('kill after the postmaster alone was SIGKILLed: the frozen backends left behind are found by their data folder and killed', async () => {
  const john = cluster.master;
  removeStaleLocks(john.dataDir, john.socketDir, john.port);
  await john.start();
  await cluster.psql(john, 'CREATE TABLE IF NOT EXISTS fenced_writes (id int)');
  const tx = await openTransaction(john, 'fenced_writes', 2);
  try {
    const postmaster = john.postmasterPid();
    assert.ok(postmaster !== null);
    const children = instancePids(john).filter((p) => p !== postmaster);
    freeze(john);
    const commit = tx.commit();
    process.kill(postmaster, 'SIGKILL'); // what the old group kill amounted to
    untrack(postmaster);
    assert.ok(children.some(isAlive), 'backends outlive their postmaster');
    const killed = await kill(john, 'ssh');
    assert.equal(killed.ok, true, killed.details);
    assert.match(killed.details, /killed leftover processes/);
    assert.deepEqual(children.filter(isAlive), [], 'every orphaned child is gone');
    assert.deepEqual(processesIn(john.dataDir), [], 'no process works in the data folder any more');
    thaw(john);
    assert.match(await within(commit, 3000), /^failed/, 'the COMMIT is never acknowledged');
  } finally {
    await tx.close();
  }
});
