/**
 * leaseHistoryVerdict, row by row: etcd's history proves a master lease ended only when the key
 * existed after the master key named that master, every lease it was under has ended, and the key
 * is gone; a compacted or partial history proves nothing (and says why).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { leaseHistoryVerdict, type LeaseHistory, type LeaseKeyChange } from '../../src/engine/lease-history-proof.js';

const put = (revision: string, lease: string | null): LeaseKeyChange => ({ kind: 'put', revision, lease });
const del = (revision: string, lease: string | null): LeaseKeyChange => ({ kind: 'delete', revision, lease });
const read = (changes: LeaseKeyChange[], leaseAlive: Record<string, boolean | null>, compactedAt: string | null = null): LeaseHistory => ({ kind: 'read', master: 'john', masterModRevision: '10', compactedAt, changes, leaseAlive });

const rows: [label: string, history: LeaseHistory, state: 'released' | 'held' | 'not_proven', reason: RegExp][] = [
  ['held, then expired → released', read([put('12', '7'), del('20', '7')], { '7': false }), 'released', /held under lease 7 since the master key's revision 10, deleted at revision 20/],
  ['held before the key named it, deleted after (only the delete in the window) → released', read([del('20', '7')], { '7': false }), 'released', /lease 7/],
  ['re-taken under a second lease, both ended → released', read([put('12', '7'), del('15', '7'), put('16', '8'), del('20', '8')], { '7': false, '8': false }), 'released', /lease 7, 8/],
  ['key deleted by hand while its lease lives → held', read([put('12', '7'), del('20', '7')], { '7': true }), 'held', /lease 7 still lives/],
  ['an earlier lease of the window still lives → held', read([put('12', '7'), del('15', '7'), put('16', '8'), del('20', '8')], { '7': true, '8': false }), 'held', /lease 7 still lives/],
  ['never held since the master key\'s revision → not proven', read([], {}), 'not_proven', /never existed since the master key's revision 10/],
  ['compacted past the master key, no change since → not proven, says why', read([], {}, '30'), 'not_proven', /since revision 30 \(etcd compacted its history past the master key's revision 10\): the older history is gone/],
  ['compacted, the delete after it → released (window from the compaction)', read([del('40', '7')], { '7': false }, '30'), 'released', /since revision 30/],
  ['history not read (watch failed or compacted twice) → not proven, says why', { kind: 'unread', master: 'john', why: 'etcd compacted its history again' }, 'not_proven', /not read whole: etcd compacted its history again/],
  ['the deleted version was compacted away (lease unknown) → not proven', read([del('20', null)], {}), 'not_proven', /lease is not known/],
  ['only puts by hand without a lease → not proven', read([put('12', '0'), del('20', '0')], {}), 'not_proven', /without a lease/],
  ['a lease whose time to live was not read → not proven', read([put('12', '7'), del('20', '7')], { '7': null }), 'not_proven', /could not be read/],
  ['the last change is a put (facts disagree) → not proven', read([put('12', '7')], { '7': false }), 'not_proven', /not consistent/],
];

for (const [label, history, state, reason] of rows) {
  test(`lease history: ${label}`, () => {
    const verdict = leaseHistoryVerdict(Object.freeze(history));
    assert.equal(verdict.state, state, verdict.reason);
    assert.match(verdict.reason, reason);
  });
}

test('lease history: only a proof that compaction took away says historyGone (the callers then ask the current leases)', () => {
  const gone = (h: LeaseHistory): boolean => leaseHistoryVerdict(h).historyGone === true;
  assert.equal(gone(read([], {}, '30')), true, 'compacted past the window, no change since');
  assert.equal(gone(read([del('20', null)], {})), true, 'a deleted version compacted away');
  assert.equal(gone({ kind: 'unread', master: 'john', why: 'compacted, nothing since', compactedAt: '30' }), true, 'unread because of a compaction');
  assert.equal(gone(read([], {})), false, 'never held: not a compaction');
  assert.equal(gone({ kind: 'unread', master: 'john', why: 'the watch did not finish' }), false, 'unread for another reason');
  assert.equal(gone(read([put('12', '7'), del('20', '7')], { '7': null })), false, 'a time to live not read');
  assert.equal(gone(read([put('12', '0'), del('20', '0')], {})), false, 'puts by hand only');
});

const over = (revision: string, lease: string, overwrote: string | null): LeaseKeyChange => ({ kind: 'put', revision, lease, overwrote });

const overwriteRows: [label: string, history: LeaseHistory, state: 'released' | 'held' | 'not_proven', gone: boolean][] = [
  ['put over by hand under L2 (from the agent\'s L), then gone; L lives (keyless) → held', read([over('12', '9', '7'), del('20', '9')], { '9': false, '7': true }), 'held', false],
  ['put over under L2 from L, then gone; both ended → released', read([over('12', '9', '7'), del('20', '9')], { '9': false, '7': false }), 'released', false],
  ['put over without a lease from L, then deleted; L lives → held', read([over('12', '0', '7'), del('20', '0')], { '7': true }), 'held', false],
  ['put over, the overwritten version\'s lease not sent (compacted) → not proven, history gone', read([over('12', '9', null), del('20', '9')], { '9': false }), 'not_proven', true],
  ['the first change ends a version 2 written before the window (it was put over something unseen) → history gone', read([{ kind: 'delete', revision: '20', lease: '9', prior: { version: '2', modRevision: '8' } }], { '9': false }), 'not_proven', true],
  ['the first change ends a version 1 written before the window (a creation) → released as before', read([{ kind: 'delete', revision: '20', lease: '7', prior: { version: '1', modRevision: '8' } }], { '7': false }), 'released', false],
  ['a version 2 written inside the window → judged from the window (its put is in it)', read([over('12', '9', '7'), { kind: 'delete', revision: '20', lease: '9', prior: { version: '2', modRevision: '12' } }], { '9': false, '7': false }), 'released', false],
];
for (const [label, history, state, historyGone] of overwriteRows) {
  test(`lease history, key put over: ${label}`, () => {
    const verdict = leaseHistoryVerdict(Object.freeze(history));
    assert.equal(verdict.state, state, verdict.reason);
    assert.equal(verdict.historyGone === true, historyGone, verdict.reason);
  });
}
