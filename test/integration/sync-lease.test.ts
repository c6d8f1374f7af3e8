/**
 * Synchronous replication (issue 15) through the `ha` deployment's lease path: with
 * synchronous_mode on, the master's host lost (every packet to and from its address dropped, its
 * clients' included; its agent cut off etcd) under the concurrent probe (8 writers as fast as they
 * can and one every 20 ms, their own process): the controller fails over once the agent's master
 * lease is gone, every acknowledged row is on the new master, and the 50 ms sampler never sees two
 * writable servers. The master isolated with its clients still connected runs in
 * ha-isolated-master.test.ts; ten runs of each, with `off` beside them, are bench:sync's.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupAll } from '../fixtures/chaos.js';
import { runLeaseFault } from '../fixtures/sync-lease-scenario.js';

after(cleanupAll);

test('ha + synchronous_mode on: the master host lost (all its traffic dropped) loses no acknowledged row through the lease path', { timeout: 240_000 }, async () => {
  const r = await runLeaseFault({ mode: 'on', fault: 'host_lost', loadMs: 2000 });
  const story = JSON.stringify(r);
  console.log(`# ${story}`);
  assert.ok(r.acked > 500, `the probe must have committed under load: ${story}`);
  assert.ok(r.newMaster === 'paul' || r.newMaster === 'george', story);
  assert.match(r.failover, /master lease is gone/, story);
  // Its clients cannot reach it either: nothing is acknowledged by the old master after the cut
  // but what was on its way (a handful at most; thousands would mean the cut missed the clients).
  assert.ok(r.ackedByOldMasterAfterFault < 50, story);
  assert.equal(r.splitBrainSamples, 0, story);
  assert.equal(r.lost, 0, story);
});
