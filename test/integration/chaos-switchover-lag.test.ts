/**
 * Chaos: planned switchover to a lagging target (design.md §5.4). Replay is paused on the target
 * (pg_wal_replay_pause) after rows were written on the master, so its replay position trails the
 * old master's final WAL.
 *
 *  9a. Replay resumes ~1.5 s later: the switchover waits, then completes with every row present.
 *  9b. Replay stays paused past switchover_timeout_seconds (3): FAIL switchover_aborted, the old
 *      master is restarted and writable, the target is still a replica, history ROLLED_BACK.
 *  9c. The target's promotion does not confirm within promote_timeout_seconds (its startup process
 *      is stopped right after pg_promote was issued) and completes after the rollback restarted
 *      the old master: there must never be two writable servers.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { thaw } from '../fixtures/faults.js';
import { signal } from '../fixtures/proc.js';
import {
  cleanupAll,
  closeBed,
  describeRecord,
  holdPromotion,
  journalStepRunning,
  nodeStates,
  openBed,
  readJournalFile,
  sleep,
  sqlOn,
  waitUntil,
  within,
  writableNodes,
  type Bed,
} from '../fixtures/chaos.js';

after(cleanupAll);

const ROWS = 20000;

/** Pause replay on paul, then write ROWS rows on john that paul receives but does not replay. */
async function lagPaul(bed: Bed): Promise<void> {
  const john = bed.node('john');
  const paul = bed.node('paul');
  assert.ok((await sqlOn(john, 'CREATE TABLE acked (n int primary key, pad text)')).ok);
  await waitUntil(async () => (await sqlOn(paul, "SELECT to_regclass('acked') IS NOT NULL")).out === 't', 'paul replays the table', 10000);
  assert.ok((await sqlOn(paul, 'SELECT pg_wal_replay_pause()')).ok);
  await waitUntil(async () => (await sqlOn(paul, 'SELECT pg_get_wal_replay_pause_state()')).out !== 'not paused', 'replay paused on paul', 5000);
  const insert = await sqlOn(john, `INSERT INTO acked SELECT g, repeat('x', 100) FROM generate_series(1, ${ROWS}) g`);
  assert.ok(insert.ok, insert.out);
  assert.equal((await sqlOn(john, 'SELECT count(*) FROM acked')).out, String(ROWS));
  // paul has received the rows but not replayed them.
  await waitUntil(
    async () => (await sqlOn(paul, 'SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()')).out === 't',
    'paul received WAL it has not replayed',
    10000,
  );
  assert.equal((await sqlOn(paul, 'SELECT count(*) FROM acked')).out, '0', 'paul must not have replayed the rows yet');
}

test('switchover to a lagging target waits for it, then completes with no loss', { timeout: 90_000 }, async () => {
  const bed = await openBed({ failover: { switchover_timeout_seconds: 10 } });
  try {
    const hr = bed.h();
    await lagPaul(bed);
    const started = Date.now();
    const switching = hr.manual_failover('paul', true);
    // While replay is paused the switchover sits in wait_replay.
    await waitUntil(async () => {
      const j = readJournalFile(bed);
      const last = j?.steps.at(-1);
      return (last?.name === 'wait_replay' && last.outcome === 'running') || `journal: ${j ? j.steps.map((s) => `${s.name}:${s.outcome}`).join(', ') : 'none'}`;
    }, 'the switchover waiting for paul to replay', 8000, 50);
    await sleep(1500);
    assert.equal(readJournalFile(bed)?.steps.at(-1)?.name, 'wait_replay', 'still waiting while replay is paused');
    assert.ok((await sqlOn(bed.node('paul'), 'SELECT pg_wal_replay_resume()')).ok);
    const rd = await within(switching, 60_000, 'manual_failover');
    const elapsed = Date.now() - started;
    const story = `\nlog:\n${bed.logTail(30)}`;
    assert.equal(rd.result, 'SUCCESS', `${rd.details}${story}`);
    assert.equal(rd.newmaster, 'paul');
    assert.ok(elapsed >= 1500, `the switchover must have waited for the replay (${elapsed} ms)`);

    assert.deepEqual(await writableNodes(bed.cluster), ['paul'], story);
    assert.equal(await hr.get_master_name(), 'paul');
    assert.equal((await sqlOn(bed.node('paul'), 'SELECT count(*) FROM acked')).out, String(ROWS), 'every acknowledged row is on the new master');
    assert.deepEqual(await nodeStates(bed.cluster), { john: 'replica', paul: 'writable', george: 'replica' });

    const record = (await hr.failover_history(1))[0];
    const rec = describeRecord(record);
    assert.equal(record?.kind, 'switchover', rec);
    assert.equal(record?.outcome, 'SUCCESS', rec);
    assert.equal(record?.from, 'john', rec);
    assert.equal(record?.to, 'paul', rec);
    const wait = record?.steps.find((s) => s.name === 'wait_replay');
    assert.equal(wait?.outcome, 'ok', rec);
    assert.ok(wait && wait.finished && Date.parse(wait.finished) - Date.parse(wait.started) >= 1000, `wait_replay lasted ${wait ? Date.parse(wait.finished ?? '') - Date.parse(wait.started) : '?'} ms`);
    const info = await hr.get_server_info();
    assert.equal(info.john?.role, 'replica');
    assert.equal(info.john?.enabled, true);
    assert.equal(info.john?.fenced, false);
    assert.equal(info.paul?.role, 'master');
    console.log(`# lagging switchover completed in ${elapsed} ms (wait_replay ${Date.parse(wait?.finished ?? '') - Date.parse(wait?.started ?? '')} ms)`);
  } finally {
    await sqlOn(bed.node('paul'), 'SELECT pg_wal_replay_resume()').catch(() => undefined);
    await closeBed(bed);
  }
});

