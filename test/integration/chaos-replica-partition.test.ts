/**
 * Chaos: a replica is cut off (iptables drops all traffic of its address) while the monitoring
 * schedule runs. The replica becomes unavailable, the cluster goes to warning, nothing fails over;
 * after the heal the cluster is healthy again.
 *
 * (All nodes share one kernel: the partitioned replica's own outgoing replication connection to the
 * master is not cut. That does not matter here: the controller cannot reach it.)
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { heal, partition } from '../fixtures/faults.js';
import { checkUntil, cleanupAll, closeBed, nodeStates, openBed, sleep, waitUntil } from '../fixtures/chaos.js';

after(cleanupAll);

test('a replica cut off: unavailable, cluster warning, no failover', { timeout: 90_000 }, async () => {
  const bed = await openBed({ label: 'replica cut off', expect: 'no_failover' });
  try {
    const hr = bed.h();
    const george = bed.node('george');
    partition(george.host);
    hr.startMonitoring();
    let last = '';
    await waitUntil(
      async () => {
        const s = await hr.get_status();
        last = `cluster ${s.cluster.status} (${s.cluster.status_message}); george ${s.servers.george?.status}; monitor: ${hr.monitorStatus().last_result ?? '-'}`;
        return (s.servers.george?.status === 'unavailable' && s.cluster.status === 'warning') || last;
      },
      'george unavailable and the cluster in warning',
      25_000,
    );
    // Several more poll cycles with the replica gone: still nothing happens to the master.
    const cyclesBefore = hr.monitorStatus().cycles;
    await sleep(5_000);
    await hr.stopMonitoring();
    const monitor = hr.monitorStatus();
    assert.ok(monitor.cycles >= cyclesBefore + 3, `monitoring kept polling: ${JSON.stringify(monitor)}`);
    assert.equal(monitor.errors, 0, JSON.stringify(monitor));
    assert.match(monitor.last_result ?? '', /cluster warning/, JSON.stringify(monitor));
    assert.match(monitor.last_result ?? '', /master john is working/, JSON.stringify(monitor));

    const status = await hr.get_status();
    assert.equal(status.cluster.status, 'warning', JSON.stringify(status.cluster));
    assert.match(status.cluster.status_message, /george/, JSON.stringify(status.cluster));
    assert.equal(status.servers.john?.role, 'master');
    assert.equal(status.servers.john?.status, 'healthy', JSON.stringify(status.servers.john));
    assert.equal(status.servers.paul?.status, 'healthy', JSON.stringify(status.servers.paul));
    assert.equal(status.servers.george?.status, 'unavailable', JSON.stringify(status.servers.george));
    assert.equal(status.servers.george?.role, 'replica');
    assert.equal(status.servers.george?.enabled, true);
    assert.equal(await hr.get_master_name(), 'john');
    assert.deepEqual(await hr.failover_history(10), [], 'no topology change');
    assert.deepEqual(await nodeStates(bed.cluster), { john: 'writable', paul: 'replica', george: 'replica' }, last);

    heal(george.host);
    await checkUntil(hr, async () => (await hr.get_cluster_status()).status === 'healthy', { cycles: 4, verify: true, what: 'cluster healthy after the heal' });
    assert.equal((await hr.get_server_info('george')).george?.status, 'healthy');
    assert.deepEqual(await hr.failover_history(10), []);
  } finally {
    await closeBed(bed);
  }
});
