/**
 * Chaos: the candidate is lost while it is being promoted (failover correctness, path 4). The
 * controller's traffic to paul is dropped while the old master is being fenced, so the promotion
 * of paul can be neither confirmed nor cancelled: paul may be promoted behind the partition. It
 * must be treated as possibly promoted — fenced, watched like an old master — and nobody else
 * promoted (promoting george would make two masters the moment paul's promotion completes).
 * After the heal paul is seen read-only (fence confirmed) and an operator fails over to george.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { freeze, heal, partition } from '../fixtures/faults.js';
import { checkUntil, cleanupAll, closeBed, describeRecord, journalStepRunning, nodeStates, openBed, writableNodes } from '../fixtures/chaos.js';

after(cleanupAll);

const CONTROLLER_UID = process.getuid?.() ?? 0;

test('candidate cut off during its promotion: it is fenced and nobody else is promoted', { timeout: 150_000 }, async () => {
  const bed = await openBed({
    label: 'candidate lost during its promotion',
    failover: { selection_method: 'select_replica_priority' },
    servers: { paul: { failover_priority: 1 }, george: { failover_priority: 2 } },
  });
  try {
    const hr = bed.h();
    // A frozen master takes seconds to fence (stop, immediate stop, kill): time to cut paul off.
    freeze(bed.node('john'));
    const checked = hr.failover_check(false);
    await journalStepRunning(bed, 'fence', 'john', 60_000);
    partition(bed.node('paul').host, { uid: CONTROLLER_UID });
    const rd = await checked;
    const history = await hr.failover_history(5);
    const story = `check: ${rd.details}\nhistory:\n${history.map(describeRecord).join('\n')}\nlog:\n${bed.logTail(30)}`;
    assert.equal(rd.result, 'FAIL', story);
    assert.equal(rd.reason_code, 'promotion_uncertain', story);
    assert.ok(!history.some((r) => r.steps.some((s) => s.name === 'promote' && s.server === 'george')), `george must not be promoted: ${story}`);
    const paul = (await hr.get_server_info('paul')).paul;
    assert.equal(paul?.fenced, true, story);
    assert.equal(paul?.fence_unconfirmed, true, story);
    assert.equal((await nodeStates(bed.cluster)).george, 'replica', story);
    assert.ok((await writableNodes(bed.cluster)).length <= 1, story);

    // Healed: paul answers read-only, so its fence is confirmed; the operator picks george.
    heal(bed.node('paul').host);
    await checkUntil(hr, async () => (await hr.get_server_info('paul')).paul?.fence_unconfirmed === false, { cycles: 6, what: "paul's fence confirmed" });
    const manual = await hr.manual_failover('george', true);
    assert.equal(manual.result, 'SUCCESS', `${manual.details}\nlog:\n${bed.logTail(20)}`);
    assert.deepEqual(await writableNodes(bed.cluster), ['george']);
  } finally {
    await closeBed(bed);
  }
});
