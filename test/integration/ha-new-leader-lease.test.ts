/**
 * A controller that starts leading after the master's lease lapsed (real 3-member etcd, real
 * PostgreSQL, a real node agent on the master, controller daemons under etcd_lease with
 * failover.unreachable_master: agent_lease): the leading controller dies (SIGKILL) and the
 * master's host is cut off from everyone (its agent cannot renew: it stops PostgreSQL, the lease
 * runs out in etcd). A second controller started only then never saw the lease held; it fails over
 * by the lease path anyway, proving the lease's end from etcd's revision history
 * (store/etcd/lease-history.ts). Before that proof it refused (`master_lease_never_held`).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAll, waitUntil, writableNodes } from '../fixtures/chaos.js';
import { etcdClient, prefixOf, startController, type Controller } from '../fixtures/etcd-controllers.js';
import { failoverHistory, healMaster, isolateMaster, withLeaseScenario } from '../fixtures/ha-lease-bed.js';

after(cleanupAll);

test('ha: a controller leading only since the lapse fails over by the lease, proven from etcd\'s history', { timeout: 240_000 }, async () => {
  await withLeaseScenario('ha: new leader after the lapse', true, async (s) => {
    const leaseKey = `${prefixOf(s.bed)}master_lease/john`;
    const client = etcdClient(s.etcd);
    let late: Controller | null = null;
    try {
      await s.controller.daemon.stop('SIGKILL');
      isolateMaster(s);
      await waitUntil(async () => (await client.get(leaseKey).string()) === null, "john's master lease gone from etcd", 60_000, 100);
      late = await startController(s.bed, s.etcd, 'ctl-b', { unreachable_master: 'agent_lease' });
      const started = late;
      await waitUntil(async () => (await writableNodes(s.bed.cluster)).some((n) => n !== 'john'), 'a replica promoted by the new leader', 120_000, 200);
      await waitUntil(async () => (await failoverHistory(started)).some((r) => r.outcome === 'SUCCESS'), 'the failover recorded', 60_000, 200);
      const records = JSON.stringify(await failoverHistory(started));
      assert.match(records, /master lease is gone from etcd \(etcd's history shows master_lease\/john held under lease \w+ since/, `failed over by the lease path, proven from the history: ${records.slice(0, 2000)}`);
      const log = readFileSync(join(s.bed.cluster.root, 'ctl-b.log'), 'utf8');
      assert.doesNotMatch(log, /no node agent was seen holding its master lease/, 'never refused for a lease it did not see');
    } finally {
      healMaster(s);
      client.close();
      await late?.daemon.stop('SIGTERM').catch(() => undefined);
    }
  });
});
