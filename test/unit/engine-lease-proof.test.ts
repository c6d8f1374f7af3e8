/**
 * masterLeaseStateFrom, row by row: a master lease counts as released only when the lease seen held
 * while the master was healthy has ended — a deleted key whose lease lives is still held.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { masterLeaseStateFrom, type LeaseReads } from '../../src/engine/lease-proof.js';

const rows: [label: string, reads: LeaseReads, expected: ReturnType<typeof masterLeaseStateFrom>][] = [
  ['the key exists → held', { keyLease: '7', seenLease: '7', seenLeaseAlive: null }, 'held'],
  ['the key exists under a new lease (the agent re-took it) → held', { keyLease: '9', seenLease: '7', seenLeaseAlive: null }, 'held'],
  ['key absent, the lease seen held has ended and the history shows every lease since ended → released', { keyLease: null, seenLease: '7', seenLeaseAlive: false, history: { state: 'released', reason: '' } }, 'released'],
  ['key absent, the lease seen held has ended but a newer lease lives (agent restarted, key deleted by hand) → held', { keyLease: null, seenLease: '7', seenLeaseAlive: false, history: { state: 'held', reason: '' } }, 'held'],
  ['key absent, the lease seen held has ended, the history proves nothing (compacted) → unknown', { keyLease: null, seenLease: '7', seenLeaseAlive: false, history: { state: 'not_proven', reason: '' } }, 'unknown'],
  ['key absent, the lease seen held has ended, history not read → unknown', { keyLease: null, seenLease: '7', seenLeaseAlive: false }, 'unknown'],
  ['key absent but the lease seen held is alive (key deleted by hand) → held', { keyLease: null, seenLease: '7', seenLeaseAlive: true }, 'held'],
  ['key absent, no lease ever seen held → never_held', { keyLease: null, seenLease: null, seenLeaseAlive: null }, 'never_held'],
  ['key absent, none seen, etcd\'s history proves it held then ended → released', { keyLease: null, seenLease: null, seenLeaseAlive: null, history: { state: 'released', reason: '' } }, 'released'],
  ['key absent, none seen, the history shows a lease that lives (key deleted by hand) → held', { keyLease: null, seenLease: null, seenLeaseAlive: null, history: { state: 'held', reason: '' } }, 'held'],
  ['key absent, none seen, the history proves nothing (compacted, never held) → never_held', { keyLease: null, seenLease: null, seenLeaseAlive: null, history: { state: 'not_proven', reason: '' } }, 'never_held'],
  ['a seen lease decides; the history is not needed then', { keyLease: null, seenLease: '7', seenLeaseAlive: true, history: { state: 'released', reason: '' } }, 'held'],
  ['key absent, the seen lease could not be asked → unknown', { keyLease: null, seenLease: '7', seenLeaseAlive: null }, 'unknown'],
  // The history compacted away (historyGone): the current leases decide (lease-current-proof.ts).
  ['seen lease ended, history compacted past the delete, no live lease can be the master\'s → released', { keyLease: null, seenLease: '7', seenLeaseAlive: false, history: { state: 'not_proven', reason: '', historyGone: true }, current: { state: 'released', code: 'released', reason: '' } }, 'released'],
  ['seen lease ended, history compacted, a live keyless lease (maybe the agent\'s) → unknown', { keyLease: null, seenLease: '7', seenLeaseAlive: false, history: { state: 'not_proven', reason: '', historyGone: true }, current: { state: 'not_proven', code: 'keyless_lease', reason: '' } }, 'unknown'],
  ['seen lease ended, history compacted, a live lease carries the key again → held', { keyLease: null, seenLease: '7', seenLeaseAlive: false, history: { state: 'not_proven', reason: '', historyGone: true }, current: { state: 'held', code: 'lease_carries_key', reason: '' } }, 'held'],
  ['seen lease ended, history not proven for another reason (replay unfinished): the current leases do not count → unknown', { keyLease: null, seenLease: '7', seenLeaseAlive: false, history: { state: 'not_proven', reason: '' }, current: { state: 'released', code: 'released', reason: '' } }, 'unknown'],
  ['none seen, history compacted: a controller may face a master without an agent → never_held, whatever the current leases say', { keyLease: null, seenLease: null, seenLeaseAlive: null, history: { state: 'not_proven', reason: '', historyGone: true }, current: { state: 'released', code: 'released', reason: '' } }, 'never_held'],
  // A key put over by hand without a lease ('0') is nobody's: not held by itself, never released.
  ['key put over by hand without a lease, the seen lease lives → held (by the lease, not the key)', { keyLease: '0', seenLease: '7', seenLeaseAlive: true }, 'held'],
  ['key put over by hand without a lease, the seen lease ended → unknown (not held by the key, not released)', { keyLease: '0', seenLease: '7', seenLeaseAlive: false }, 'unknown'],
  ['key put over by hand without a lease, no lease seen → unknown', { keyLease: '0', seenLease: null, seenLeaseAlive: null }, 'unknown'],
  ['key put over by hand under a lease carrying other keys (not an agent\'s), the seen lease lives → held', { keyLease: '9', seenLease: '7', seenLeaseAlive: true, keyLeaseCarriesOtherKeys: true }, 'held'],
  ['key put over by hand under a lease carrying other keys, the seen lease ended → unknown', { keyLease: '9', seenLease: '7', seenLeaseAlive: false, keyLeaseCarriesOtherKeys: true }, 'unknown'],
  ['key put over by hand under a lease carrying other keys, none seen → unknown', { keyLease: '9', seenLease: null, seenLeaseAlive: null, keyLeaseCarriesOtherKeys: true }, 'unknown'],
  ['key under another lease carrying nothing else (maybe the agent\'s newer lease) → held', { keyLease: '9', seenLease: '7', seenLeaseAlive: null, keyLeaseCarriesOtherKeys: false }, 'held'],
  ['key under another lease whose keys could not be read → held (conservative)', { keyLease: '9', seenLease: '7', seenLeaseAlive: null, keyLeaseCarriesOtherKeys: null }, 'held'],
];

for (const [label, reads, expected] of rows) {
  test(`lease proof: ${label}`, () => {
    assert.equal(masterLeaseStateFrom(Object.freeze({ ...reads })), expected);
  });
}
