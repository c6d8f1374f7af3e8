/** StateReplies: answers kept per state revision, never across a change made while computing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StateReplies } from '../../src/daemon/state-replies.js';

test('an answer is computed once per revision and serialised once', async () => {
  let revision = 1;
  let computed = 0;
  const replies = new StateReplies(() => revision);
  const compute = async () => ({ n: ++computed });
  assert.deepEqual(await replies.withJson('get_status', compute), { value: { n: 1 }, json: '{"n":1}' });
  assert.deepEqual(await replies.value('get_status', compute), { n: 1 });
  revision = 2;
  assert.equal((await replies.withJson('get_status', compute)).json, '{"n":2}');
  assert.equal(computed, 2);
});

test('a change during the computation is not kept; keepIf and serialise apply per key', async () => {
  let revision = 1;
  let computed = 0;
  const replies = new StateReplies(() => revision);
  const racing = async () => {
    revision++;
    return ++computed;
  };
  await replies.value('k', racing);
  await replies.value('k', async () => ++computed);
  assert.equal(computed, 2, 'the answer computed while the state changed was not kept');
  const verdict = async () => ({ status: 404, body: { error: 'no such server' } });
  const options = { keepIf: (v: { status: number }) => v.status !== 404, serialise: (v: { body: object }) => JSON.stringify(v.body) };
  let calls = 0;
  const counted = async () => (calls++, verdict());
  assert.equal((await replies.withJson('/primary/x', counted, options)).json, '{"error":"no such server"}');
  await replies.withJson('/primary/x', counted, options);
  assert.equal(calls, 2, 'a refused answer is computed every time');
});
