/**
 * Chaos: a verdict goes stale while it waits in the action queue (failover correctness, path 3).
 * failover_check decides outside the queue; the failover then waits behind whatever runs there.
 * Inside the queue, right before fencing, it re-checks: the same master in the book, no topology
 * change since the verdict, a fresh poll still failing. Otherwise it is called off.
 *
 *  1. An operator restarts a crashed master while the monitor judges it: the master comes back
 *     and must not be fenced. Which check notices first depends on timing (a retry, the vantage
 *     probes, or the re-check inside the queue); every one of them must leave john the master.
 *  2. manual_failover races the monitor after a crash: exactly one failover; the monitor's
 *     verdict (about the old master) must not fence the new master.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { crash } from '../fixtures/faults.js';
import { cleanupAll, closeBed, describeRecord, nodeStates, openBed, writableNodes } from '../fixtures/chaos.js';

after(cleanupAll);

test('operator restart of a crashed master racing the monitor: the master is not fenced', { timeout: 90_000 }, async () => {
  const bed = await openBed({ label: 'operator restart racing the monitor', expect: 'no_failover', failover: { fail_retries: 1, fail_retry_interval: 0.1 } });
  try {
    const hr = bed.h();
    await crash(bed.node('john'));
    // The restart enters the queue first; the monitor's verdict then waits behind it.
    const restart = hr.startup('john');
    const check = hr.failover_check(false);
    const [restarted, checked] = await Promise.all([restart, check]);
    const history = await hr.failover_history(5);
    const story = `restart: ${restarted.details}\ncheck: ${checked.details}\nhistory: ${history.map(describeRecord).join('\n')}\nlog:\n${bed.logTail(30)}`;
    assert.equal(restarted.result, 'SUCCESS', story);
    assert.deepEqual(await writableNodes(bed.cluster), ['john'], story);
    assert.equal(await hr.get_master_name(), 'john', story);
    assert.equal((await hr.get_server_info('john')).john?.fenced, false, story);
    // Either the retry saw john back, or the failover was called off inside the queue.
    if (history.length > 0) {
      assert.equal(history.length, 1, story);
      assert.equal(history[0]?.outcome, 'FAIL', story);
      assert.match(history[0]?.details ?? '', /called off: the master john answers again/, story);
      assert.deepEqual(history[0]?.steps.map((s) => s.name), ['revalidate'], story);
    } else {
      assert.match(checked.details, /answered on retry|controller reaches|can$/, story);
    }
  } finally {
    await closeBed(bed);
  }
});

test('manual_failover racing the monitor after a crash: one failover, the new master is never fenced', { timeout: 90_000 }, async () => {
  const bed = await openBed({ label: 'manual_failover racing the monitor', failover: { fail_retries: 1, fail_retry_interval: 0.1 } });
  try {
    const hr = bed.h();
    await crash(bed.node('john'));
    const [manual, checked] = await Promise.all([hr.manual_failover('george', true), hr.failover_check(false)]);
    const history = await hr.failover_history(5);
    const story = `manual: ${manual.details}\ncheck: ${checked.details}\nhistory:\n${history.map(describeRecord).join('\n')}\nlog:\n${bed.logTail(30)}`;
    const succeeded = history.filter((r) => r.outcome === 'SUCCESS');
    assert.equal(succeeded.length, 1, story);
    const master = await hr.get_master_name();
    assert.ok(master === 'george' || master === 'paul', story);
    assert.deepEqual(await writableNodes(bed.cluster), [master], story);
    const states = await nodeStates(bed.cluster);
    assert.equal(states.john, 'no answer', story);
    assert.equal((await hr.get_server_info(master))[master]?.fenced, false, story);
    for (const r of history.filter((h) => h.outcome !== 'SUCCESS')) {
      assert.match(r.details, /called off/, story);
      assert.ok(!r.steps.some((s) => s.name === 'fence' || s.name === 'promote'), `a stale verdict must not fence or promote: ${story}`);
    }
  } finally {
    await closeBed(bed);
  }
});
