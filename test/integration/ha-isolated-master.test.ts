/**
 * The `ha` deployment's answer to a master nobody can reach (real etcd, real PostgreSQL, a real
 * node agent, a controller daemon under etcd_lease with failover.unreachable_master: agent_lease):
 *   - the master's host is cut off from everyone (iptables DROP of its address; its agent cut off
 *     etcd by uid) while clients on its side keep its unix socket: its agent stops PostgreSQL
 *     before the lease lapses, the controller sees the lease gone, fences by it and promotes a
 *     replica; the 50 ms sampler never sees two writable servers;
 *   - the same cut with no agent on the master (the lease never seen held): no failover, because
 *     a lease that was never held proves nothing;
 *   - synchronous_mode on, 8 writers plus one every 20 ms (their own process, as nobody, so they
 *     keep reaching the isolated master over TCP while the controller and the replicas cannot):
 *     after the lease path's failover every acknowledged row is on the new master.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupAll, sleep, waitUntil, writableNodes } from '../fixtures/chaos.js';
import { etcdClient, prefixOf, readKeyJson, TTL_SECONDS } from '../fixtures/etcd-controllers.js';
import { controllerStatus, failoverHistory as history, isolateMaster, withLeaseScenario as withScenario } from '../fixtures/ha-lease-bed.js';
import { runLeaseFault } from '../fixtures/sync-lease-scenario.js';

after(cleanupAll);

test('ha: a master isolated from everyone stops itself; its lease lapses; the controller fences by it and promotes', { timeout: 180_000 }, async () => {
  await withScenario('ha: isolated master, agent lease', true, async (s) => {
    const cutAt = performance.now();
    isolateMaster(s);
    // Its agent cannot renew: PostgreSQL is stopped before ttl − safety_margin (sampled through its socket).
    await waitUntil(async () => !(await writableNodes(s.bed.cluster)).includes('john'), 'john no longer writable', TTL_SECONDS * 1000 + 5000, 50);
    const demotedMs = performance.now() - cutAt;
    assert.ok(demotedMs < TTL_SECONDS * 1000, `john stopped accepting writes ${Math.round(demotedMs)} ms after the cut, before its lease could lapse (${TTL_SECONDS} s)`);
    // The controller fails over once the lease is gone from etcd.
    await waitUntil(async () => (await writableNodes(s.bed.cluster)).some((n) => n !== 'john'), 'a replica promoted', 60_000, 100);
    const writable = await writableNodes(s.bed.cluster);
    assert.equal(writable.length, 1, `one writable server: ${writable.join(', ')}`);
    const client = etcdClient(s.etcd);
    try {
      assert.equal((await readKeyJson(client, `${prefixOf(s.bed)}master`))?.['name'], writable[0], 'the master key names the new master');
    } finally {
      client.close();
    }
    // The record is finished after the steps that follow the promotion (remaster; the old master stays out of reach).
    await waitUntil(async () => (await history(s.controller)).some((r) => r.outcome === 'SUCCESS'), 'a successful failover in the history', 60_000, 250);
    const last = (await history(s.controller)).find((r) => r.outcome === 'SUCCESS');
    assert.match(JSON.stringify(last), /master lease is gone/);
  });
});

test('ha: the same isolation without an agent on the master is not failed over (a lease never held proves nothing)', { timeout: 180_000 }, async () => {
  await withScenario('ha: isolated master, no agent', false, async (s) => {
    isolateMaster(s);
    // Long enough for detection, retries and a lease ttl several times over.
    await sleep(4 * TTL_SECONDS * 1000);
    const writable = await writableNodes(s.bed.cluster);
    assert.deepEqual(writable, ['john'], `only john stays writable (nothing proves it stopped): ${writable.join(', ')}`);
    assert.equal((await history(s.controller)).filter((r) => r.outcome === 'SUCCESS').length, 0, 'no failover');
    assert.match(JSON.stringify(await controllerStatus(s.controller)), /master_lease_never_held|no node agent was seen holding/);
  });
});

test('ha + synchronous_mode on: an isolated master whose clients still reach it loses no acknowledged row through the lease path', { timeout: 240_000 }, async () => {
  const r = await runLeaseFault({ mode: 'on', fault: 'isolated_agents', loadMs: 2000, label: 'ha: isolated master, agent lease, synchronous' });
  const story = JSON.stringify(r);
  console.log(`# ha sync: ${r.acked} acknowledged rows, ${r.lost} missing on the new master ${r.newMaster}`);
  assert.ok(r.acked > 500, `the probe must have committed under load: ${story}`);
  assert.match(r.failover, /master lease is gone/, story);
  assert.equal(r.splitBrainSamples, 0, story);
  assert.equal(r.lost, 0, story);
});
