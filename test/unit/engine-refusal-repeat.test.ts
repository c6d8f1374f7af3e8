/**
 * A repeated refusal without an attempt (engine/refusal-repeat.ts), row by row: the restart
 * backoff's schedule, and when a foreseen refusal still needs the attempt (journal, restart).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REFUSAL_REMINDER_MS, type RefusalEpisode, type RefusalSignature } from '../../src/engine/refusal-episode.js';
import { noCandidateAbout, planRepeat, restartOkIn, restartBackoffMs, RESTART_BACKOFF_CAP_MS } from '../../src/engine/refusal-repeat.js';

const backoffRows: { tries: number; pollMs: number; capMs?: number; want: number; why: string }[] = [
  { tries: 0, pollMs: 1000, want: 0, why: 'none tried yet: due now' },
  { tries: 1, pollMs: 1000, want: 1000, why: 'after the first try: one poll interval' },
  { tries: 2, pollMs: 1000, want: 2000, why: 'doubling' },
  { tries: 3, pollMs: 1000, want: 4000, why: 'doubling' },
  { tries: 6, pollMs: 1000, want: 32_000, why: 'doubling' },
  { tries: 7, pollMs: 1000, want: 60_000, why: 'capped (64 s > 60 s)' },
  { tries: 1000, pollMs: 1000, want: 60_000, why: 'stays at the cap, no overflow' },
  { tries: 1, pollMs: 10_000, want: 10_000, why: 'the default poll interval' },
  { tries: 4, pollMs: 10_000, want: 60_000, why: 'capped (80 s > 60 s)' },
  { tries: 3, pollMs: 90_000, want: 90_000, why: 'a poll interval over the cap: never more often than a check, no doubling either' },
  { tries: 3, pollMs: 1000, capMs: 3000, want: 3000, why: 'another cap' },
];

for (const row of backoffRows) {
  test(`restart backoff: ${row.tries} tries, poll ${row.pollMs} ms: ${row.want} ms (${row.why})`, () => {
    assert.equal(restartBackoffMs(row.tries, row.pollMs, row.capMs), row.want);
  });
}

test('restart backoff: the default cap is 60 s', () => {
  assert.equal(RESTART_BACKOFF_CAP_MS, 60_000);
  assert.equal(restartBackoffMs(50, 1000), 60_000);
});

const T0 = Date.parse('2026-12-05T10:00:00.000Z');
const SIG: RefusalSignature = { master: 'john', reasonCode: 'no_candidate', about: 'paul:lag; restart not done', topologyRevision: 7 };
/** Recorded at T0, the restart tried twice, the last at T0 + 1 s: the next is due 2 s (2 polls of 1 s) later. */
const EPISODE: RefusalEpisode = { signature: SIG, startedMs: T0, recordedMs: T0, suppressed: 1, restartTries: 2, restartTriedMs: T0 + 1000 };

const planRows: { name: string; episode: RefusalEpisode | null; foreseen?: RefusalSignature; now: number; attempt: boolean; why: string; next?: number }[] = [
  { name: 'no episode: the attempt runs (the first refusal is recorded)', episode: null, now: T0, attempt: true, why: 'no_episode' },
  { name: 'the same refusal before the next restart: no attempt', episode: EPISODE, now: T0 + 2000, attempt: false, why: 'same_refusal', next: T0 + 3000 },
  { name: 'the same refusal a moment before the restart is due: no attempt', episode: EPISODE, now: T0 + 2999, attempt: false, why: 'same_refusal', next: T0 + 3000 },
  { name: 'the restart is due: the attempt runs (journaled, restart tried)', episode: EPISODE, now: T0 + 3000, attempt: true, why: 'restart_due' },
  { name: 'the clock stepped back before the last try: the restart counts as due', episode: EPISODE, now: T0 + 500, attempt: true, why: 'restart_due' },
  { name: 'an episode without a restart tried: the attempt runs', episode: { ...EPISODE, restartTries: 0, restartTriedMs: null }, now: T0 + 2000, attempt: true, why: 'restart_due' },
  { name: 'the reminder is due: the attempt runs (recorded as before)', episode: { ...EPISODE, restartTriedMs: T0 + REFUSAL_REMINDER_MS - 100 }, now: T0 + REFUSAL_REMINDER_MS, attempt: true, why: 'reminder_due' },
  { name: 'a candidate refused for another reason: the attempt runs', episode: EPISODE, foreseen: { ...SIG, about: 'paul:not_streaming; restart not done' }, now: T0 + 2000, attempt: true, why: 'changed' },
  { name: 'another master: the attempt runs', episode: EPISODE, foreseen: { ...SIG, master: 'paul' }, now: T0 + 2000, attempt: true, why: 'changed' },
  { name: 'the servers changed (revision): the attempt runs', episode: EPISODE, foreseen: { ...SIG, topologyRevision: 8 }, now: T0 + 2000, attempt: true, why: 'changed' },
];

for (const row of planRows) {
  test(`repeat plan: ${row.name}`, () => {
    const plan = planRepeat({ episode: row.episode, foreseen: row.foreseen ?? SIG, nowMs: row.now, reminderMs: REFUSAL_REMINDER_MS, pollMs: 1000 });
    assert.equal(plan.attempt, row.attempt);
    assert.equal(plan.why, row.why);
    if (!plan.attempt) assert.equal(plan.nextRestartMs, row.next);
  });
}

test('repeat plan: the reminder interval given is used', () => {
  const episode = { ...EPISODE, restartTriedMs: T0 + 59_000, restartTries: 9 };
  assert.equal(planRepeat({ episode, foreseen: SIG, nowMs: T0 + 59_999, reminderMs: 60_000, pollMs: 1000 }).attempt, false);
  assert.equal(planRepeat({ episode, foreseen: SIG, nowMs: T0 + 60_000, reminderMs: 60_000, pollMs: 1000 }).why, 'reminder_due');
});

test('no-candidate signature: refused candidates sorted with their codes, lag figures left out, the restart', () => {
  assert.equal(noCandidateAbout([{ name: 'paul', code: 'lag' }, { name: 'george', code: 'writable' }], false), 'george:writable,paul:lag; restart not done');
  assert.equal(noCandidateAbout([], true), '; restart ok');
  assert.equal(restartOkIn(noCandidateAbout([{ name: 'paul', code: 'lag' }], true)), true);
  assert.equal(restartOkIn(noCandidateAbout([{ name: 'paul', code: 'lag' }], false)), false);
});
