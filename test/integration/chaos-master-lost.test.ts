/**
 * Chaos: the master is really gone, for everyone (design.md §5.1, §5.2).
 *
 *  3. Master host lost: iptables drops all its traffic. Nobody reaches it, so nobody can stop it:
 *     it keeps running, writable, behind the partition. A single controller cannot fence it, so
 *     by default (failover.unreachable_master: refuse) it does not fail over: cluster warning,
 *     one alert for the episode, no promotion, and the cluster is healthy again after the heal.
 *  4. Master frozen: SIGSTOP of every process of the instance. Fencing escalates to SIGKILL of
 *     its process group; after SIGCONT nothing of it is left to accept writes.
 *
 * The end state is checked on every node (SELECT NOT pg_is_in_recovery() over its unix socket,
 * which no partition affects): exactly one writable server, HandyRep's statuses and history.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { freeze, heal, partition, thaw } from '../fixtures/faults.js';
import {
  checkCycles,
  checkUntil,
  cleanupAll,
  closeBed,
  describeRecord,
  nodeState,
  nodeStates,
  openBed,
  sqlOn,
  waitUntil,
  writableNodes,
  type Bed,
  type CheckTranscript,
} from '../fixtures/chaos.js';

after(cleanupAll);

async function seedRows(bed: Bed): Promise<void> {
  const john = bed.node('john');
  assert.ok((await sqlOn(john, 'CREATE TABLE rows (n int primary key); INSERT INTO rows SELECT generate_series(1, 1000)')).ok);
  for (const r of ['paul', 'george']) {
    await waitUntil(async () => (await sqlOn(bed.node(r), 'SELECT count(*) FROM rows')).out === '1000', `${r} replays the rows`, 10000);
  }
}

/** Drive failover_check until a failover is recorded; check the failover itself. Returns the new master. */
async function expectFailover(bed: Bed, fenceDetails: RegExp): Promise<{ newMaster: string; other: string; transcript: CheckTranscript }> {
  const hr = bed.h();
  const transcript = await checkUntil(hr, async () => (await hr.failover_history(1)).length > 0, {
    cycles: 6,
    timeoutMs: 120_000,
    what: 'a failover recorded in the history',
  }).catch((err: Error) => {
    throw new Error(`${err.message}\nlog:\n${bed.logTail(40)}`);
  });
  const story = `\n  ${transcript.lines.join('\n  ')}\nlog:\n${bed.logTail(30)}`;
  const rd = transcript.rds.at(-1);
  assert.equal(rd?.result, 'SUCCESS', story);
  assert.match(rd?.details ?? '', /failed over from john to (paul|george)/, story);
  // Cycles before the failover (if any) may only have been ambiguity (a WAL receiver that heard
  // from the master a moment before the fault), never a failure to act.
  for (const earlier of transcript.rds.slice(0, -1)) assert.match(earlier.details, /not failing over|answered on retry/, story);

  const newMaster = await hr.get_master_name();
  assert.ok(newMaster === 'paul' || newMaster === 'george', `new master ${String(newMaster)}${story}`);
  const other = newMaster === 'paul' ? 'george' : 'paul';

  const history = await hr.failover_history(10);
  assert.equal(history.length, 1, history.map(describeRecord).join('\n'));
  const record = history[0];
  assert.ok(record);
  const rec = describeRecord(record);
  assert.equal(record.kind, 'failover', rec);
  assert.equal(record.outcome, 'SUCCESS', rec);
  assert.equal(record.from, 'john', rec);
  assert.equal(record.to, newMaster, rec);
  assert.match(record.reason, /master john is down/, rec);
  assert.match(record.reason, /neither the controller nor/, rec);
  const fence = record.steps.find((s) => s.name === 'fence');
  assert.equal(fence?.server, 'john', rec);
  assert.equal(fence?.outcome, 'ok', rec);
  assert.match(fence?.details ?? '', fenceDetails, rec);
  const promotes = record.steps.filter((s) => s.name === 'promote');
  assert.deepEqual(promotes.map((s) => [s.server, s.outcome]), [[newMaster, 'ok']], rec);
  // fence runs before promote (§5.2)
  assert.ok(record.steps.indexOf(fence) < record.steps.indexOf(promotes[0] as never), rec);
  const remaster = record.steps.find((s) => s.name === 'remaster' && s.server === other);
  assert.equal(remaster?.outcome, 'ok', rec);

  const info = await hr.get_server_info();
  assert.equal(info.john?.fenced, true, JSON.stringify(info.john));
  assert.equal(info.john?.enabled, false);
  assert.equal(info.john?.status, 'down');
  assert.equal(info[newMaster]?.role, 'master');
  assert.equal(info[newMaster]?.status, 'healthy', JSON.stringify(info[newMaster]));
  assert.equal(info[other]?.role, 'replica');
  assert.equal(await nodeState(bed.node(newMaster)), 'writable');
  assert.equal(await nodeState(bed.node(other)), 'replica');
  assert.equal(await bed.countAcked(newMaster, 'rows', 1000), 1000, 'no acknowledged row lost');
  return { newMaster, other, transcript };
}

