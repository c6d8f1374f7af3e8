/**
 * Deployment agents with synchronous_mode: the master's agent keeps the synchronous set, so a
 * controller (which would write its own older copy over it) refuses that configuration at start
 * and at reload_conf, over the simulated cluster (real wiring of HandyRep.open).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { SimWorld } from '../fixtures/simulated-handyrep.js';

const world = new SimWorld();
after(() => world.done());

const AGENTS_SYNC = { handyrep: { deployment: 'agents' }, etcd: { endpoints: ['http://127.0.0.1:2379'] }, failover: { auto_failover: false, synchronous_mode: 'on' } };

test('HandyRep.open refuses deployment agents with synchronous_mode on', async () => {
  await assert.rejects(world.open(world.configFile('a', AGENTS_SYNC)), /deployment is agents with failover.synchronous_mode on: the master's node agent keeps the synchronous set/);
});

test('reload_conf refuses it too: nothing changes, synchronous_mode stays off', async () => {
  const path = world.configFile('b');
  const hr = await world.open(path);
  world.configFile('b', AGENTS_SYNC);
  const rd = await hr.reload_conf();
  assert.equal(rd.result, 'FAIL');
  assert.match(rd.details, /not reloaded; nothing changed: handyrep.deployment is agents with failover.synchronous_mode on/);
  assert.equal(await hr.get_setting(['failover', 'synchronous_mode']), 'off');
  assert.equal(await hr.get_setting(['handyrep', 'deployment']), 'single');
});
