/**
 * Which replica a synchronous failover may promote, row by row (engine/sync-promotion.ts): only
 * a recorded member; with n members and quorum k, at least n − k + 1 of them reachable, and then
 * the furthest ahead of those (unless n = k: every member holds every acknowledged commit).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { membersNeeded, syncPromotionRule, type SyncMemberFacts } from '../../src/engine/sync-promotion.js';
import type { SyncRecord } from '../../src/model/sync-record.js';

const rec = (quorum: number, ...members: string[]): SyncRecord => ({ members, quorum, master: 'john', at: '2026-12-04T09:00:00.000Z', reason: 'test' });
const up = (name: string, lsn: string): SyncMemberFacts => ({ name, reachable: true, receiveLsn: lsn });
const down = (name: string): SyncMemberFacts => ({ name, reachable: false, receiveLsn: null });

type NeededRow = [n: number, k: number, needed: number];
const NEEDED: NeededRow[] = [
  [1, 1, 1],
  [2, 1, 2],
  [3, 1, 3],
  [3, 2, 2],
  [3, 3, 1],
  [5, 2, 4],
];
for (const [n, k, needed] of NEEDED) test(`quorum arithmetic: ${n} members, ANY ${k} → ${needed} reachable needed`, () => assert.equal(membersNeeded(n, k), needed));

type RuleRow = [label: string, mode: 'off' | 'on' | 'strict', record: SyncRecord | null, facts: SyncMemberFacts[], expected: string];
const RULES: RuleRow[] = [
  ['off: no restriction, no warning', 'off', rec(1, 'paul'), [up('george', '0/5')], 'any'],
  ['on, never recorded: any candidate, with a warning', 'on', null, [up('george', '0/5')], 'any+warning'],
  ['on, recorded asynchronous: any candidate, may lose writes', 'on', rec(0, 'paul'), [up('george', '0/5')], 'any+warning'],
  ['one member, reachable: only it', 'on', rec(1, 'paul'), [up('paul', '0/5'), up('george', '0/9')], 'only paul'],
  ['a non-member further ahead is still refused', 'strict', rec(1, 'paul'), [up('paul', '0/5'), up('george', '0/9')], 'only paul'],
  ['one member, out of reach: nobody', 'on', rec(1, 'paul'), [down('paul'), up('george', '0/9')], 'none'],
  ['ANY 1 of 2, both reachable: the furthest ahead', 'on', rec(1, 'george', 'paul'), [up('paul', '0/5'), up('george', '0/9')], 'only george'],
  ['ANY 1 of 2, equal positions: both', 'on', rec(1, 'george', 'paul'), [up('paul', '0/9'), up('george', '0/9')], 'only george,paul'],
  ['ANY 1 of 2, one out of reach: nobody (it may hold the only copy)', 'on', rec(1, 'george', 'paul'), [up('paul', '0/9'), down('george')], 'none'],
  ['ANY 2 of 3, one out of reach: the furthest of the other two', 'on', rec(2, 'george', 'paul', 'ringo'), [up('paul', '0/7'), up('george', '0/9'), down('ringo')], 'only george'],
  ['ANY 2 of 3, two out of reach: nobody', 'on', rec(2, 'george', 'paul', 'ringo'), [up('paul', '0/7'), down('george'), down('ringo')], 'none'],
  ['FIRST/ANY 2 of 2: every member holds every commit, one reachable suffices', 'on', rec(2, 'george', 'paul'), [up('paul', '0/7'), up('george', '0/9')], 'only george,paul'],
  ['reachable without a WAL position counts as out of reach', 'on', rec(1, 'paul'), [{ name: 'paul', reachable: true, receiveLsn: null }], 'none'],
  ['a member not among the facts (disabled) is out of reach', 'on', rec(1, 'george', 'paul'), [up('paul', '0/9')], 'none'],
];
for (const [label, mode, record, facts, expected] of RULES) {
  test(`sync promotion: ${label}`, () => {
    const rule = syncPromotionRule(mode, record, facts);
    const got = rule.kind === 'any_candidate' ? (rule.warning === null ? 'any' : 'any+warning') : rule.kind === 'none' ? 'none' : `only ${rule.allowed.sort().join(',')}`;
    assert.equal(got, expected);
  });
}

test('sync promotion: the refusal names the arithmetic and who is out of reach', () => {
  const rule = syncPromotionRule('on', rec(1, 'george', 'paul'), [up('paul', '0/9'), down('george')]);
  assert.equal(rule.kind, 'none');
  assert.match(rule.kind === 'none' ? rule.reason : '', /1 of 2 members reachable.*2 needed \(n − k \+ 1\).*out of reach: george/);
});

test('sync promotion: non-members and members behind get coded reasons', () => {
  const rule = syncPromotionRule('on', rec(1, 'george', 'paul'), [up('paul', '0/5'), up('george', '0/9'), up('ringo', '0/F')]);
  assert.equal(rule.kind, 'only');
  if (rule.kind !== 'only') return;
  assert.equal(rule.why['ringo']?.code, 'not_sync_member');
  assert.equal(rule.why['paul']?.code, 'sync_behind');
  assert.equal(rule.why['george'], undefined);
});

test('sync promotion: the asynchronous warning says since when and why', () => {
  const rule = syncPromotionRule('on', { ...rec(0), reason: 'no replica qualifies: asynchronous' }, []);
  assert.match(rule.kind === 'any_candidate' ? String(rule.warning) : '', /recorded asynchronous at 2026-12-04T09:00:00.000Z \(no replica qualifies: asynchronous\): this failover may lose acknowledged writes/);
});

type MasterRow = [label: string, mode: 'off' | 'on' | 'strict', record: SyncRecord | null, master: string | null | undefined, expected: string];
const MASTER_ROWS: MasterRow[] = [
  ["the set describes the master failed over: the quorum rule applies", 'on', rec(1, 'paul'), 'john', 'only paul'],
  ['the set describes another master (the previous one): nobody, sync_record_stale', 'on', { ...rec(1, 'paul'), master: 'george' }, 'john', 'none sync_record_stale'],
  ['strict, the set describes another master: nobody', 'strict', { ...rec(1, 'paul'), master: 'george' }, 'john', 'none sync_record_stale'],
  ['the set describes no master: nobody', 'on', { ...rec(1, 'paul'), master: null }, 'john', 'none sync_record_stale'],
  ['recorded asynchronous for another master: still nobody (as the agents refuse it)', 'on', { ...rec(0, 'paul'), master: 'george' }, 'john', 'none sync_record_stale'],
  ['synchronous_mode off: no set is looked at', 'off', { ...rec(1, 'paul'), master: 'george' }, 'john', 'any'],
  ['never recorded: any candidate with the warning (nothing to compare)', 'on', null, 'john', 'any+warning'],
  ['master not given (an operator promote with no master in the book): not checked', 'on', { ...rec(1, 'paul'), master: 'george' }, undefined, 'only paul'],
];
for (const [label, mode, record, master, expected] of MASTER_ROWS) {
  test(`sync promotion, the set's master: ${label}`, () => {
    const rule = syncPromotionRule(mode, record, [up('paul', '0/9'), up('ringo', '0/F')], master);
    const got = rule.kind === 'any_candidate' ? (rule.warning === null ? 'any' : 'any+warning') : rule.kind === 'none' ? `none ${rule.code}` : `only ${rule.allowed.sort().join(',')}`;
    assert.equal(got, expected);
  });
}

test("sync promotion: a stale set's refusal names both masters and when it was recorded", () => {
  const rule = syncPromotionRule('on', { ...rec(1, 'paul'), master: 'george', reason: 'ANY 1 of paul' }, [up('paul', '0/9')], 'john');
  assert.match(rule.kind === 'none' ? rule.reason : '', /describes george, not john \(recorded 2026-12-04T09:00:00.000Z: ANY 1 of paul\)/);
});
