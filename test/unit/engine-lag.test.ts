/**
 * Replication lag from WAL positions (design.md §5.3), one test per row: a failover candidate's
 * lag is the master's last known position minus what the candidate received, and a verification
 * that could not ask the master never lowers a recorded lag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesBehind, candidateLagMb, replicaLagToRecord, type ReplicaLagInput } from '../../src/engine/lag.js';

const MB = 1048576;

type BehindRow = [label: string, ahead: string | null, behind: string | null, expected: number | null];
const BEHIND: BehindRow[] = [
  ['equal positions', '0/5000000', '0/5000000', 0],
  ['16 MB behind', '0/6000000', '0/5000000', 16 * MB],
  ['across the 32-bit boundary', '1/0', '0/FFFFFFFF', 1],
  ['ahead of the master counts as 0', '0/5000000', '0/6000000', 0],
  ['unknown master position', null, '0/5000000', null],
  ['unknown candidate position', '0/5000000', null, null],
  ['garbage is unknown', 'x/y', '0/5000000', null],
];
for (const [label, ahead, behind, expected] of BEHIND) {
  test(`bytes behind: ${label}`, () => assert.equal(bytesBehind(ahead, behind), expected, label));
}

type CandidateRow = [label: string, master: string | null, received: string | null, recordedMb: number | null, expected: number | null];
const CANDIDATE: CandidateRow[] = [
  ['received against the master position', '0/25000000', '0/5000000', null, 512],
  ['a recorded lag of 0 does not hide 512 MB', '0/25000000', '0/5000000', 0, 512],
  ['a high recorded lag does not refuse a caught-up candidate', '0/25000000', '0/25000000', 500, 0],
  ['no master position known: the recorded lag', null, '0/5000000', 40, 40],
  ['no master position and none recorded', null, '0/5000000', null, null],
  ['master known, candidate position unknown: the recorded lag', '0/25000000', null, 7, 7],
  ['rounded to the kB', '0/100400', '0/100000', null, 0.001],
];
for (const [label, master, received, recordedMb, expected] of CANDIDATE) {
  test(`candidate lag: ${label}`, () => assert.equal(candidateLagMb(master, received, recordedMb), expected, label));
}

const base: ReplicaLagInput = { measuredBytes: 0, measuredAgainstMaster: false, recordedBytes: null, masterPosition: null, replicaReplayed: '0/5000000' };
type RecordRow = [label: string, over: Partial<ReplicaLagInput>, expected: number | null];
const RECORD: RecordRow[] = [
  ['measured against the live master: stands, even lower', { measuredAgainstMaster: true, measuredBytes: 1 * MB, recordedBytes: 500 * MB }, 1 * MB],
  ['master unreachable: a recorded 500 MB is not lowered to ~0', { recordedBytes: 500 * MB }, 500 * MB],
  ['master unreachable: at least the last known master position minus replayed', { masterPosition: '0/25000000', recordedBytes: 100 * MB }, 512 * MB],
  ['master unreachable, nothing recorded: what was measured', { measuredBytes: 3 }, 3],
  ['master unreachable, nothing known at all', { measuredBytes: null, replicaReplayed: null }, null],
  ['master unreachable, measured more than recorded: the measurement', { measuredBytes: 9 * MB, recordedBytes: 2 * MB }, 9 * MB],
];
for (const [label, over, expected] of RECORD) {
  test(`recorded replica lag: ${label}`, () => assert.equal(replicaLagToRecord({ ...base, ...over }), expected, label));
}
