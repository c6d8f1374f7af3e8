/**
 * Chaos: a controller that died mid-failover restarts cut off from a master that is alive
 * (failover correctness, path 7). Recovery finds nobody writable *from its own view*; it must
 * judge the old master exactly as failover_check would — retries, vantage points — and since
 * the replicas still see it, promote nobody. The journal is the one a controller killed while
 * fencing would leave (written by the test: the kill itself is covered by the controller-kill
 * scenarios); iptables drops only the controller's own packets to the master, so replication
 * keeps flowing.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { heal, partition } from '../fixtures/faults.js';
import { checkUntil, cleanupAll, closeBed, describeRecord, nodeStates, openBed, writableNodes } from '../fixtures/chaos.js';
import type { FailoverRecord } from '../../src/model/failover-record.js';

after(cleanupAll);

const CONTROLLER_UID = process.getuid?.() ?? 0;

test('controller restarted mid-failover, cut off from a live master the replicas see: no promotion', { timeout: 120_000 }, async () => {
  const bed = await openBed({ label: 'controller restarted mid-failover, cut off from a live master', expect: 'no_failover' });
  try {
    await bed.closeHr();
    const now = new Date().toISOString();
    const interrupted: FailoverRecord = {
      id: randomUUID(),
      kind: 'failover',
      reason: 'master john is down (test: the controller was cut off when it judged)',
      started: now,
      finished: null,
      duration_ms: null,
      from: 'john',
      to: null,
      outcome: 'RUNNING',
      details: '',
      steps: [
        { name: 'revalidate', server: 'john', started: now, finished: now, outcome: 'ok', details: 'still fails a fresh poll' },
        { name: 'select', server: null, started: now, finished: now, outcome: 'ok', details: 'candidates in order: paul, george' },
        { name: 'fence', server: 'john', started: now, finished: null, outcome: 'running', details: '' },
      ],
    };
    writeFileSync(bed.journalFile, JSON.stringify(interrupted));
    partition(bed.node('john').host, { uid: CONTROLLER_UID });

    const hr = await bed.reopen();
    const history = await hr.failover_history(10);
    const story = `history:\n${history.map(describeRecord).join('\n')}\nlog:\n${bed.logTail(30)}`;
    assert.deepEqual(await nodeStates(bed.cluster), { john: 'writable', paul: 'replica', george: 'replica' }, story);
    assert.equal(await hr.get_master_name(), 'john', story);
    const recovery = history.find((r) => r.kind === 'recovery');
    assert.ok(recovery, story);
    assert.equal(recovery.outcome, 'ROLLED_BACK', story);
    assert.match(recovery.details, /not failing over again: .*paul|george/, story);
    assert.ok(!history.some((r) => r.steps.some((s) => s.name === 'promote')), story);
    assert.equal((await hr.get_status()).cluster.status, 'warning', story);

    heal(bed.node('john').host);
    await checkUntil(hr, async () => (await hr.get_cluster_status()).status === 'healthy', { cycles: 10, verify: true, what: 'cluster healthy after heal' });
    assert.deepEqual(await writableNodes(bed.cluster), ['john']);
  } finally {
    await closeBed(bed);
  }
});
