/**
 * The keeper's gate (keeper-gate.ts): a pass skipped because the master lease is fresh for less
 * than the pass needs keeps a narrowing's catch-up; only another lease (or none) ends it. And the
 * bound on each of the keeper's statements (keeper-session.ts): a statement that does not answer
 * fails the pass at its deadline and drops the session. And the pass runs beside the round
 * (SyncKeeper.kick): never awaited by it, one at a time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keeperGate, mayWrite, type KeeperGate, type KeeperLease } from '../../src/agent/sync/keeper-gate.js';
import { beforeDeadline } from '../../src/agent/sync/keeper-session.js';
import { SyncKeeper } from '../../src/agent/sync/sync-keeper.js';
import type { EtcdContext } from '../../src/store/etcd/client.js';
import { etcdKeys } from '../../src/store/etcd/keys.js';

const held = (id: string, freshLeftMs: number): KeeperLease => Object.freeze({ id, freshLeftMs });
const BUDGET = 1000;

describe('keeperGate: what a pass keeps across a round skipped for lease freshness', () => {
  const rows: [string, KeeperLease, string | null, KeeperGate['kind'], boolean | null][] = [
    ['no lease held → not the owner (nothing kept)', Object.freeze({ id: null, freshLeftMs: 0 }), 'L1', 'not_owner', null],
    ['held, fresh for the pass, nothing kept yet → run', held('L1', 5000), null, 'run', false],
    ['held, fresh, progress built under the same lease → run, progress kept', held('L1', 5000), 'L1', 'run', false],
    ['held but fresh for less than the pass needs, same lease → skip, progress kept', held('L1', 400), 'L1', 'skip', null],
    ['stale (fresh for 0 ms), same lease → skip, progress kept', held('L1', 0), 'L1', 'skip', null],
    ['exactly the budget left → run', held('L1', BUDGET), 'L1', 'run', false],
    ['short and another lease than the progress was built under → not the owner (dropped)', held('L2', 400), 'L1', 'not_owner', null],
    ['fresh under another lease (granted again: the key may have changed hands) → run after a reset', held('L2', 5000), 'L1', 'run', true],
  ];
  for (const [what, lease, owner, kind, reset] of rows) {
    it(what, () => {
      const gate = keeperGate(lease, BUDGET, owner);
      assert.equal(gate.kind, kind);
      if (gate.kind === 'run') assert.equal(gate.reset, reset);
      if (gate.kind === 'skip') assert.match(gate.reason, /fresh for \d+ ms, the keeper needs 1000 ms/);
    });
  }
});

describe('mayWrite: each write of a pass checks the lease again', () => {
  const rows: [string, KeeperLease, boolean][] = [
    ['same lease, fresh for a call → yes', held('L1', 600), true],
    ['same lease, fresh for less than a call → no', held('L1', 200), false],
    ['another lease → no', held('L2', 5000), false],
    ['no lease → no', Object.freeze({ id: null, freshLeftMs: 0 }), false],
  ];
  for (const [what, lease, expected] of rows) it(what, () => assert.equal(mayWrite(lease, 'L1', 500), expected));
});

describe('beforeDeadline: one keeper statement, bounded', () => {
  it('an answer within the deadline is returned, the session kept', async () => {
    let dropped = 0;
    assert.equal(await beforeDeadline('SELECT 1', 200, async () => 7, () => dropped++), 7);
    assert.equal(dropped, 0);
  });

  it('a statement that never answers fails at its deadline, names it, and drops the session', async () => {
    let dropped = 0;
    const started = performance.now();
    await assert.rejects(beforeDeadline('ALTER SYSTEM SET synchronous_standby_names', 100, () => new Promise<never>(() => undefined), () => dropped++), /did not answer within 100 ms \(ALTER SYSTEM SET synchronous_standby_names\): the keeper's session is dropped, nothing after it done this pass/);
    assert.equal(dropped, 1);
    // Bounded: nowhere near an unbounded wait (generous margin for a loaded machine).
    assert.ok(performance.now() - started < 5000);
  });

  it('a statement error passes through unchanged, the session kept', async () => {
    let dropped = 0;
    await assert.rejects(beforeDeadline('SELECT', 200, () => Promise.reject(new Error('canceling statement due to statement timeout')), () => dropped++), /canceling statement due to statement timeout/);
    assert.equal(dropped, 0);
  });
});

describe('SyncKeeper.kick: a pass beside the round, one at a time', () => {
  it('returns at once while etcd hangs; a second kick during the pass starts none; the pass ends at its deadline and says so', async () => {
    // etcd that never answers: the pass is bounded by the call budget (100 ms here).
    const ctx = { client: { kv: { txn: () => new Promise<never>(() => undefined) } }, keys: etcdKeys('/t/') } as unknown as EtcdContext;
    let leaseAsks = 0;
    const lines: string[] = [];
    const hands = {
      lease: () => {
        leaseAsks += 1;
        return { id: 'L1', freshLeftMs: 60_000 };
      },
      sql: () => Promise.reject(new Error('not reached')),
      now: () => performance.now(),
    };
    const keeper = new SyncKeeper(ctx, { node: 'john', policy: { mode: 'on', count: 1, method: 'any' }, fileServers: {}, callMs: 100, newMasterMs: 0 }, hands, (line) => lines.push(line));
    keeper.kick();
    assert.deepEqual(lines, [], 'kick returned while its pass still waits for etcd');
    keeper.kick();
    assert.equal(leaseAsks, 1, 'the second kick started no pass');
    await keeper.stop();
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? '', /^agent john: synchronous set not kept this round: etcd did not answer within 100 ms \(read the synchronous set\)/);
    keeper.kick();
    assert.equal(leaseAsks, 2, 'the pass ended: the next kick starts one');
    await keeper.stop();
    assert.equal(lines.length, 1, 'the same failure is said once');
  });
});
