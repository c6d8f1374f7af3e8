import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NodeControl, type NodeControlEnv } from '../../src/runtime/node-control.js';

/** A started replica whose verification fails `failures` times (its WAL receiver not streaming yet), then passes. */
function env(failures: number, retries = 6): { env: NodeControlEnv; verifies: () => number; slept: number[] } {
  let verifies = 0;
  const slept: number[] = [];
  const record = { name: 'paul', enabled: true, role: 'replica', hostname: 'paul.test', port: 5432, restart_method: 'restart_pg_ctl', status: 'down' };
  const fake = {
    book: { get: () => record, applyStatus: () => undefined },
    plugins: { get: () => ({ control: async () => ({ ok: true, details: 'started' }) }) },
    ctx: () => ({ config: { failover: { recovery_retries: retries, fail_retry_interval: 0.25 } } }),
    checks: {
      pollServer: async () => ({ result: 'SUCCESS', status: 'healthy', details: 'answers' }),
      verifyServer: async () => (++verifies > failures ? { result: 'SUCCESS', details: 'streaming from john' } : { result: 'FAIL', details: 'paul: replica is not streaming from the master' }),
    },
    sleep: async (ms: number) => void slept.push(ms),
  };
  return { env: fake as unknown as NodeControlEnv, verifies: () => verifies, slept };
}

test('startup: a replica not streaming yet at its first verification is verified again, and the start succeeds once it streams', async () => {
  const e = env(2);
  const rd = await new NodeControl(e.env).startup('paul');
  assert.equal(rd.result, 'SUCCESS', rd.details);
  assert.equal(e.verifies(), 3);
  assert.deepEqual(e.slept, [250, 250]);
});

test('startup: a replica that never verifies fails with the verification\'s words after recovery_retries', async () => {
  const e = env(99, 3);
  const rd = await new NodeControl(e.env).startup('paul');
  assert.equal(rd.result, 'FAIL');
  assert.match(rd.details, /paul started but failed verification: paul: replica is not streaming from the master/);
  assert.equal(e.verifies(), 3);
});
