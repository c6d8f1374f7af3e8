/** One run at a time per key, shared by concurrent callers (runtime/single-flight.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SingleFlight } from '../../src/runtime/single-flight.js';

/** A run the test finishes by hand, counting how many were started. */
function runs(): { work: () => Promise<number>; started: () => number; finish: (index: number, fail?: boolean) => void } {
  const resolvers: { resolve: (n: number) => void; reject: (e: Error) => void }[] = [];
  return {
    work: () => new Promise<number>((resolve, reject) => resolvers.push({ resolve, reject })),
    started: () => resolvers.length,
    finish: (index, fail = false) => {
      const r = resolvers[index];
      if (!r) throw new Error(`run ${index} was not started`);
      if (fail) r.reject(new Error(`run ${index} failed`));
      else r.resolve(index);
    },
  };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('join: a hundred concurrent callers share one run', async () => {
  const flight = new SingleFlight();
  const r = runs();
  const answers = Array.from({ length: 100 }, () => flight.run('all', 'join', r.work));
  await settle();
  assert.equal(r.started(), 1);
  r.finish(0);
  assert.deepEqual(new Set(await Promise.all(answers)), new Set([0]));
  assert.equal(flight.activeKeys, 0, 'nothing left behind');
});

test('fresh: waits for the run in progress, then one new run shared by all fresh callers; never two at once', async () => {
  const flight = new SingleFlight();
  const r = runs();
  const first = flight.run('all', 'join', r.work);
  await settle();
  const fresh = [flight.run('all', 'fresh', r.work), flight.run('all', 'fresh', r.work), flight.run('all', 'join', r.work)];
  await settle();
  assert.equal(r.started(), 1, 'the second run waits for the first');
  r.finish(0);
  assert.equal(await first, 0);
  await settle();
  assert.equal(r.started(), 2);
  r.finish(1);
  assert.deepEqual(await Promise.all(fresh), [1, 1, 1], 'a join after a queued run shares the queued one');
});

test('keys are independent; a failed run fails for everyone sharing it and the next caller starts anew', async () => {
  const flight = new SingleFlight();
  const r = runs();
  const a = [flight.run('a', 'join', r.work), flight.run('a', 'join', r.work)];
  const b = flight.run('b', 'join', r.work);
  await settle();
  assert.equal(r.started(), 2);
  r.finish(0, true);
  r.finish(1);
  for (const p of a) await assert.rejects(p, /run 0 failed/);
  assert.equal(await b, 1);
  const again = flight.run('a', 'join', r.work);
  await settle();
  assert.equal(r.started(), 3);
  r.finish(2);
  assert.equal(await again, 2);
});
