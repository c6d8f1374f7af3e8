/**
 * The pure leadership decisions: whether a leader key (as read or watched) is still our term,
 * when an unrenewed lease must count as lost, what a leader record must hold, and what a guarded
 * transaction compares.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HandyRepError } from '../../src/model/errors.js';
import { prefixEnd, requestOp, termCompares } from '../../src/store/etcd/guarded-txn.js';
import {
  encodeLeaderRecord,
  judgeLeaderKey,
  keepaliveSaysExpired,
  leadershipDeadlineMs,
  leaseTimeFor,
  parseLeaderRecord,
  renewIntervalMs,
  type Term,
} from '../../src/store/etcd/leader-record.js';

const record = { controller_id: 'ctl-a', api_url: 'http://a:8080', since: '2026-12-04T03:00:00.000Z' };
const ours: Term = { term: '42', leaseId: '7587', record, value: encodeLeaderRecord(record) };

describe('judgeLeaderKey', () => {
  const rows: ReadonlyArray<[string, Parameters<typeof judgeLeaderKey>[0], boolean, RegExp | null]> = [
    ['our key as written', { create_revision: '42', lease: '7587', value: ours.value }, true, null],
    ['our key as a Buffer', { create_revision: '42', lease: '7587', value: Buffer.from(ours.value) }, true, null],
    ['absent', null, false, /is gone/],
    ['a delete event (create revision 0)', { create_revision: '0', lease: '0', value: '' }, false, /is gone/],
    ['re-created by another controller', { create_revision: '57', lease: '9000', value: '{"controller_id":"ctl-b"}' }, false, /re-created \(term 57, ours was 42\)/],
    ['re-created by ourselves after a restart', { create_revision: '57', lease: '7590', value: ours.value }, false, /re-created/],
    ['same revision, other lease', { create_revision: '42', lease: '1', value: ours.value }, false, /another lease/],
    ['same revision and lease, other value', { create_revision: '42', lease: '7587', value: encodeLeaderRecord({ ...record, controller_id: 'ctl-b' }) }, false, /names another controller/],
  ];
  for (const [what, kv, held, reason] of rows) {
    it(`${what} → ${held ? 'held' : 'lost'}`, () => {
      const judgement = judgeLeaderKey(kv, ours);
      assert.equal(judgement.held, held);
      if (!judgement.held && reason) assert.match(judgement.reason, reason);
    });
  }
});

describe('lease timing', () => {
  const rows: ReadonlyArray<[number, number, number]> = [
    // ttl s, renewal interval ms, loss deadline ms after the last renewal sent
    [2, 666, 1500],
    [3, 1000, 2250],
    [10, 3333, 9000],
    [60, 20000, 59000],
  ];
  for (const [ttl, interval, deadline] of rows) {
    it(`ttl ${ttl} s: renew every ${interval} ms, lost ${deadline} ms after the last renewal sent`, () => {
      assert.equal(renewIntervalMs(ttl), interval);
      assert.equal(leadershipDeadlineMs(1_000_000, ttl), 1_000_000 + deadline);
      assert.ok(deadline < ttl * 1000, 'always before etcd can expire the lease');
      assert.ok(deadline > 2 * interval, 'at least two renewals may fail before a loss');
    });
  }
  // ttl 4 s: the deadline is 3000 ms after the last renewal sent (margin 1 s).
  const timeRows: ReadonlyArray<[string, number, number, 'ok' | 'short' | 'expired']> = [
    ['just renewed, a 1 s command', 0, 1000, 'ok'],
    ['1 ms left, no command length asked', 2999, 0, 'ok'],
    ['1 ms left, a 1 s command: refused, the term is kept', 2999, 1000, 'short'],
    ['exactly the command length left', 2000, 1000, 'ok'],
    ['one ms short of the command length', 2001, 1000, 'short'],
    ['deadline reached', 3000, 0, 'expired'],
    ['deadline passed', 5000, 1000, 'expired'],
  ];
  for (const [what, elapsed, need, expected] of timeRows) {
    it(`lease time for a command: ${what} → ${expected}`, () => assert.equal(leaseTimeFor(1_000_000, 4, 1_000_000 + elapsed, need), expected));
  }
  it('a keep-alive answer with TTL 0 or less says the lease is gone', () => {
    assert.equal(keepaliveSaysExpired('0'), true);
    assert.equal(keepaliveSaysExpired('-1'), true);
    assert.equal(keepaliveSaysExpired(''), true);
    assert.equal(keepaliveSaysExpired('2'), false);
  });
});

describe('leader record', () => {
  it('round-trips', () => assert.deepEqual(parseLeaderRecord('/k/leader', encodeLeaderRecord(record)), record));
  it('round-trips with the deployment it announces (agents: the master\'s agent keeps the synchronous set)', () => {
    const agents = { ...record, deployment: 'agents' as const };
    assert.deepEqual(parseLeaderRecord('/k/leader', encodeLeaderRecord(agents)), agents);
    assert.doesNotMatch(encodeLeaderRecord(record), /deployment/, 'not said when absent: the value older controllers write');
  });
  const bad: ReadonlyArray<[string, string]> = [
    ['not JSON', '{'],
    ['no controller id', '{"api_url": null, "since": "x"}'],
    ['an empty controller id', '{"controller_id": "", "api_url": null, "since": "x"}'],
    ['a controller id with a terminal escape', '{"controller_id": "a\\u001b[2J", "api_url": null, "since": "x"}'],
    ['a controller id with spaces', '{"controller_id": "a b", "api_url": null, "since": "x"}'],
    ['api_url a number', '{"controller_id": "a", "api_url": 1, "since": "x"}'],
    ['no since', '{"controller_id": "a", "api_url": null}'],
  ];
  it('an unknown deployment (a newer controller\'s) is read as not said (review s8 N4)', () => {
    assert.deepEqual(parseLeaderRecord('/h/leader', '{"controller_id": "a", "api_url": null, "since": "x", "deployment": "cloud"}'), { controller_id: 'a', api_url: null, since: 'x' });
  });
  for (const [what, value] of bad) {
    it(`refused: ${what}`, () => {
      assert.throws(
        () => parseLeaderRecord('/h/leader', value),
        (err: unknown) => err instanceof HandyRepError && err.code === 'STORE_DATA' && /etcd key \/h\/leader does not hold a leader record/.test(err.message),
      );
    });
  }
});

describe('guarded transaction', () => {
  it('compares create revision (the term), lease and value of the leader key', () => {
    const compares = termCompares('/h/leader', ours);
    assert.deepEqual(
      compares.map((c) => [c.key?.toString(), c.target, c.result, c.create_revision ?? c.lease ?? c.value?.toString()]),
      [
        ['/h/leader', 'Create', 'Equal', '42'],
        ['/h/leader', 'Lease', 'Equal', '7587'],
        ['/h/leader', 'Value', 'Equal', ours.value],
      ],
    );
  });
  it('prefixEnd is the first key after the prefix', () => {
    assert.equal(prefixEnd('/h/servers/').toString(), '/h/servers0');
    assert.equal(prefixEnd('/a').toString(), '/b');
    // UTF-8 "ÿ" is c3 bf: only the last byte grows.
    assert.deepEqual([...prefixEnd('/ÿ')], [0x2f, 0xc3, 0xc0]);
  });
  it('operations map to etcd requests', () => {
    assert.deepEqual(requestOp({ kind: 'put', key: '/h/k', value: 'v' }), { request_put: { key: Buffer.from('/h/k'), value: Buffer.from('v') } });
    assert.deepEqual(requestOp({ kind: 'delete', key: '/h/k' }), { request_delete_range: { key: Buffer.from('/h/k') } });
    assert.deepEqual(requestOp({ kind: 'delete-prefix', prefix: '/h/s/' }), { request_delete_range: { key: Buffer.from('/h/s/'), range_end: Buffer.from('/h/s0') } });
  });
});
