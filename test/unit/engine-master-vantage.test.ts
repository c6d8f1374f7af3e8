import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  currentJudgement,
  episodeEndAlert,
  judgementAlert,
  judgementFromVerdict,
  judgementSituation,
  judgementValidSeconds,
  statusWithJudgement,
  verdictOnAnswer,
  type MasterJudgement,
} from '../../src/engine/master-vantage.js';
import { unjudgedMasterFailure } from '../../src/engine/status-alerts.js';

const NOW = Date.parse('2026-01-01T00:00:00.000Z');
const seenVerdict = { failed: false as const, ambiguous: true, reason_code: 'vantage_sees_master' as const, unknown: [], reason: 'the controller cannot reach the master but paul, george can', seenBy: ['paul (probe: accepting connections)', 'george (WAL received 0.4 s ago)'] };
const seen = judgementFromVerdict('john', seenVerdict, NOW, 30);

test('a judgement from the failure verdict: seen, failed or undecided, valid for the given seconds', () => {
  assert.equal(seen.kind, 'seen');
  assert.equal(seen.until, '2026-01-01T00:00:30.000Z');
  assert.equal(judgementFromVerdict('john', { failed: true, reason_code: 'master_failed', notSeenBy: ['paul'], unknown: [], reason: 'gone' }, NOW, 30).kind, 'failed');
  assert.equal(judgementFromVerdict('john', { failed: false, ambiguous: true, reason_code: 'vantage_none', unknown: ['paul'], reason: 'nobody to ask', seenBy: [] }, NOW, 30).kind, 'undecided');
});

test('a judgement counts only for the same master and until it expires', () => {
  assert.equal(currentJudgement(seen, 'john', NOW + 29_999), seen);
  assert.equal(currentJudgement(seen, 'john', NOW + 30_000), null, 'expired');
  assert.equal(currentJudgement(seen, 'paul', NOW), null, 'another master (after a failover)');
  assert.equal(currentJudgement(seen, null, NOW), null, 'no master');
  assert.equal(currentJudgement(null, 'john', NOW), null);
});

test('validity covers the next judgement: a poll interval, the retries, the probes', () => {
  const t = { poll_interval: 10, fail_retries: 3, fail_retry_interval: 1, connect_timeout_seconds: 5 };
  const next = t.poll_interval + t.fail_retries * (t.fail_retry_interval + t.connect_timeout_seconds) + 2 * t.connect_timeout_seconds;
  assert.ok(judgementValidSeconds(t) > next, `${judgementValidSeconds(t)} s must exceed ${next} s`);
});

test('master status with the judgement: row by row', () => {
  const failed = judgementFromVerdict('john', { failed: true, reason_code: 'master_failed', notSeenBy: ['paul'], unknown: [], reason: 'gone' }, NOW, 30);
  const rows: [string, { status: 'unavailable' | 'down' | 'warning' | 'healthy'; message: string }, MasterJudgement | null, string][] = [
    ['no answer, replicas see it', { status: 'unavailable', message: 'server does not respond: timeout' }, seen, 'warning'],
    ['no answer, no judgement', { status: 'unavailable', message: 't' }, null, 'unavailable'],
    ['no answer, judged failed', { status: 'unavailable', message: 't' }, failed, 'unavailable'],
    ['refused (PostgreSQL not running) stays down', { status: 'down', message: 'refused' }, seen, 'down'],
    ['a warning of its own stands', { status: 'warning', message: 'no control channel' }, seen, 'warning'],
  ];
  for (const [label, verdict, judgement, status] of rows) assert.equal(statusWithJudgement(verdict, judgement).status, status, label);
  assert.equal(
    statusWithJudgement({ status: 'unavailable', message: 't' }, seen).message,
    'HandyRep cannot reach it; replicas see it (george, paul): not failing over',
  );
});

test('an answer lifts the warning the cut-off set, and nothing else', () => {
  const keep = { keep: true as const, message: 'master responding to polling' };
  assert.deepEqual(verdictOnAnswer(keep, 'warning', seen), { status: 'healthy', message: 'master responding to polling again' });
  assert.deepEqual(verdictOnAnswer(keep, 'warning', null), keep, 'a warning from a verification stays');
  assert.deepEqual(verdictOnAnswer(keep, 'lagged', seen), keep);
  const inRecovery = { status: 'warning' as const, message: 'configured master is in recovery' };
  assert.deepEqual(verdictOnAnswer(inRecovery, 'warning', seen), inRecovery);
});

test('one alert per situation of an episode; a new one when it changes; one when it ends', () => {
  assert.match(judgementAlert(seen, null)?.message ?? '', /^master john: HandyRep cannot reach it; replicas see it \(george, paul\)/);
  assert.equal(judgementAlert(seen, judgementSituation(seen)), null, 'same replicas, next cycle: no alert');
  // The probe details change from cycle to cycle; the situation is who sees it.
  const again = judgementFromVerdict('john', { ...seenVerdict, seenBy: ['george (probe: accepting connections)', 'paul (WAL received 1.1 s ago)'] }, NOW + 5000, 30);
  assert.equal(judgementAlert(again, judgementSituation(seen)), null);
  const fewer = judgementFromVerdict('john', { ...seenVerdict, seenBy: ['paul (probe: accepting connections)'] }, NOW, 30);
  assert.notEqual(judgementAlert(fewer, judgementSituation(seen)), null, 'george no longer sees it: the situation changed');
  const undecided = judgementFromVerdict('john', { failed: false, ambiguous: true, reason_code: 'vantage_none', unknown: ['paul'], reason: 'r', seenBy: [] }, NOW, 30);
  assert.match(judgementAlert(undecided, judgementSituation(seen))?.message ?? '', /cannot tell whether it is down/);
  assert.equal(judgementAlert(judgementFromVerdict('john', { failed: true, reason_code: 'master_failed', notSeenBy: ['paul'], unknown: [], reason: 'gone' }, NOW, 30), null), null, 'failed: the cluster going down alerts');
  assert.match(episodeEndAlert('john', judgementSituation(seen))?.message ?? '', /reaches it again; over: john seen by george, paul/);
  assert.equal(episodeEndAlert('john', null), null, 'nothing was alerted: nothing to end');
});

test('the check that first misses the master does not alert; the judgement does (unless paused)', () => {
  assert.equal(unjudgedMasterFailure({ isMaster: true, to: 'unavailable', paused: false }), true);
  assert.equal(unjudgedMasterFailure({ isMaster: true, to: 'unavailable', paused: true }), false);
  assert.equal(unjudgedMasterFailure({ isMaster: true, to: 'down', paused: false }), false, 'refused: evidence, alerted at once');
  assert.equal(unjudgedMasterFailure({ isMaster: false, to: 'unavailable', paused: false }), false);
});
