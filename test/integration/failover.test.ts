/**
 * Switchover, failover, promotion refusals, dry runs and rejoin on a real 3-node cluster.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { HandyRep } from '../../src/api/handyrep.js';
import { startCluster, type TestCluster, type TestNode } from '../fixtures/cluster.js';
import { crash, healAll } from '../fixtures/faults.js';
import { writeConfig } from '../fixtures/handyrep-config.js';
import { FAILOVER_TEST_SETTINGS, POSTGRES_FAST_RETRY, waitFor } from '../fixtures/failover-settings.js';
import { forwardPath } from '../../src/engine/failover-steps.js';
import type { FailoverRecord } from '../../src/model/failover-record.js';

/** The executor ran exactly the plan the dry run showed (and the plan it recorded). */
function assertRanThePlan(record: FailoverRecord | undefined, dryRunSteps: readonly string[] | undefined): void {
  assert.ok(record && dryRunSteps, 'a history record and a dry-run plan');
  assert.deepEqual(forwardPath(record.steps), [...dryRunSteps], `executed: ${JSON.stringify(record.steps.map((s) => [s.name, s.server, s.outcome]))}`);
  assert.deepEqual(record.plan, [...dryRunSteps]);
  assert.equal(record.off_plan, undefined);
}

let cluster: TestCluster;
let hr: HandyRep;

before(async () => {
  cluster = await startCluster({ nodes: 3, postgresConf: POSTGRES_FAST_RETRY });
  const path = await writeConfig(cluster, { failover: { ...FAILOVER_TEST_SETTINGS, auto_rejoin: true } });
  hr = await HandyRep.open(path);
  await hr.init_handyrep_db();
  assert.equal((await hr.verify_all()).result, 'SUCCESS');
});

after(async () => {
  await hr?.close();
  await healAll();
  await cluster?.stop();
});

function node(name: string): TestNode {
  const n = cluster.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
}

async function roles(): Promise<Record<string, string>> {
  const info = await hr.get_server_info();
  return Object.fromEntries(Object.entries(info).map(([n, s]) => [n, `${s.role}${s.enabled ? '' : ' (disabled)'}${s.fenced ? ' (fenced)' : ''}`]));
}

async function writableNodes(): Promise<string[]> {
  const out: string[] = [];
  for (const n of cluster.nodes) {
    const r = await cluster.psql(n, 'SELECT NOT pg_is_in_recovery()').catch(() => 'x');
    if (r.trim() === 't') out.push(n.name);
  }
  return out;
}

test('dry run returns the plan and changes nothing', async () => {
  const rd = await hr.manual_failover('paul', null, true);
  assert.equal(rd.result, 'SUCCESS', rd.details);
  assert.equal(rd.plan?.kind, 'switchover');
  assert.equal(rd.plan?.to, 'paul');
  assert.deepEqual(await writableNodes(), ['john']);
});

test('promote is refused while the master runs', async () => {
  const rd = await hr.promote('paul');
  assert.equal(rd.result, 'FAIL');
  assert.equal(rd.reason_code, 'master_running');
  assert.deepEqual(await writableNodes(), ['john']);
});

test('planned switchover john → paul: no write lost, john rejoins as a replica', async () => {
  await cluster.psql(node('john'), 'CREATE TABLE sw (n int primary key)');
  await cluster.psql(node('john'), 'INSERT INTO sw SELECT generate_series(1, 1000)');
  const dry = await hr.manual_failover('paul', true, true);
  assert.equal(dry.plan?.kind, 'switchover');
  const rd = await hr.manual_failover('paul', true);
  assert.equal(rd.result, 'SUCCESS', rd.details);
  assert.deepEqual(await writableNodes(), ['paul']);
  assert.equal(await hr.get_master_name(), 'paul');
  assert.equal((await cluster.psql(node('paul'), 'SELECT count(*) FROM sw')).trim(), '1000');
  const r = await roles();
  assert.equal(r.john, 'replica');
  assert.equal(r.george, 'replica');
  await waitFor(async () => (await hr.verify_all()).result === 'SUCCESS' && (await hr.get_cluster_status()).status === 'healthy', 'healthy after switchover');
  const history = await hr.failover_history(1);
  assert.equal(history[0]?.kind, 'switchover');
  assert.equal(history[0]?.outcome, 'SUCCESS');
  assert.ok(history[0]?.steps.some((s) => s.name === 'wait_replay' && s.outcome === 'ok'));
  assertRanThePlan(history[0], dry.plan?.steps);
});

test('master SIGKILLed: failover_check fails over, fences and rejoins the old master', async () => {
  await crash(node('paul'));
  const dry = await hr.manual_failover(null, true, true);
  assert.equal(dry.plan?.kind, 'failover', dry.details);
  assert.ok(dry.plan?.steps.includes('rejoin paul'), JSON.stringify(dry.plan?.steps));
  // The dry run also says what the automatic check would decide (the same decision function).
  assert.ok(dry.automatic && dry.automatic.reason_code.length > 0, dry.details);
  assert.ok(['failover', 'warn'].includes(dry.automatic.action), dry.details);
  const rd = await hr.failover_check(false);
  assert.equal(rd.result, 'SUCCESS', rd.details);
  const master = await hr.get_master_name();
  assert.ok(master === 'john' || master === 'george', String(master));
  assert.deepEqual(await writableNodes(), [master]);
  const history = await hr.failover_history(1);
  assert.equal(history[0]?.kind, 'failover');
  assert.equal(history[0]?.from, 'paul');
  assert.equal(history[0]?.fence, 'confirmed');
  assertRanThePlan(history[0], dry.plan?.steps);
  // auto_rejoin: the next verify cycle rewinds paul and starts it as a replica.
  let last = '';
  await waitFor(async () => {
    const check = await hr.failover_check(true);
    const info = (await hr.get_server_info('paul')).paul;
    last = `${check.details} / paul: ${JSON.stringify({ role: info?.role, enabled: info?.enabled, fenced: info?.fenced, status: info?.status, message: info?.status_message })}`;
    return info?.role === 'replica' && info.enabled && !info.fenced && info.status === 'healthy';
  }, 'paul rejoined', 60000).catch(async (err: Error) => {
    const startupLog = await readFile(`${node('paul').dataDir}/startup.log`, 'utf8').catch(() => '(no startup.log)');
    const lastStart = startupLog.lastIndexOf("starting PostgreSQL");
    throw new Error(`${err.message}: ${last}\npaul startup.log: ${startupLog.slice(Math.max(0, lastStart - 3000), lastStart + 2500)}`);
  });
  assert.deepEqual(await writableNodes(), [master]);
});
