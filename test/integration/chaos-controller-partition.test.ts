/**
 * Chaos: the controller alone is cut off from a live master (design.md §5.1, issue 6 "no failover
 * on ambiguity"). iptables drops only the packets the controller's own uid sends to the master;
 * PostgreSQL and the ssh-run probes on the replica hosts run as `postgres`, so replication keeps
 * flowing and the replicas still see the master. HandyRep must not promote: the cluster goes to
 * warning, the RD names the replicas that still see the master, the history stays empty.
 *
 *  1. cut off while the master is busy;
 *  2. cut off after the master was idle for a minute (WAL receiver messages seconds apart: only
 *     the active probe from the replica hosts tells the truth).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { heal, partition } from '../fixtures/faults.js';
import { checkCycles, checkUntil, cleanupAll, closeBed, nodeStates, openBed, sleep, sqlOn, waitUntil, writableNodes, type Bed } from '../fixtures/chaos.js';

after(cleanupAll);

const CONTROLLER_UID = process.getuid?.() ?? 0;

async function assertNoFailoverWhileCutOff(bed: Bed, cycles: number): Promise<void> {
  const hr = bed.h();
  const master = bed.node('john');
  const transcript = await checkCycles(hr, cycles);
  const story = `\n  ${transcript.lines.join('\n  ')}\nlog:\n${bed.logTail(25)}`;
  for (const rd of transcript.rds) {
    assert.equal(rd.result, 'FAIL', `every cycle must report the failed master check${story}`);
    assert.match(rd.details, /not failing over/, story);
    assert.match(rd.details, /cannot reach the master but/, story);
    // Which replicas still see the master, and how (the active probe from the replica host).
    assert.match(rd.details, /paul \(probe: accepting connections\)/, story);
    assert.match(rd.details, /george \(probe: accepting connections\)/, story);
    assert.equal(rd.failover_ok, false, story);
  }

  const status = await hr.get_status();
  assert.equal(status.cluster.status, 'warning', `cluster status: ${JSON.stringify(status.cluster)}${story}`);
  assert.match(status.cluster.status_message, /paul|george/, 'the cluster warning names who still sees the master');
  assert.equal(status.servers.john?.status, 'warning', JSON.stringify(status.servers.john)); // the replicas see it (chaos-cutoff-health)
  assert.equal(status.servers.john?.role, 'master');
  assert.equal(status.servers.john?.enabled, true);
  for (const r of ['paul', 'george']) {
    assert.equal(status.servers[r]?.role, 'replica', r);
    assert.equal(status.servers[r]?.status, 'healthy', `${r}: ${JSON.stringify(status.servers[r])}`);
  }
  assert.equal(await hr.get_master_name(), 'john');
  assert.deepEqual(await hr.failover_history(10), [], 'no topology change may be recorded');
  assert.deepEqual(await nodeStates(bed.cluster), { john: 'writable', paul: 'replica', george: 'replica' });

  // Replication really kept flowing through the cut: a row written on the master reaches both replicas.
  const marker = `cut-${Date.now()}`;
  assert.ok((await sqlOn(master, `CREATE TABLE IF NOT EXISTS chaos_marker (m text); INSERT INTO chaos_marker VALUES ('${marker}')`)).ok);
  for (const r of ['paul', 'george']) {
    await waitUntil(async () => (await sqlOn(bed.node(r), `SELECT count(*) FROM chaos_marker WHERE m = '${marker}'`)).out === '1', `${r} replays the marker row`, 10000);
  }
}

async function assertHealsBack(bed: Bed): Promise<void> {
  const hr = bed.h();
  heal(bed.node('john').host);
  await checkUntil(hr, (rd) => rd.result === 'SUCCESS', { cycles: 5, what: 'master check succeeds after heal' });
  await checkUntil(hr, async () => (await hr.get_cluster_status()).status === 'healthy', { cycles: 3, verify: true, what: 'cluster healthy after heal' });
  assert.deepEqual(await writableNodes(bed.cluster), ['john']);
  assert.deepEqual(await hr.failover_history(10), []);
}

test('controller cut off from a busy master while the replicas stream: no promotion, cluster warning', { timeout: 110_000 }, async () => {
  const bed = await openBed({ label: 'controller cut off from a busy master', expect: 'no_failover' });
  try {
    const master = bed.node('john');
    assert.ok((await sqlOn(master, 'CREATE TABLE busy (n int); INSERT INTO busy SELECT generate_series(1, 10000)')).ok);
    partition(master.host, { uid: CONTROLLER_UID });
    await assertNoFailoverWhileCutOff(bed, 3);
    await assertHealsBack(bed);
  } finally {
    await closeBed(bed);
  }
});

test('controller cut off from a master idle for a minute: still no promotion', { timeout: 150_000 }, async () => {
  const bed = await openBed({ label: 'controller cut off from an idle master', expect: 'no_failover' });
  try {
    const master = bed.node('john');
    // Nothing writes for 60 s: not the tests, not HandyRep (no verification runs meanwhile).
    await sleep(60_000);
    const receiver = await sqlOn(bed.node('paul'), 'SELECT status, round(extract(epoch FROM now() - last_msg_receipt_time)::numeric, 1) FROM pg_stat_wal_receiver');
    partition(master.host, { uid: CONTROLLER_UID });
    await assertNoFailoverWhileCutOff(bed, 3).catch((err: Error) => {
      throw new Error(`${err.message}\n(paul's WAL receiver when cut: ${receiver.out})`);
    });
    await assertHealsBack(bed);
    console.log(`# after the idle minute paul's WAL receiver (status|seconds since the last message): ${receiver.out}`);
  } finally {
    await closeBed(bed);
  }
});
