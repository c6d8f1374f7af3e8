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
  const hr = { clone: method, poll: method, get_master_name: method, add_server: method, reload_conf: method, assertLeadsFor: () => undefined } as unknown as HandyRep;
  return { hr, calls };
}

test('named parameters arrive in the positional order of the table, missing ones undefined', async () => {
  const { hr, calls } = recorder();
  assert.equal(await invokeOperation(hr, 'clone', { clonefrom: 'paul', replicaserver: 'ringo' }, 'controller'), 'ran');
  assert.deepEqual(calls, [['ringo', undefined, 'paul', undefined, undefined]]);
});

test('values are passed as given: the method validates them, not the bridge', async () => {
  const { hr, calls } = recorder();
  await invokeOperation(hr, 'poll', { servername: 'not a name; rm -rf /' }, 'controller');
  assert.deepEqual(calls, [['not a name; rm -rf /']]);
});

for (const [label, name, named, key] of [
  ['an unknown parameter', 'poll', { servername: 'john', force: true }, 'force'],
  ['a parameter of a parameter-less operation', 'get_master_name', { verify: true }, 'verify'],
  ['an inherited property name', 'poll', { servername: 'john', constructor: 1 }, 'constructor'],
] as const) {
  test(`${label} is refused before the method runs`, async () => {
    const { hr, calls } = recorder();
    await assert.rejects(invokeOperation(hr, name, named, 'controller'), (err: unknown) => err instanceof HandyRepError && err.code === 'INVALID_PARAMETER' && err.message.includes(`"${key}"`));
    assert.deepEqual(calls, []);
  });
}

test('an unknown operation is refused', async () => {
  const { hr } = recorder();
  await assert.rejects(invokeOperation(hr, 'drop_everything', {}, 'controller'), (err: unknown) => err instanceof HandyRepError && err.code === 'UNKNOWN_FUNCTION');
});

test('parsed parameters carry the types and defaults of the table', () => {
  const parsed: OperationParams<'clone'> = parseParams('clone', { replicaserver: 'ringo' });
  // Typed fields: these lines would not compile if the table's types were lost.
  const reclone: boolean = parsed.reclone;
  const from: string | null = parsed.clonefrom;
  assert.deepEqual({ reclone, from, wait: parsed.wait, keep: parsed.keep_old_data }, { reclone: false, from: null, wait: true, keep: null });
});

for (const [label, name, named, key] of [
  ['a configuration file from the web', 'reload_conf', { config_file: '/tmp/evil.yaml' }, 'config_file'],
  ['a what-runs-where server setting from the web', 'add_server', { servername: 'ringo', serverprops: { hostname: 'h4', pg_bin_dir: '/tmp/evilbin' } }, 'pg_bin_dir'],
] as const) {
  test(`${label} is forbidden before the method runs; the controller may give it`, async () => {
    const { hr, calls } = recorder();
    await assert.rejects(invokeOperation(hr, name, named, 'web'), (err: unknown) => err instanceof HandyRepError && err.code === 'FORBIDDEN' && err.message.includes(key));
    assert.deepEqual(calls, []);
    await invokeOperation(hr, name, named, 'controller');
    assert.equal(calls.length, 1);
  });
}

test('etcd_lease follower: an admin operation is refused NOT_LEADER before it runs; reads run', async () => {
  const calls: string[] = [];
  const method = (name: string) => async (): Promise<string> => {
    calls.push(name);
    return 'ran';
  };
  const asked: string[] = [];
  const hr = {
    poll: method('poll'),
    get_master_name: method('get_master_name'),
    assertLeadsFor: (operation: string) => {
      asked.push(operation);
      throw new HandyRepError('NOT_LEADER', `${operation}: this controller does not lead`);
    },
  } as unknown as HandyRep;
  await assert.rejects(invokeOperation(hr, 'poll', { servername: 'john' }, 'web'), (err: unknown) => err instanceof HandyRepError && err.code === 'NOT_LEADER');
  assert.equal(await invokeOperation(hr, 'get_master_name', {}, 'web'), 'ran');
  assert.deepEqual(calls, ['get_master_name']);
  assert.deepEqual(asked, ['poll']);
});