test('switchover to a target that stays behind past switchover_timeout_seconds: rolled back', { timeout: 90_000 }, async () => {
  const bed = await openBed({ failover: { switchover_timeout_seconds: 3 } });
  try {
    const hr = bed.h();
    await lagPaul(bed);
    const started = Date.now();
    const rd = await within(hr.manual_failover('paul', true), 60_000, 'manual_failover');
    const elapsed = Date.now() - started;
    const story = `\nlog:\n${bed.logTail(30)}`;
    assert.equal(rd.result, 'FAIL', `${rd.details}${story}`);
    assert.equal(rd.reason_code, 'switchover_aborted', rd.details);
    assert.match(rd.details, /paul did not replay up to/, rd.details);
    assert.match(rd.details, /john restarted/, rd.details);
    assert.ok(elapsed >= 3000, `waited the timeout (${elapsed} ms)`);

    assert.deepEqual(await writableNodes(bed.cluster), ['john'], story);
    assert.deepEqual(await nodeStates(bed.cluster), { john: 'writable', paul: 'replica', george: 'replica' });
    assert.equal(await hr.get_master_name(), 'john');
    assert.equal((await sqlOn(bed.node('john'), 'SELECT count(*) FROM acked')).out, String(ROWS));
    const info = await hr.get_server_info();
    assert.equal(info.john?.role, 'master');
    assert.equal(info.john?.enabled, true);
    assert.equal(info.john?.status, 'healthy', JSON.stringify(info.john));
    assert.equal(info.paul?.role, 'replica');
    assert.equal(info.paul?.enabled, true);

    const record = (await hr.failover_history(1))[0];
    const rec = describeRecord(record);
    assert.equal(record?.kind, 'switchover', rec);
    assert.equal(record?.outcome, 'ROLLED_BACK', rec);
    assert.deepEqual(
      record?.steps.map((s) => [s.name, s.outcome]),
      [['stop_master', 'ok'], ['final_checkpoint', 'ok'], ['wait_replay', 'failed'], ['rollback', 'ok']],
      rec,
    );
    assert.equal(record?.steps.some((s) => s.name === 'promote'), false, 'never promoted');

    // The target is still a working replica of the restarted master: resumed, it catches up.
    assert.ok((await sqlOn(bed.node('paul'), 'SELECT pg_wal_replay_resume()')).ok);
    assert.ok((await sqlOn(bed.node('john'), 'INSERT INTO acked VALUES (0, \'after rollback\')')).ok);
    await waitUntil(async () => (await sqlOn(bed.node('paul'), 'SELECT count(*) FROM acked')).out === String(ROWS + 1), 'paul replays the rows written after the rollback', 20000);
    await bed.cluster.waitStreaming(bed.node('john'), [bed.node('paul'), bed.node('george')], 20000);
  } finally {
    await sqlOn(bed.node('paul'), 'SELECT pg_wal_replay_resume()').catch(() => undefined);
    await closeBed(bed);
  }
});

test('switchover whose promotion confirms too late: the rollback never leaves two masters', { timeout: 90_000 }, async () => {
  const bed = await openBed({ failover: { promote_timeout_seconds: 3 } });
  const paul = bed.node('paul');
  let held: number | null = null;
  try {
    const hr = bed.h();
    const switching = within(hr.manual_failover('paul', true), 60_000, 'manual_failover');
    held = await journalStepRunning(bed, 'promote', 'paul', 30_000).then(() => holdPromotion(paul));
    const rd = await switching;
    const record = (await hr.failover_history(1))[0];
    const rec = describeRecord(record);
    const story = `\nRD: ${rd.result} ${rd.reason_code ?? ''}: ${rd.details}\nhistory: ${rec}\nlog:\n${bed.logTail(30)}`;
    // paul's pending promotion is released: it must not produce a second master.
    if (held !== null) signal(held, 'SIGCONT');
    held = null;
    await sleep(3000);
    const master = await hr.get_master_name();
    const writable = await writableNodes(bed.cluster);
    assert.equal(writable.length, 1, `exactly one writable server, got ${JSON.stringify(await nodeStates(bed.cluster))}; master per HandyRep: ${String(master)}${story}`);
    assert.deepEqual(writable, [master], `the writable server is HandyRep's master${story}`);
  } finally {
    if (held !== null) signal(held, 'SIGCONT');
    thaw(paul);
    await closeBed(bed);
  }
});
