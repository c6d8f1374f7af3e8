/**
 * Repeated automatic-failover refusals (engine/refusal-episode.ts), row by row: which refusal is
 * recorded and alerted, which is logged only, and the episode each leaves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeRefusal, refusalNote, REFUSAL_REMINDER_MS, type RefusalEpisode, type RefusalSignature } from '../../src/engine/refusal-episode.js';

const SIG: RefusalSignature = { master: 'john', reasonCode: 'no_candidate', about: 'george:writable,paul:writable; restart not done', topologyRevision: 7 };
const T0 = Date.parse('2026-12-05T10:00:00.000Z');
const EPISODE: RefusalEpisode = { signature: SIG, startedMs: T0, recordedMs: T0, suppressed: 3, restartTries: 2, restartTriedMs: T0 };

const rows: { name: string; previous: RefusalEpisode | null; signature: RefusalSignature; now: number; record: boolean; why: string; suppressed: number; recordedMs: number }[] = [
  { name: 'first refusal of an episode: recorded', previous: null, signature: SIG, now: T0, record: true, why: 'first', suppressed: 0, recordedMs: T0 },
  { name: 'the same refusal a second later: logged only, counted', previous: EPISODE, signature: SIG, now: T0 + 1000, record: false, why: 'repeat', suppressed: 4, recordedMs: T0 },
  { name: 'the same refusal just before the reminder is due: logged only', previous: EPISODE, signature: SIG, now: T0 + REFUSAL_REMINDER_MS - 1, record: false, why: 'repeat', suppressed: 4, recordedMs: T0 },
  { name: 'the same refusal once the reminder is due: recorded, count reset', previous: EPISODE, signature: SIG, now: T0 + REFUSAL_REMINDER_MS, record: true, why: 'reminder', suppressed: 0, recordedMs: T0 + REFUSAL_REMINDER_MS },
  { name: 'the clock stepped back: a reminder (never silence)', previous: EPISODE, signature: SIG, now: T0 - 5000, record: true, why: 'reminder', suppressed: 0, recordedMs: T0 - 5000 },
  { name: 'another reason: a new episode, recorded', previous: EPISODE, signature: { ...SIG, reasonCode: 'second_master' }, now: T0 + 1000, record: true, why: 'changed', suppressed: 0, recordedMs: T0 + 1000 },
  { name: 'another master: a new episode, recorded', previous: EPISODE, signature: { ...SIG, master: 'paul' }, now: T0 + 1000, record: true, why: 'changed', suppressed: 0, recordedMs: T0 + 1000 },
  { name: 'other candidates refused (one became eligible or another refusal code): recorded', previous: EPISODE, signature: { ...SIG, about: 'george:lag,paul:writable; restart not done' }, now: T0 + 1000, record: true, why: 'changed', suppressed: 0, recordedMs: T0 + 1000 },
  { name: 'an operator changed the servers (revision): recorded', previous: EPISODE, signature: { ...SIG, topologyRevision: 8 }, now: T0 + 1000, record: true, why: 'changed', suppressed: 0, recordedMs: T0 + 1000 },
  // The master recovered, another outcome ran, or the controller restarted: the runtime ends the
  // episode (or starts with none), so the next refusal is judged against none.
  { name: 'after recovery / any other outcome / a controller restart (no episode kept): recorded', previous: null, signature: SIG, now: T0 + 2000, record: true, why: 'first', suppressed: 0, recordedMs: T0 + 2000 },
];

for (const row of rows) {
  test(`refusal episode: ${row.name}`, () => {
    const verdict = judgeRefusal(row.previous, row.signature, row.now);
    assert.equal(verdict.record, row.record);
    assert.equal(verdict.why, row.why);
    assert.equal(verdict.episode.suppressed, row.suppressed);
    assert.equal(verdict.episode.recordedMs, row.recordedMs);
    assert.deepEqual(verdict.episode.signature, row.signature);
  });
}

test('refusal episode: a reminder keeps the episode start and says how many repeats were logged only', () => {
  const verdict = judgeRefusal(EPISODE, SIG, T0 + REFUSAL_REMINDER_MS);
  assert.equal(verdict.episode.startedMs, T0);
  assert.equal(verdict.record && verdict.suppressedBefore, 3);
  assert.match(refusalNote(verdict), /still refused since 2026-12-05T10:00:00\.000Z \(reminder; 3 identical refusals/);
});

test('refusal episode: a repeat keeps the episode start; a first refusal carries no note', () => {
  const repeat = judgeRefusal(EPISODE, SIG, T0 + 1000);
  assert.equal(repeat.episode.startedMs, T0);
  assert.match(refusalNote(repeat), /the same refusal as since 2026-12-05T10:00:00\.000Z: logged only/);
  assert.equal(refusalNote(judgeRefusal(null, SIG, T0)), '');
});

test('refusal episode: the reminder interval can be given', () => {
  assert.equal(judgeRefusal(EPISODE, SIG, T0 + 60_000, 60_000).record, true);
  assert.equal(judgeRefusal(EPISODE, SIG, T0 + 59_999, 60_000).record, false);
});

const restartRows: { name: string; previous: RefusalEpisode | null; signature: RefusalSignature; now: number; tried: boolean; tries: number; triedMs: number | null }[] = [
  { name: 'a first refusal that tried the restart: one try, now', previous: null, signature: SIG, now: T0 + 5000, tried: true, tries: 1, triedMs: T0 + 5000 },
  { name: 'a first refusal without a restart (none to restart): no try', previous: null, signature: SIG, now: T0 + 5000, tried: false, tries: 0, triedMs: null },
  { name: 'a repeat that tried it: counted on the episode', previous: EPISODE, signature: SIG, now: T0 + 5000, tried: true, tries: 3, triedMs: T0 + 5000 },
  { name: 'a repeat without one (quiet): the tries kept', previous: EPISODE, signature: SIG, now: T0 + 5000, tried: false, tries: 2, triedMs: T0 },
  { name: 'a reminder that tried it: counted, the backoff not reset', previous: EPISODE, signature: SIG, now: T0 + REFUSAL_REMINDER_MS, tried: true, tries: 3, triedMs: T0 + REFUSAL_REMINDER_MS },
  { name: 'a changed refusal: a new episode, its tries start again', previous: EPISODE, signature: { ...SIG, reasonCode: 'second_master' }, now: T0 + 5000, tried: true, tries: 1, triedMs: T0 + 5000 },
];

for (const row of restartRows) {
  test(`refusal episode restarts: ${row.name}`, () => {
    const verdict = judgeRefusal(row.previous, row.signature, row.now, REFUSAL_REMINDER_MS, row.tried);
    assert.equal(verdict.episode.restartTries, row.tries);
    assert.equal(verdict.episode.restartTriedMs, row.triedMs);
  });
}

test('refusal episodes (runtime): the configured reminder and poll interval are read at each refusal (a reload applies)', async () => {
  const { RefusalEpisodes } = await import('../../src/runtime/refusal-episodes.js');
  let timing = { reminderMs: 60_000, pollMs: 1000 };
  const episodes = new RefusalEpisodes(() => timing);
  assert.equal(episodes.judge(SIG, T0, true).why, 'first');
  assert.equal(episodes.plan(SIG, T0 + 999).attempt, false, 'the restart is due a poll interval later');
  assert.equal(episodes.plan(SIG, T0 + 1000).why, 'restart_due');
  assert.equal(episodes.judge(SIG, T0 + 30_000).why, 'repeat');
  timing = { reminderMs: 20_000, pollMs: 1000 };
  assert.equal(episodes.judge(SIG, T0 + 30_001).why, 'reminder', 'a shorter reminder after a reload is due at once');
});
