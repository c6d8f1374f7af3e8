/** The per-address slow-down after wrong passwords. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FailureThrottle } from '../../src/daemon/auth-throttle.js';

test('the delay doubles per failure up to the cap; success resets; other addresses are not affected', () => {
  const throttle = new FailureThrottle({ baseMs: 100, maxMs: 1000 });
  assert.equal(throttle.delayMs('a'), 0);
  const delays = [1, 2, 3, 4, 5, 6].map(() => {
    throttle.recordFailure('a');
    return throttle.delayMs('a');
  });
  assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000]);
  assert.equal(throttle.delayMs('b'), 0);
  throttle.recordSuccess('a');
  assert.equal(throttle.delayMs('a'), 0);
});

test('quiet addresses are forgotten; the table is bounded, oldest dropped first', () => {
  let now = 0;
  const throttle = new FailureThrottle({ baseMs: 10, maxMs: 100, forgetMs: 1000, maxAddresses: 3, now: () => now });
  throttle.recordFailure('a');
  now = 1001;
  assert.equal(throttle.delayMs('a'), 0, 'forgotten after forgetMs');
  for (const address of ['x', 'y', 'z', 'w']) throttle.recordFailure(address);
  assert.equal(throttle.delayMs('x'), 0, 'the oldest of four went');
  assert.equal(throttle.delayMs('w'), 10);
  assert.equal(throttle.recordFailure('a'), 1, 'counting starts again');
});

test('a zero base delay disables the slow-down; huge failure counts do not overflow', () => {
  const off = new FailureThrottle({ baseMs: 0, maxMs: 5000 });
  off.recordFailure('a');
  assert.equal(off.delayMs('a'), 0);
  const capped = new FailureThrottle({ baseMs: 1, maxMs: 5000 });
  for (let i = 0; i < 2000; i += 1) capped.recordFailure('a');
  assert.equal(capped.delayMs('a'), 5000);
});
