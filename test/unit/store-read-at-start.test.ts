import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readAtStart } from '../../src/api/store-read-at-start.js';
import { HandyRepError } from '../../src/model/errors.js';

function retry(attempts: number, seen: number[]): Parameters<typeof readAtStart>[1] {
  return { attempts, delayMs: 1000, sleep: () => Promise.resolve(), onRetry: (attempt) => seen.push(attempt) };
}

test('an unreachable store is read again until it answers', async () => {
  const seen: number[] = [];
  let calls = 0;
  const value = await readAtStart(async () => {
    calls += 1;
    if (calls < 3) throw new HandyRepError('STORE_UNREACHABLE', 'etcd did not answer');
    return 'state';
  }, retry(10, seen));
  assert.equal(value, 'state');
  assert.deepEqual(seen, [1, 2]);
});

test('the last attempt rethrows the store error', async () => {
  const seen: number[] = [];
  let calls = 0;
  await assert.rejects(
    readAtStart(async () => {
      calls += 1;
      throw new HandyRepError('STORE_UNREACHABLE', `attempt ${calls}`);
    }, retry(3, seen)),
    (err: unknown) => err instanceof HandyRepError && err.message === 'attempt 3',
  );
  assert.deepEqual(seen, [1, 2]);
});

test('any other error is not retried', async () => {
  const seen: number[] = [];
  let calls = 0;
  await assert.rejects(
    readAtStart(async () => {
      calls += 1;
      throw new HandyRepError('CONFIG_INVALID', 'bad');
    }, retry(10, seen)),
    /bad/,
  );
  assert.equal(calls, 1);
  assert.deepEqual(seen, []);
});
