/**
 * judgeAdoption, row by row (issue 14): a leading controller takes the master an agents' election
 * made into its book only when the key is an election take of the node it names, confirmed, that
 * node's agent holds its master lease, the node answers writable, and the book's master does not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adoptionNeedsProbes, agentsConfirmDeadlineMs, beforeJudging, judgeAdoption, oldMasterFateByFence, type AdoptionFacts, type AdoptionVerdict } from '../../src/engine/agents-master-adoption.js';
import type { MasterRecord } from '../../src/store/etcd/master-record.js';

const ELECTED: MasterRecord = { name: 'paul', term: '812', timeline: 2, promoted_lsn: '0/5000060', sync_set: [], since: '2026-12-04T20:00:00.000Z', written_by: 'agent:paul' };

const BASE: AdoptionFacts = {
  bookMaster: 'john',
  bookMasters: ['john'],
  bookServers: ['john', 'paul', 'ringo'],
  record: ELECTED,
  leaseHeld: true,
  named: 'writable',
  oldMaster: 'no_answer',
  oldMasterLease: null,
  otherWritable: [],
  takeAgeMs: 5_000,
  confirmDeadlineMs: 64_000,
};

type Expect = { action: AdoptionVerdict['action']; code?: string; fate?: string | null; why?: RegExp };

const rows: [label: string, change: Partial<AdoptionFacts>, expected: Expect][] = [
  ['adopt: elected, confirmed, lease held, writable; old master silent → fenced unconfirmed', {}, { action: 'adopt', fate: 'unconfirmed', why: /^adopted after the agents' election: paul \(term 812, timeline 2\).*old master john does not answer: fenced \(unconfirmed\)/ }],
  ['adopt: old master refuses connections (not running) → fenced, confirmed', { oldMaster: 'refused' }, { action: 'adopt', fate: 'confirmed' }],
  ['adopt: old master answers read-only (its agent rebooted it as a standby) → kept as a replica', { oldMaster: 'read_only' }, { action: 'adopt', fate: 'rejoined', why: /kept as a replica/ }],
  ['adopt: the book has no master → nothing to fence', { bookMaster: null, bookMasters: [], oldMaster: null }, { action: 'adopt', fate: null }],
  ['adopt (agent_lease): old master silent but its master lease is gone → fenced, confirmed by the lease', { oldMasterLease: 'absent' }, { action: 'adopt', fate: 'confirmed', why: /its master lease is gone/ }],
  ['adopt (agent_lease): old master silent, its lease unknown → fenced unconfirmed', { oldMasterLease: 'unknown' }, { action: 'adopt', fate: 'unconfirmed' }],
  ['refuse (agent_lease): the old master\'s lease is still held', { oldMasterLease: 'held' }, { action: 'refuse', code: 'old_master_lease_held' }],
  ['refuse: another server of the book also answers writable', { otherWritable: ['ringo'] }, { action: 'refuse', code: 'other_writable', why: /ringo ALSO answers writable/ }],
  ['refuse: more than one enabled master in the book', { bookMaster: null, bookMasters: ['john', 'ringo'], oldMaster: null }, { action: 'refuse', code: 'book_ambiguous' }],
  ['refuse: the named server answers read-only', { named: 'read_only' }, { action: 'refuse', code: 'not_writable', why: /paul does not answer as a writable master \(read_only\)/ }],
  ['refuse: the named server does not answer', { named: 'no_answer' }, { action: 'refuse', code: 'not_writable' }],
  ['refuse: its agent does not hold the master lease', { leaseHeld: false }, { action: 'refuse', code: 'lease_not_held', why: /does not hold master_lease\/paul/ }],
  ['refuse: the lease could not be read', { leaseHeld: null }, { action: 'refuse', code: 'lease_unknown' }],
  ['wait: the take is not confirmed, 5 s old, its lease held (promotion in flight): not judging john', { record: { ...ELECTED, timeline: null } }, { action: 'wait', code: 'promotion_in_flight', why: /take 5 s ago is not confirmed yet .*confirmed within 64 s or given back\): not judging john until it is/ }],
  ['wait: unconfirmed and young, the lease unknown (etcd slow): still waiting', { record: { ...ELECTED, timeline: null }, leaseHeld: null }, { action: 'wait', code: 'promotion_in_flight' }],
  ['wait: unconfirmed, whatever the ports answer (nobody is judged yet)', { record: { ...ELECTED, timeline: null }, named: 'read_only', oldMaster: 'writable' }, { action: 'wait', code: 'promotion_in_flight' }],
  ['refuse: unconfirmed and young, but its agent no longer holds its lease (it died or gave the key back)', { record: { ...ELECTED, timeline: null }, leaseHeld: false }, { action: 'refuse', code: 'unconfirmed', why: /no longer holds its master lease/ }],
  ['refuse: unconfirmed past its deadline (the promotion failed or its agent died): judged as before', { record: { ...ELECTED, timeline: null }, takeAgeMs: 64_000 }, { action: 'refuse', code: 'unconfirmed', why: /not confirmed within 64 s/ }],
  ['refuse: unconfirmed, `since` unreadable: no wait without a bound', { record: { ...ELECTED, timeline: null }, takeAgeMs: null }, { action: 'refuse', code: 'unconfirmed' }],
  ['refuse: unconfirmed, `since` far in the future (a skewed clock): no wait without a bound', { record: { ...ELECTED, timeline: null }, takeAgeMs: -70_000 }, { action: 'refuse', code: 'unconfirmed' }],
  ['wait: unconfirmed, `since` a little in the future (clocks a second apart)', { record: { ...ELECTED, timeline: null }, takeAgeMs: -1_000 }, { action: 'wait', code: 'promotion_in_flight' }],
  ['refuse first: an ambiguous book is refused even while a take is in flight', { record: { ...ELECTED, timeline: null }, bookMasters: ['john', 'ringo'], bookMaster: null }, { action: 'refuse', code: 'book_ambiguous' }],
  ['refuse: the named server is not in the book', { record: { ...ELECTED, name: 'george', written_by: 'agent:george' } }, { action: 'refuse', code: 'unknown_server' }],
  ['refuse: the book\'s master also answers writable (two writable servers)', { oldMaster: 'writable' }, { action: 'refuse', code: 'old_master_writable', why: /ALSO answers writable/ }],
  ['none: the key was written by a controller', { record: { ...ELECTED, written_by: 'ctl-b' } }, { action: 'none', code: 'written_by_controller' }],
  ['none: a bootstrap claim is not an election', { record: { ...ELECTED, written_by: 'agent:paul bootstrap' } }, { action: 'none', code: 'not_an_election' }],
  ['none: written by another node\'s agent (not a take of the node it names)', { record: { ...ELECTED, written_by: 'agent:ringo' } }, { action: 'none', code: 'not_an_election' }],
  ['none: the agents\' master is already the book\'s master', { bookMaster: 'paul' }, { action: 'none', code: 'same_master' }],
  ['none: no master key', { record: null }, { action: 'none', code: 'no_record' }],
];

for (const [label, change, expected] of rows) {
  test(`agents' master adoption: ${label}`, () => {
    const facts = Object.freeze({ ...BASE, ...change });
    const verdict = judgeAdoption(facts);
    assert.equal(verdict.action, expected.action, verdict.why);
    if (expected.code !== undefined) assert.equal('code' in verdict ? verdict.code : undefined, expected.code);
    if (expected.fate !== undefined) assert.equal(verdict.action === 'adopt' ? verdict.fate : 'n/a', expected.fate);
    if (expected.why) assert.match(verdict.why, expected.why);
    if (verdict.action === 'adopt') {
      assert.equal(verdict.master, 'paul');
      assert.equal(verdict.oldMaster, facts.bookMaster);
    }
  });
}

test("agents' master adoption: the servers are probed only when the key names another master an election made", () => {
  assert.equal(adoptionNeedsProbes('john', ELECTED), true);
  assert.equal(adoptionNeedsProbes(null, ELECTED), true);
  assert.equal(adoptionNeedsProbes('paul', ELECTED), false);
  assert.equal(adoptionNeedsProbes('john', { ...ELECTED, written_by: 'ctl-a' }), false);
  assert.equal(adoptionNeedsProbes('john', null), false);
});

test("agents' master adoption: the confirm deadline is the agent's promote wait plus one etcd ttl", () => {
  assert.equal(agentsConfirmDeadlineMs(60_000, 4), 64_000);
});

test('beforeJudging: only an adoption or an agents\' promotion in flight stops the judgement', () => {
  assert.deepEqual(beforeJudging(null), { go: 'judge' });
  assert.deepEqual(beforeJudging({ action: 'error', why: 'etcd' }), { go: 'judge' });
  assert.deepEqual(beforeJudging({ action: 'none', code: 'same_master', why: 'x' }), { go: 'judge' });
  assert.deepEqual(beforeJudging({ action: 'refuse', code: 'unconfirmed', why: 'x' }), { go: 'judge' });
  assert.deepEqual(beforeJudging({ action: 'wait', code: 'promotion_in_flight', why: 'w' }), { go: 'wait', code: 'promotion_in_flight', why: 'w' });
  assert.deepEqual(beforeJudging({ action: 'adopt', master: 'george', oldMaster: 'john', fate: 'confirmed', why: 'a' }), { go: 'adopted', why: 'a' });
});

test('oldMasterFateByFence: a refusal confirms a fence only with the lease gone (a fence\'s rule); read-only is rejoined; no answer needs the lease', () => {
  const rows: [Parameters<typeof oldMasterFateByFence>[0], boolean, string][] = [
    ['refused', false, 'unconfirmed'],
    ['refused', true, 'confirmed'],
    ['no_answer', false, 'unconfirmed'],
    ['no_answer', true, 'confirmed'],
    ['starting', false, 'unconfirmed'],
    ['read_only', false, 'rejoined'],
    [null, false, 'unconfirmed'],
  ];
  for (const [answer, leaseGone, fate] of rows) assert.equal(oldMasterFateByFence(answer, leaseGone), fate, `${answer} lease gone ${leaseGone}`);
});
