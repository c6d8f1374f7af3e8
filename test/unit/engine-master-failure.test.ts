/**
 * Is the master failed? (design.md §5.1) The pure judgement over vantage reports, one test per
 * row: a vantage point that sees the master stops everything; a probe that could not run is
 * unknown and counts against the strict majority of enabled replicas that must positively not see
 * the master. Inputs are deep-frozen: a judgement never mutates its snapshot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyProbe, judgeMasterFailure, type MasterFailureReasonCode, type ProbeRun, type VantageReport } from '../../src/engine/master-failure.js';

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

const v = (replica: string, probe: VantageReport['probe'], wal: VantageReport['walReceiver'] = null): VantageReport => ({
  replica,
  probe,
  probeDetail: probe === 'unknown' ? `cannot run pg_isready on ${replica}` : probe,
  walReceiver: wal,
});
const streamingAge = (age: number) => ({ streaming: true, lastMessageAgeSeconds: age });
const stopped = { streaming: false, lastMessageAgeSeconds: null };

type Outcome = 'failed' | 'ambiguous' | 'healthy';
type DetectionRow = [label: string, controllerReached: boolean, vantage: VantageReport[], expected: Outcome, code: MasterFailureReasonCode, reason: RegExp];

const DETECTION: DetectionRow[] = [
  ['controller reaches the master', true, [v('paul', 'no_answer')], 'healthy', 'controller_reaches_master', /controller reaches/],
  ['nobody sees it, both replicas asked', false, [v('paul', 'no_answer', stopped), v('george', 'no_answer', stopped)], 'failed', 'master_failed', /neither the controller nor paul, george/],
  ['one replica probe sees it', false, [v('paul', 'sees'), v('george', 'no_answer')], 'ambiguous', 'vantage_sees_master', /paul \(probe: sees\)/],
  ['a recent WAL message counts as seeing', false, [v('paul', 'no_answer', streamingAge(0.5))], 'ambiguous', 'vantage_sees_master', /WAL received 0\.5 s ago/],
  ['an old WAL message does not count', false, [v('paul', 'no_answer', streamingAge(9))], 'failed', 'master_failed', /neither the controller nor paul/],
  ['streaming but age unknown does not count', false, [v('paul', 'no_answer', { streaming: true, lastMessageAgeSeconds: null })], 'failed', 'master_failed', /neither/],
  ['not streaming with a fresh timestamp does not count', false, [v('paul', 'no_answer', { streaming: false, lastMessageAgeSeconds: 0.1 })], 'failed', 'master_failed', /neither/],
  ['threshold is inclusive', false, [v('paul', 'no_answer', streamingAge(3))], 'ambiguous', 'vantage_sees_master', /WAL received 3\.0 s/],
  ['no replica at all', false, [], 'ambiguous', 'vantage_none', /no replica to ask/],
  ['no replica can run its probe', false, [v('paul', 'unknown'), v('george', 'unknown')], 'ambiguous', 'vantage_no_majority', /0 of 2 .*unknown: paul \(cannot run pg_isready on paul\), george/],
  ['probe could not run, WAL receiver quiet: unknown, not "does not see"', false, [v('paul', 'unknown', stopped)], 'ambiguous', 'vantage_no_majority', /unknown: paul/],
  ['probe could not run, replica not queryable: unknown', false, [v('paul', 'unknown', null)], 'ambiguous', 'vantage_no_majority', /unknown: paul/],
  ['probe could not run but a recent WAL message sees it', false, [v('paul', 'unknown', streamingAge(1))], 'ambiguous', 'vantage_sees_master', /paul \(WAL received 1\.0 s ago\)/],
  ['one sees, one unknown', false, [v('paul', 'sees'), v('george', 'unknown')], 'ambiguous', 'vantage_sees_master', /paul \(probe/],
  ['1 of 2 does not see, the other unknown: no strict majority', false, [v('paul', 'no_answer', stopped), v('george', 'unknown', stopped)], 'ambiguous', 'vantage_no_majority', /only paul positively does not see it \(1 of 2.*unknown: george/],
  ['2 of 3 do not see, one unknown: a strict majority', false, [v('a', 'no_answer'), v('b', 'no_answer'), v('c', 'unknown')], 'failed', 'master_failed', /neither the controller nor a, b reach the master \(unknown: c/],
  ['1 of 3 does not see, two unknown', false, [v('a', 'no_answer'), v('b', 'unknown'), v('c', 'unknown')], 'ambiguous', 'vantage_no_majority', /1 of 3.*unknown: b .*c/],
  ['2 of 4 is half, not a strict majority', false, [v('a', 'no_answer'), v('b', 'no_answer'), v('c', 'unknown'), v('d', 'unknown')], 'ambiguous', 'vantage_no_majority', /only a, b positively do not see it \(2 of 4/],
  ['3 of 4 is a strict majority', false, [v('a', 'no_answer'), v('b', 'no_answer'), v('c', 'no_answer'), v('d', 'unknown')], 'failed', 'master_failed', /a, b, c/],
  ['sole replica positively does not see it', false, [v('paul', 'no_answer', stopped)], 'failed', 'master_failed', /neither the controller nor paul/],
  ['a majority not seeing is overruled by one that sees', false, [v('a', 'no_answer'), v('b', 'no_answer'), v('c', 'sees')], 'ambiguous', 'vantage_sees_master', /c \(probe/],
];

for (const [label, reached, vantage, expected, code, reason] of DETECTION) {
  test(`master failure detection: ${label}`, () => {
    const verdict = judgeMasterFailure(reached, deepFreeze(vantage), 3);
    const got: Outcome = verdict.failed ? 'failed' : verdict.ambiguous ? 'ambiguous' : 'healthy';
    assert.equal(got, expected, `${label}: ${verdict.reason}`);
    assert.equal(verdict.reason_code, code, `${label}: ${verdict.reason}`);
    assert.match(verdict.reason, reason, label);
  });
}

test('master failure detection: the verdict lists who sees and who is unknown', () => {
  const verdict = judgeMasterFailure(false, [v('paul', 'sees'), v('george', 'unknown'), v('ringo', 'no_answer')], 3);
  assert.equal(verdict.failed, false);
  if (verdict.failed) return;
  assert.deepEqual(verdict.seenBy, ['paul (probe: sees)']);
  assert.deepEqual(verdict.unknown, ['george (cannot run pg_isready on george)']);
});

type ProbeRow = [label: string, run: ProbeRun, probe: VantageReport['probe'], detail: RegExp];

const PROBES: ProbeRow[] = [
  ['exit 0: accepting connections', { exitCode: 0, timedOut: false }, 'sees', /accepting connections/],
  ['exit 1: rejecting (starting or stopping) still answers', { exitCode: 1, timedOut: false }, 'sees', /starting or stopping/],
  ['exit 2: no response', { exitCode: 2, timedOut: false }, 'no_answer', /no response/],
  ['exit 3: no attempt is unknown', { exitCode: 3, timedOut: false }, 'unknown', /paul made no attempt \(exit 3\)/],
  ['exit 127: pg_isready missing is unknown', { exitCode: 127, timedOut: false }, 'unknown', /did not run \(exit 127\)/],
  ['exit 255: ssh failure is unknown', { exitCode: 255, timedOut: false }, 'unknown', /exit 255/],
  ['killed, no exit code: unknown', { exitCode: null, timedOut: false }, 'unknown', /exit null/],
  ['control channel timed out: unknown', { exitCode: null, timedOut: true }, 'unknown', /timed out/],
  ['timed out even with an exit code 2: unknown', { exitCode: 2, timedOut: true }, 'unknown', /timed out/],
  ['ssh error: unknown', { error: 'connect ECONNREFUSED 127.0.2.12:2222' }, 'unknown', /cannot run pg_isready on paul: connect ECONNREFUSED/],
];

for (const [label, run, probe, detail] of PROBES) {
  test(`vantage probe classification: ${label}`, () => {
    const got = classifyProbe('paul', deepFreeze(run));
    assert.equal(got.probe, probe, label);
    assert.match(got.probeDetail, detail, label);
  });
}
