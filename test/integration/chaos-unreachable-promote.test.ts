/**
 * Chaos: master host lost with `failover.unreachable_master: promote` and a real pgbouncer
 * (failover correctness, path 1). The old master cannot be fenced, so before promoting anyone
 * HandyRep repoints every connection proxy away from it; the failover is recorded as
 * `fence: unconfirmed` and the cluster stays in warning until the old master is seen stopped.
 * Behind the partition the old master is still writable (that is what "unconfirmed" means, and
 * why the sampler may see two writable servers here): clients going through the proxy reach only
 * the new master. After the heal the old master is stopped at once and the fence confirmed.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { heal, partition } from '../fixtures/faults.js';
import { startBouncer, type Bouncer } from '../fixtures/pgbouncer.js';
import { checkUntil, cleanupAll, closeBed, describeRecord, nodeState, openBed, writableNodes } from '../fixtures/chaos.js';
import { waitFor } from '../fixtures/failover-settings.js';

after(cleanupAll);

test('master host lost, unreachable_master: promote: proxies repointed first, fence unconfirmed until the heal', { timeout: 150_000 }, async () => {
  let bouncer: Bouncer | null = null;
  const bed = await openBed({
    label: 'master host lost (unreachable_master: promote, pgbouncer)',
    expect: 'failover',
    splitBrain: 'allow',
    failover: { unreachable_master: 'promote' },
    beforeOpen: async (cluster) => {
      bouncer = await startBouncer(cluster, cluster.nodes[2]?.host ?? '');
      return bouncer.config();
    },
  });
  try {
    const hr = bed.h();
    const proxy = bouncer as Bouncer | null;
    assert.ok(proxy);
    assert.equal((await hr.connection_proxy_init()).result, 'SUCCESS');
    assert.equal((await proxy.query('postgres')).addr, bed.node('john').host);

    partition(bed.node('john').host);
    const transcript = await checkUntil(hr, async () => (await hr.failover_history(1)).length > 0, { cycles: 6, timeoutMs: 100_000, what: 'a failover' });
    const record = (await hr.failover_history(1))[0];
    const story = `\n  ${transcript.lines.join('\n  ')}\n${record ? describeRecord(record) : ''}\nlog:\n${bed.logTail(30)}`;
    assert.equal(record?.outcome, 'SUCCESS', story);
    assert.equal(record?.fence, 'unconfirmed', story);
    const names = record?.steps.map((s) => `${s.name}${s.server ? ` ${s.server}` : ''}`) ?? [];
    const newMaster = record?.to ?? '';
    assert.ok(names.indexOf(`connection_failover ${newMaster}`) >= 0 && names.indexOf(`connection_failover ${newMaster}`) < names.indexOf(`promote ${newMaster}`), `proxies are repointed before the promotion: ${names.join(', ')}${story}`);
    assert.equal(names.filter((n) => n.startsWith('connection_failover')).length, 1, story);
    const info = (await hr.get_server_info('john')).john;
    assert.equal(info?.fenced, true);
    assert.equal(info?.fence_unconfirmed, true);
    assert.equal((await hr.get_cluster_status()).status, 'warning');
    assert.match((await hr.get_cluster_status()).status_message, /not confirmed stopped|fence unconfirmed/);
    // Clients through the proxy land on the new master and can write there.
    await waitFor(async () => !(await proxy.query('postgres').catch(() => ({ addr: '', in_recovery: true }))).in_recovery, 'a writable session through pgbouncer', 15_000);
    assert.equal((await proxy.query('postgres')).addr, bed.node(newMaster).host, story);
    assert.equal(await nodeState(bed.node('john')), 'writable', 'behind the partition john still runs: the fence is unconfirmed');

    heal(bed.node('john').host);
    await checkUntil(hr, async () => (await hr.get_server_info('john')).john?.fence_unconfirmed === false, { cycles: 6, what: "john's fence confirmed after the heal" });
    assert.deepEqual(await writableNodes(bed.cluster), [newMaster]);
    await checkUntil(hr, async () => (await hr.get_cluster_status()).status === 'healthy' || !/fence unconfirmed/.test((await hr.get_cluster_status()).status_message), { cycles: 6, verify: true, what: 'no unconfirmed fence in the cluster status' });
  } finally {
    await closeBed(bed);
    await (bouncer as Bouncer | null)?.stop();
  }
});
