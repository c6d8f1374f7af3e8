/**
 * The agent's timing rule: its PostgreSQL must stop before its master lease can lapse.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { AgentLease } from '../../src/agent/agent-lease.js';
import { agentTimingProblem, fenceLeadMs, replicaIdleCallMs, TICK_SLACK_MS } from '../../src/agent/agent-timing.js';
import { attemptMsOf } from '../../src/store/etcd/lean/client.js';
import type { EtcdContext } from '../../src/store/etcd/client.js';

test('a safety margin below the ttl is accepted', () => {
  assert.equal(agentTimingProblem({ ttl: 10, safetyMargin: 3 }), null);
});
test('a safety margin equal to the ttl is refused, naming both', () => {
  assert.match(agentTimingProblem({ ttl: 4, safetyMargin: 4 }) ?? '', /agent.safety_margin \(4 s\) must be less than etcd.ttl \(4 s\)/);
});
test('the default margin with a shorter ttl is refused', () => {
  assert.match(agentTimingProblem({ ttl: 2, safetyMargin: 3 }) ?? '', /less than etcd.ttl \(2 s\)/);
});

test('the stop starts a quarter of the fresh window early, at most 250 ms', () => {
  assert.equal(fenceLeadMs(3000), 250);
  assert.equal(fenceLeadMs(800), 200);
  assert.equal(fenceLeadMs(0), 0);
});

/** A master lease (fresh for 2000 ms) granted at time 0 on a clock the test sets, counting its stale callbacks. */
async function grantedLease(t: TestContext): Promise<{ lease: AgentLease; setNow: (ms: number) => void; staleCalls: () => number }> {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let nowMs = 0;
  let stale = 0;
  // Only a lease grant is ever asked of etcd here.
  const ctx = { ttlSeconds: 4, client: { leaseClient: { leaseGrant: async () => ({ ID: '7', TTL: '4' }) } } } as unknown as EtcdContext;
  const lease = new AgentLease(ctx, 'master lease', 2000, () => stale++, () => nowMs, undefined, fenceLeadMs(2000));
  await lease.hold(1000);
  return { lease, setNow: (ms) => (nowMs = ms), staleCalls: () => stale };
}

test('the master lease calls its stale callback the lead time before ttl − safety_margin, not at it', async (t) => {
  const { lease, setNow, staleCalls } = await grantedLease(t);
  assert.equal(lease.lastRenewalSentMs, 0, 'the grant sent at 0 dates the lease (the fence log and /metrics read it)');
  setNow(1749);
  t.mock.timers.tick(1749);
  assert.equal(staleCalls(), 0, 'not yet');
  setNow(1751);
  t.mock.timers.tick(2);
  assert.equal(staleCalls(), 1, 'called 250 ms before the 2000 ms deadline');
  assert.equal(lease.fresh(), true, 'still fresh when the stop starts: the stop must land before the deadline');
  lease.close();
});

test('a stale timer that fires early by the lease clock (the event loop clock lags it) is armed again, never skipped', async (t) => {
  const { lease, setNow, staleCalls } = await grantedLease(t);
  // The timer is due after 1751 ms of the loop's clock, but the lease's own clock reads 1745 then.
  setNow(1745);
  t.mock.timers.tick(1751);
  assert.equal(staleCalls(), 0, 'early by the lease clock: not stale yet');
  setNow(1751);
  t.mock.timers.tick(6);
  assert.equal(staleCalls(), 1, 'the rest waited out, then the stale callback');
  lease.close();
});

test('replicaIdleCallMs: attempts that end just past the next tick, only where a hung one leaves the member lease a margin', () => {
  // loop 1 s, ttl 5 s, callMs 1000 (attempt 499 ms, due before the next tick): two attempts of 1,050 ms.
  // Worst gap between renewals reaching etcd: 1,667 + 1,000 + 1,050 = 3,717 ms ≤ 3,750 (¾ ttl).
  assert.equal(replicaIdleCallMs(1000, 1000, 5000), 2100);
  assert.equal(attemptMsOf(replicaIdleCallMs(1000, 1000, 5000)), 1000 + TICK_SLACK_MS);
  // Already longer (ttl 10, margin 3: callMs 2,333): unchanged.
  assert.equal(replicaIdleCallMs(2333, 1000, 10_000), 2333);
  // Loops too long for the ttl: the worst gap would pass ¾ ttl (ttl 5, loop 1.616 s: 4,949 ms; ttl 4, loop 1 s: 3,383 > 3,000).
  assert.equal(replicaIdleCallMs(1000, 1616, 5000), 1000);
  assert.equal(replicaIdleCallMs(1000, 1017, 5000), 1000);
  assert.equal(replicaIdleCallMs(666, 1000, 4000), 666);
  // Default ttl, longer loop: 3,333 + 3,000 + 3,050 > 7,500.
  assert.equal(replicaIdleCallMs(2333, 3000, 10_000), 2333);
  assert.equal(replicaIdleCallMs(2333, 2000, 10_000), 4100);
});

test('a grant answered after close() holds nothing and arms no stale timer (a ref\'d timer would keep the process alive)', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let answer: (v: { ID: string; TTL: string }) => void = () => undefined;
  let stale = 0;
  const ctx = { ttlSeconds: 4, client: { leaseClient: { leaseGrant: () => new Promise((resolve) => (answer = resolve)) } } } as unknown as EtcdContext;
  const lease = new AgentLease(ctx, 'master lease', 2000, () => stale++, () => 0, undefined, fenceLeadMs(2000));
  const held = lease.hold(1000);
  lease.close();
  answer({ ID: '7', TTL: '4' });
  assert.equal(await held, false);
  assert.equal(lease.held, false);
  t.mock.timers.tick(5000);
  assert.equal(stale, 0);
});
