/**
 * Persistent monitoring sessions (issue 12): polls reuse one session per server instead of
 * opening one every poll, and a master whose session drops (postmaster SIGKILLed) is checked at
 * once, not at the next poll.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { HandyRep } from '../../src/api/handyrep.js';
import { startCluster, type TestCluster } from '../fixtures/cluster.js';
import { crash, healAll } from '../fixtures/faults.js';
import { writeConfig } from '../fixtures/handyrep-config.js';
import { FAILOVER_TEST_SETTINGS, POSTGRES_FAST_RETRY, waitFor } from '../fixtures/failover-settings.js';

let cluster: TestCluster;

before(async () => {
  cluster = await startCluster({ nodes: 3, postgresConf: POSTGRES_FAST_RETRY });
});

after(async () => {
  await healAll();
  await cluster?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** pids of the backends whose last statement was a poll: HandyRep's monitoring sessions. */
async function pollBackends(): Promise<string[]> {
  const pids: string[] = [];
  for (const n of cluster.nodes) {
    const out = await cluster.psql(n, "SELECT pid FROM pg_stat_activity WHERE application_name = 'handyrep' AND query LIKE 'SELECT pg_is_in_recovery() AS in_recovery%' ORDER BY pid");
    pids.push(...out.split('\n').filter(Boolean).map((p) => `${n.name}:${p.trim()}`));
  }
  return pids.sort();
}

test('polls run on one long-lived session per server: the same backends over many polls, closed on close()', async () => {
  const path = await writeConfig(cluster, { failover: { ...FAILOVER_TEST_SETTINGS, poll_interval: 0.2 } });
  const hr = await HandyRep.open(path);
  try {
    hr.startMonitoring();
    await waitFor(async () => hr.monitorStatus().cycles >= 3, 'three monitoring cycles');
    const first = await pollBackends();
    assert.equal(first.length, 3, `one monitoring session per server: ${first.join(', ')}`);
    const cycles = hr.monitorStatus().cycles;
    await waitFor(async () => hr.monitorStatus().cycles >= cycles + 10, 'ten more cycles');
    assert.deepEqual(await pollBackends(), first, 'ten polls later the same sessions, none opened');
  } finally {
    await hr.close();
  }
  await waitFor(async () => (await pollBackends()).length === 0, 'monitoring sessions closed by close()', 5000);
});

test('a SIGKILLed master is checked at once when its session drops, not at the next poll (poll_interval 5 s)', async () => {
  const path = await writeConfig(cluster, { failover: { ...FAILOVER_TEST_SETTINGS, poll_interval: 5, verify_interval: 300 } });
  const hr = await HandyRep.open(path);
  try {
    assert.equal((await hr.verify_all()).result, 'SUCCESS');
    hr.startMonitoring();
    await waitFor(async () => hr.monitorStatus().cycles >= 1, 'the first cycle');
    // Right after the first cycle: the next poll is more than 4 s away.
    await sleep(200);
    const crashedAt = Date.now();
    await crash(cluster.master);
    let detectedMs: number | null = null;
    for (let i = 0; i < 100 && detectedMs === null; i += 1) {
      const john = (await hr.get_server_info())[cluster.master.name];
      if (john && john.status !== 'healthy') detectedMs = Date.now() - crashedAt;
      else await sleep(25);
    }
    assert.ok(detectedMs !== null && detectedMs < 1500, `the master's failure recorded ${String(detectedMs)} ms after the crash (poll_interval 5000 ms)`);
    await waitFor(async () => (await hr.get_master_name()) !== cluster.master.name, 'a failover', 20000);
  } finally {
    await hr.close();
  }
});
