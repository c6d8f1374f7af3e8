/**
 * Deployment agents with synchronous_mode: the master's agent keeps the synchronous set, so a
 * controller there serves the API but names no standby itself: it starts, refuses promote and
 * manual_failover (each would set synchronous_standby_names) with an error naming the deployment,
 * changing nothing, and a reload may not move it into or out of deployment agents. Over the
 * simulated cluster (real wiring of HandyRep.open; its store is local here, the etcd side is in
 * test/integration/agent-sync-controller.test.ts).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { SimWorld } from '../fixtures/simulated-handyrep.js';

const world = new SimWorld();
after(() => world.done());

const AGENTS_SYNC = { handyrep: { deployment: 'agents' }, etcd: { endpoints: ['http://127.0.0.1:2379'] }, failover: { auto_failover: false, synchronous_mode: 'on' } };

test('HandyRep.open starts a controller on deployment agents with synchronous_mode on; promote and manual_failover are refused, nothing changes', async () => {
  const hr = await world.open(world.configFile('a', AGENTS_SYNC));
  assert.equal(await hr.get_setting(['handyrep', 'deployment']), 'agents');
  await world.cycle(hr);
  const before = JSON.stringify((await hr.get_status()).servers);
  const promoted = await hr.promote('paul');
  assert.equal(promoted.result, 'FAIL');
  assert.match(promoted.details, /^promote refused: handyrep.deployment is agents with failover.synchronous_mode on: the master's node agent keeps synchronous_standby_names and the recorded synchronous set.*nothing changed$/);
  const switched = await hr.manual_failover('paul');
  assert.equal(switched.result, 'FAIL');
  assert.match(switched.details, /^manual_failover refused: handyrep.deployment is agents/);
  assert.equal(await hr.get_master_name(), 'john');
  assert.equal(JSON.stringify((await hr.get_status()).servers), before, 'the book is unchanged');
});

test('reload_conf refuses moving a running controller into deployment agents: nothing changes', async () => {
  const path = world.configFile('b');
  const hr = await world.open(path);
  world.configFile('b', AGENTS_SYNC);
  const rd = await hr.reload_conf();
  assert.equal(rd.result, 'FAIL');
  assert.match(rd.details, /not reloaded; nothing changed: handyrep.deployment cannot change from single to agents while running .*restart HandyRep/);
  assert.equal(await hr.get_setting(['failover', 'synchronous_mode']), 'off');
  assert.equal(await hr.get_setting(['handyrep', 'deployment']), 'single');
});
