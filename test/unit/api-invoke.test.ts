/**
 * Calls by name reach the method positionally with the caller's raw values (the method validates
 * them once), and names an operation does not have are refused before anything runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HandyRep } from '../../src/api/handyrep.js';
import { invokeOperation } from '../../src/api/invoke.js';
import { parseParams, type OperationParams } from '../../src/api/operations.js';
import { HandyRepError } from '../../src/model/errors.js';

function recorder(): { hr: HandyRep; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const method = async (...args: unknown[]): Promise<string> => {
    calls.push(args);
    return 'ran';
  };
  const hr = { clone: method, poll: method, get_master_name: method } as unknown as HandyRep;
  return { hr, calls };
}

test('named parameters arrive in the positional order of the table, missing ones undefined', async () => {
  const { hr, calls } = recorder();
  assert.equal(await invokeOperation(hr, 'clone', { clonefrom: 'paul', replicaserver: 'ringo' }), 'ran');
  assert.deepEqual(calls, [['ringo', undefined, 'paul', undefined, undefined]]);
});

test('values are passed as given: the method validates them, not the bridge', async () => {
  const { hr, calls } = recorder();
  await invokeOperation(hr, 'poll', { servername: 'not a name; rm -rf /' });
  assert.deepEqual(calls, [['not a name; rm -rf /']]);
});

for (const [label, name, named, key] of [
  ['an unknown parameter', 'poll', { servername: 'john', force: true }, 'force'],
  ['a parameter of a parameter-less operation', 'get_master_name', { verify: true }, 'verify'],
  ['an inherited property name', 'poll', { servername: 'john', constructor: 1 }, 'constructor'],
] as const) {
  test(`${label} is refused before the method runs`, async () => {
    const { hr, calls } = recorder();
    await assert.rejects(invokeOperation(hr, name, named), (err: unknown) => err instanceof HandyRepError && err.code === 'INVALID_PARAMETER' && err.message.includes(`"${key}"`));
    assert.deepEqual(calls, []);
  });
}

test('an unknown operation is refused', async () => {
  const { hr } = recorder();
  await assert.rejects(invokeOperation(hr, 'drop_everything', {}), (err: unknown) => err instanceof HandyRepError && err.code === 'UNKNOWN_FUNCTION');
});

test('parsed parameters carry the types and defaults of the table', () => {
  const parsed: OperationParams<'clone'> = parseParams('clone', { replicaserver: 'ringo' });
  // Typed fields: these lines would not compile if the table's types were lost.
  const reclone: boolean = parsed.reclone;
  const from: string | null = parsed.clonefrom;
  assert.deepEqual({ reclone, from, wait: parsed.wait, keep: parsed.keep_old_data }, { reclone: false, from: null, wait: true, keep: null });
});
