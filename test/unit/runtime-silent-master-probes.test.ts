/**
 * SilentMasterProbes over a fake probe and clock: only a full-timeout probe that ENDED after the
 * lapse (and recently) and got NO answer stands for the failover's questions; the one in flight is
 * awaited; any answer (writable, refused …) is never reused; nothing when not being probed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { probeUsable, SilentMasterProbes } from '../../src/runtime/silent-master-probes.js';
import type { DatabaseAnswer } from '../../src/runtime/topology/fence.js';

const rows: [label: string, endedMs: number, lapseMs: number, nowMs: number, usable: boolean][] = [
  ['ended after the lapse, just now → usable', 1100, 1000, 1200, true],
  ['ended exactly at the lapse → usable', 1000, 1000, 1200, true],
  ['ended before the lapse → not usable (the lease was still held then)', 990, 1000, 1100, false],
  ['ended after the lapse but longer ago than the limit → not usable', 1100, 1000, 1700, false],
];
for (const [label, endedMs, lapseMs, nowMs, usable] of rows) {
  test(`probe usable: ${label}`, () => {
    assert.equal(probeUsable({ startedMs: endedMs - 1000, endedMs, answer: 'no_answer' }, lapseMs, nowMs, 500), usable);
  });
}

/** A probe the test answers by hand, and a clock it moves. */
function bed() {
  const clock = { ms: 0 };
  const pending: ((answer: DatabaseAnswer) => void)[] = [];
  const probes = new SilentMasterProbes(
    () => new Promise<DatabaseAnswer>((resolve) => pending.push(resolve)),
    () => clock.ms,
  );
  const answer = async (a: DatabaseAnswer, atMs: number): Promise<void> => {
    clock.ms = atMs;
    pending.shift()?.(a);
    await new Promise((r) => setImmediate(r));
  };
  return { clock, probes, answer, pending };
}

test('the probe in flight at the lapse is awaited, and its no-answer counts', async () => {
  const b = bed();
  b.probes.follow('john');
  await b.answer('no_answer', 1000); // ended before the lapse at 1500: not usable
  const asked = b.probes.answerAfter('john', 1500, 500);
  await b.answer('no_answer', 2000); // the next one ends after the lapse
  assert.equal(await asked, 'no_answer');
  b.clock.ms = 2300;
  assert.equal(await b.probes.answerAfter('john', 1500, 500), 'no_answer', 'the last probe, recent and after the lapse');
  b.probes.stop();
});

for (const answered of ['writable', 'refused', 'read_only', 'starting'] as const) {
  test(`an answer (${answered}) ends the silence and is never reused: the port is asked again`, async () => {
    const b = bed();
    b.probes.follow('john');
    await b.answer('no_answer', 1000);
    await b.answer(answered, 2000);
    b.clock.ms = 2100;
    assert.equal(await b.probes.answerAfter('john', 1500, 500), null);
    assert.equal(b.pending.length, 0, 'no more probes once it answered');
    b.probes.stop();
  });
}

test('the probe in flight at the lapse answers writable: nothing is claimed', async () => {
  const b = bed();
  b.probes.follow('john');
  const asked = b.probes.answerAfter('john', 500, 500);
  await b.answer('writable', 1000);
  assert.equal(await asked, null);
  b.probes.stop();
});

test('a server not being probed, or probing stopped: null (ask it yourself)', async () => {
  const b = bed();
  assert.equal(await b.probes.answerAfter('john', 0, 500), null);
  b.probes.follow('john');
  const asked = b.probes.answerAfter('john', 0, 500);
  b.probes.stop();
  await b.answer('no_answer', 100);
  assert.equal(await asked, null, 'stopped while waiting: nothing is claimed');
  assert.equal(await b.probes.answerAfter('paul', 0, 500), null);
});
