/**
 * Chaos: the vantage rule (design.md §5.1). The master is failed only when the controller cannot
 * reach it, no replica sees it, and a strict majority of the enabled replicas positively does not
 * see it; a replica whose probe could not run is unknown and counts against that majority.
 *
 *  1. Minority split {john (master) + paul} | {controller + george}: the controller (its uid) and
 *     george (its sshd and PostgreSQL, moved into a cgroup) cannot reach john; paul still sees it.
 *     No promotion, cluster warning, the RD names who sees and who does not.
 *  2. john crashed, george's sshd stopped: paul positively does not see john, george is unknown.
 *     1 of 2 is no strict majority: no promotion, and the reason names george as unknown.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { crash, heal, partition, stopSshd } from '../fixtures/faults.js';
import { cutOff, healAllCuts, healCut } from '../fixtures/cgroup-cut.js';
import { checkCycles, checkUntil, cleanupAll, closeBed, nodeStates, openBed, sqlOn, waitUntil, writableNodes, type Bed, type CheckTranscript } from '../fixtures/chaos.js';

after(async () => {
  healAllCuts();
  await cleanupAll();
});

const CONTROLLER_UID = process.getuid?.() ?? 0;

const reasonCode = (rd: unknown): string | undefined => (rd as { reason_code?: string }).reason_code;
const story = (bed: Bed, t: CheckTranscript): string => `\n  ${t.lines.join('\n  ')}\nlog:\n${bed.logTail(25)}`;

/** Every cycle refused to act on the failed master check; no topology change was made. */
/**
 * `cluster`: a master that still runs (only cut off) leaves the cluster in warning; a crashed one
 * (refusing connections) is down, whatever the vantage points say.
 */
async function assertNoPromotion(bed: Bed, t: CheckTranscript, writable: string[], cluster: 'warning' | 'down' = 'warning'): Promise<void> {
  const s = story(bed, t);
  for (const rd of t.rds) {
    assert.equal(rd.result, 'FAIL', `every cycle reports the failed master check${s}`);
    assert.match(rd.details, /not failing over/, s);
  }
  const hr = bed.h();
  assert.equal(await hr.get_master_name(), 'john');
  assert.deepEqual(await hr.failover_history(10), [], `no topology change may be recorded${s}`);
  assert.deepEqual(await writableNodes(bed.cluster), writable, s);
  const status = await hr.get_status();
  assert.equal(status.cluster.status, cluster, `cluster status: ${JSON.stringify(status.cluster)}${s}`);
  for (const r of ['paul', 'george']) assert.equal(status.servers[r]?.role, 'replica', r);
}

test('minority split {master + paul} | {controller + george}: paul sees the master, no promotion', { timeout: 120_000 }, async () => {
  const bed = await openBed({ label: 'minority split {master + paul} | {controller + george}', expect: 'no_failover' });
  try {
    const john = bed.node('john');
    const george = bed.node('george');
    const sshd = george.sshd.pid();
    const postmaster = george.postmasterPid();
    assert.ok(sshd !== null && postmaster !== null, 'george runs sshd and PostgreSQL');
    partition(john.host, { uid: CONTROLLER_UID });
    cutOff('george', [sshd, postmaster], john.host);
    // george's WAL receiver connected before the cut: restart it so that it is cut too.
    const receiver = await sqlOn(george, 'SELECT pid FROM pg_stat_wal_receiver');
    assert.ok(receiver.ok && /^\d+$/.test(receiver.out), `george's WAL receiver: ${receiver.out}`);
    process.kill(Number(receiver.out), 'SIGTERM');
    await waitUntil(async () => {
      const r = await sqlOn(george, "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'");
      return r.out === '0' || r.out;
    }, "george's WAL receiver no longer streams", 15_000);

    const t = await checkCycles(bed.h(), 3);
    const s = story(bed, t);
    for (const rd of t.rds) {
      assert.equal(reasonCode(rd), 'vantage_sees_master', s);
      assert.match(rd.details, /cannot reach the master but paul \(probe: accepting connections\) can/, s);
      assert.match(rd.details, /does not see it: george/, s);
    }
    await assertNoPromotion(bed, t, ['john']);
    assert.match((await bed.h().get_cluster_status()).status_message, /paul/, 'the cluster warning names who still sees the master');

    // Replication to paul kept flowing through the split.
    const marker = `split-${Date.now()}`;
    assert.ok((await sqlOn(john, `CREATE TABLE marker (m text); INSERT INTO marker VALUES ('${marker}')`)).ok);
    await waitUntil(async () => (await sqlOn(bed.node('paul'), `SELECT count(*) FROM marker WHERE m = '${marker}'`)).out === '1', 'paul replays the marker row', 10_000);

    healCut('george');
    heal(john.host);
    await checkUntil(bed.h(), (rd) => rd.result === 'SUCCESS', { cycles: 5, what: 'master check succeeds after heal' });
    assert.deepEqual(await nodeStates(bed.cluster), { john: 'writable', paul: 'replica', george: 'replica' });
  } finally {
    healCut('george');
    await closeBed(bed);
  }
});

test("master crashed, george's sshd stopped: 1 of 2 replicas positively not seeing is no majority, no promotion", { timeout: 120_000 }, async () => {
  const bed = await openBed({ label: 'master crashed, one replica without sshd (no majority)', expect: 'no_failover', endsWithoutMaster: 'no majority of vantage points: not failing over (vantage_no_majority)' });
  try {
    await stopSshd(bed.node('george'));
    await crash(bed.node('john'));
    const hr = bed.h();
    // A WAL receiver may have heard from john a moment before the crash: wait out that signal.
    const first = await checkUntil(hr, (rd) => reasonCode(rd) === 'vantage_no_majority', { cycles: 8, what: 'a vantage_no_majority verdict' });
    const more = await checkCycles(hr, 2);
    const t: CheckTranscript = { rds: [...first.rds, ...more.rds], lines: [...first.lines, ...more.lines] };
    const s = story(bed, t);
    for (const rd of more.rds) {
      assert.equal(reasonCode(rd), 'vantage_no_majority', s);
      assert.match(rd.details, /only paul positively does not see it \(1 of 2 enabled replicas/, s);
      assert.match(rd.details, /unknown: george \(cannot run pg_isready on george/, s);
    }
    for (const rd of t.rds) assert.ok(['vantage_sees_master', 'vantage_no_majority'].includes(reasonCode(rd) ?? ''), `only ambiguity, never a failover${s}`);
    await assertNoPromotion(bed, t, [], 'down');
    assert.deepEqual(await nodeStates(bed.cluster), { john: 'no answer', paul: 'replica', george: 'replica' });
  } finally {
    await closeBed(bed);
  }
});