/** Up to `cycles` failover_check cycles until john no longer accepts writes; returns the cycles used. */
async function cyclesUntilJohnNotWritable(bed: Bed, cycles: number): Promise<{ used: number; transcript: CheckTranscript }> {
  const transcript: CheckTranscript = { rds: [], lines: [] };
  for (let i = 1; i <= cycles; i++) {
    const part = await checkCycles(bed.h(), 1);
    transcript.rds.push(...part.rds);
    transcript.lines.push(...part.lines.map((l) => l.replace(/^#1/, `#${i}`)));
    if ((await nodeState(bed.node('john'))) !== 'writable') return { used: i, transcript };
  }
  return { used: Infinity, transcript };
}

test('master host lost (all traffic dropped): it cannot be fenced, so no promotion; one alert; healthy after the heal', { timeout: 110_000 }, async () => {
  const bed = await openBed({ label: 'master host lost (single controller: refused)', expect: 'no_failover' });
  try {
    await seedRows(bed);
    const hr = bed.h();
    const john = bed.node('john');
    partition(john.host);
    // The first cycle may still be ambiguous (a WAL message heard a moment before the cut).
    const transcript = await checkUntil(hr, (rd) => rd.reason_code === 'unreachable_master_refused', { cycles: 6, what: 'the unreachable-master refusal' });
    const more = await checkCycles(hr, 3);
    const story = `\n  ${[...transcript.lines, ...more.lines].join('\n  ')}\nlog:\n${bed.logTail(30)}`;
    for (const rd of more.rds) {
      assert.equal(rd.result, 'FAIL', story);
      assert.equal(rd.reason_code, 'unreachable_master_refused', story);
      assert.match(rd.details, /cannot be reached at all.*cannot be fenced/, story);
    }
    assert.deepEqual(await hr.failover_history(10), [], `no topology change may start${story}`);
    assert.equal(await hr.get_master_name(), 'john');
    const status = await hr.get_status();
    assert.equal(status.cluster.status, 'warning', JSON.stringify(status.cluster));
    assert.match(status.cluster.status_message, /cannot be fenced/);
    assert.deepEqual((await nodeStates(bed.cluster)), { john: 'writable', paul: 'replica', george: 'replica' }, 'nobody was promoted');
    const alerts = (await hr.read_log(500)).filter((e) => e.alert === 'CRITICAL' && /cannot be fenced/.test(e.message));
    assert.equal(alerts.length, 1, `one alert for the episode, not one per cycle: ${JSON.stringify(alerts)}`);

    heal(john.host);
    await checkUntil(hr, (rd) => rd.result === 'SUCCESS', { cycles: 5, what: 'master check succeeds after heal' });
    // The replicas' WAL receivers reconnect after wal_receiver_timeout and a retry.
    await checkUntil(hr, async () => (await hr.get_cluster_status()).status === 'healthy', { cycles: 20, verify: true, what: 'cluster healthy after heal' });
    assert.deepEqual(await writableNodes(bed.cluster), ['john']);
    assert.equal((await sqlOn(john, 'SELECT count(*) FROM rows')).out, '1000');
    assert.deepEqual(await hr.failover_history(10), []);
  } finally {
    await closeBed(bed);
  }
});

test('master frozen (SIGSTOP of every process): failover; after SIGCONT the old master is not writable', { timeout: 110_000 }, async () => {
  const bed = await openBed({ label: 'master frozen 60 s: failover', expect: 'failover' });
  try {
    await seedRows(bed);
    const john = bed.node('john');
    const frozenPids = freeze(john);
    assert.ok(frozenPids.length > 1);
    const started = Date.now();
    const { newMaster } = await expectFailover(bed, /killed|stopped/);
    const failoverMs = Date.now() - started;

    thaw(john);
    const thawedAt = Date.now();
    const { used, transcript } = await cyclesUntilJohnNotWritable(bed, 3);
    const story = `\n  ${transcript.lines.join('\n  ')}\nlog:\n${bed.logTail(30)}`;
    assert.ok(used <= 2, `john must not be writable within ~2 check cycles after the thaw, took ${used}${story}`);
    assert.deepEqual(await writableNodes(bed.cluster), [newMaster], story);
    // Stays so.
    await checkCycles(bed.h(), 1);
    assert.deepEqual(await writableNodes(bed.cluster), [newMaster]);
    assert.equal((await bed.h().get_server_info('john')).john?.fenced, true);
    console.log(`# master frozen: failover in ${failoverMs} ms; john not writable ${Date.now() - thawedAt} ms after SIGCONT (${used} cycle(s))`);
  } finally {
    await closeBed(bed);
  }
});
