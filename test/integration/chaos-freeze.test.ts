/**
 * Chaos: freezes (SIGSTOP) of the master, short and long, whole and partial.
 *
 *  1. A blip: every process of the instance stopped for 0.5 s. Shorter than the retries: no
 *     failover, and the master keeps its role.
 *  2. Only the postmaster stopped: no new session can start, but existing sessions and the WAL
 *     senders keep running, so the replicas keep hearing from it. No failover (the vantage rule),
 *     never two writable servers; healthy again after SIGCONT.
 *  3. A long freeze with a client session opened before it, its COMMIT sent while frozen: the
 *     failover kills the whole instance (not just the postmaster), so after SIGCONT no process of
 *     the old instance is left and that COMMIT is never acknowledged (no acknowledged write lost).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { openTransaction, type OpenTransaction } from '../fixtures/open-transaction.js';
import { freeze, thaw } from '../fixtures/faults.js';
import { isAlive, signal } from '../fixtures/proc.js';
import { checkCycles, checkUntil, cleanupAll, closeBed, describeRecord, nodeStates, openBed, sleep, sqlOn, writableNodes } from '../fixtures/chaos.js';

after(cleanupAll);

test('whole-instance SIGSTOP for 0.5 s: no failover', { timeout: 90_000 }, async () => {
  const bed = await openBed({ label: 'master frozen 0.5 s (blip)', expect: 'no_failover' });
  try {
    const hr = bed.h();
    const john = bed.node('john');
    const running = checkCycles(hr, 4, 250);
    await sleep(300);
    freeze(john);
    await sleep(500);
    thaw(john);
    const transcript = await running;
    const more = await checkCycles(hr, 2, 500);
    const story = `\n  ${[...transcript.lines, ...more.lines].join('\n  ')}\nlog:\n${bed.logTail(20)}`;
    assert.deepEqual(await hr.failover_history(5), [], story);
    assert.equal(await hr.get_master_name(), 'john', story);
    assert.deepEqual(await writableNodes(bed.cluster), ['john'], story);
    assert.equal(more.rds.at(-1)?.result, 'SUCCESS', story);
  } finally {
    await closeBed(bed);
  }
});

test('postmaster-only SIGSTOP: sessions and WAL senders live on, no failover', { timeout: 120_000 }, async () => {
  const bed = await openBed({ label: 'master postmaster-only SIGSTOP', expect: 'no_failover' });
  try {
    const hr = bed.h();
    const john = bed.node('john');
    const postmaster = john.postmasterPid();
    assert.ok(postmaster !== null);
    signal(postmaster, 'SIGSTOP');
    try {
      const transcript = await checkCycles(hr, 3, 1000);
      const story = `\n  ${transcript.lines.join('\n  ')}\nlog:\n${bed.logTail(25)}`;
      for (const rd of transcript.rds) assert.notEqual(rd.result === 'SUCCESS' && /failed over/.test(rd.details), true, story);
      assert.deepEqual(await hr.failover_history(5), [], story);
      assert.equal(await hr.get_master_name(), 'john', story);
    } finally {
      signal(postmaster, 'SIGCONT');
    }
    await checkUntil(hr, (rd) => rd.result === 'SUCCESS', { cycles: 5, what: 'master answers after SIGCONT' });
    assert.deepEqual(await writableNodes(bed.cluster), ['john']);
  } finally {
    await closeBed(bed);
  }
});

test('long whole-instance freeze with a COMMIT in flight: failover, no process of the old instance survives, the COMMIT is never acknowledged', { timeout: 120_000 }, async () => {
  const bed = await openBed({ label: 'master frozen until failed over (COMMIT in flight)', expect: 'failover' });
  let tx: OpenTransaction | null = null;
  try {
    const hr = bed.h();
    const john = bed.node('john');
    assert.ok((await sqlOn(john, 'CREATE TABLE inflight (n int primary key)')).ok);
    tx = await openTransaction(john, 'inflight', 1);
    const frozen = freeze(john);
    const commit = tx.commit();
    const transcript = await checkUntil(hr, async () => (await hr.failover_history(1)).length > 0, { cycles: 8, timeoutMs: 90_000, what: 'a failover' });
    const history = await hr.failover_history(1);
    const story = `\n  ${transcript.lines.join('\n  ')}\nhistory: ${history.map(describeRecord).join('\n')}\nlog:\n${bed.logTail(25)}`;
    assert.equal(history[0]?.outcome, 'SUCCESS', story);
    assert.match(history[0]?.steps.find((s) => s.name === 'fence')?.details ?? '', /killed/, story);
    // No process of the frozen instance may survive the fence (a surviving backend could
    // acknowledge the COMMIT after SIGCONT, and that write would be lost).
    const survivors = frozen.filter((pid) => isAlive(pid));
    thaw(john);
    assert.deepEqual(survivors, [], `processes of the old instance still alive after the fence: ${survivors.join(', ')}${story}`);
    const outcome = await Promise.race([commit, sleep(5000).then(() => 'no answer')]);
    assert.notEqual(outcome, 'acknowledged', `the COMMIT sent to the frozen master must never be acknowledged${story}`);
    const master = await hr.get_master_name();
    assert.ok(master === 'paul' || master === 'george', story);
    assert.deepEqual(await writableNodes(bed.cluster), [master], story);
    assert.deepEqual((await nodeStates(bed.cluster)).john, 'no answer');
  } finally {
    await tx?.close();
    await closeBed(bed);
  }
});
