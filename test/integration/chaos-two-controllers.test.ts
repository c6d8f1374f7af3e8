/**
 * Chaos: two controllers with different state files watch one cluster (no etcd). Each writes its
 * heartbeat in the handyrep table; before any topology change a controller reads every server's
 * copy, and the one started later refuses while the earlier one is alive, naming it. After a
 * master crash with both judging at once: exactly one failover, never two writable servers.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { HandyRep } from '../../src/api/handyrep.js';
import { crash } from '../fixtures/faults.js';
import { deepMerge } from '../fixtures/config.js';
import { FAILOVER_TEST_SETTINGS } from '../fixtures/failover-settings.js';
import { writeConfig } from '../fixtures/handyrep-config.js';
import { checkCycles, cleanupAll, closeBed, describeRecord, openBed, writableNodes } from '../fixtures/chaos.js';

after(cleanupAll);

test('two controllers, one cluster: the later one refuses while the first lives; one failover', { timeout: 120_000 }, async () => {
  const bed = await openBed({ label: 'two controllers with different state files', expect: 'failover' });
  let second: HandyRep | null = null;
  try {
    const first = bed.h();
    const config2 = await writeConfig(
      bed.cluster,
      deepMerge({ handyrep: { connect_timeout_seconds: 1, server_file: join(bed.cluster.root, 'second.save'), log_file: join(bed.cluster.root, 'second.log') }, failover: FAILOVER_TEST_SETTINGS }, {}),
      'second.yaml',
    );
    second = await HandyRep.open(config2);
    // Both see a healthy cluster and write their heartbeats.
    await checkCycles(first, 1, 0);
    await checkCycles(second, 1, 0);

    await crash(bed.node('john'));
    const [a, b] = await Promise.all([first.failover_check(false), second.failover_check(false)]);
    const story = `first: ${a.details}\nsecond: ${b.details}\nfirst history: ${(await first.failover_history(5)).map(describeRecord).join('\n')}\nsecond history: ${(await second.failover_history(5)).map(describeRecord).join('\n')}\nlog:\n${bed.logTail(30)}`;
    assert.equal(a.result, 'SUCCESS', story);
    assert.equal(b.result, 'FAIL', story);
    assert.equal(b.reason_code, 'not_senior_controller', story);
    assert.match(b.details, new RegExp(`pid ${process.pid} .*state file .*servers\\.save`), story);
    assert.deepEqual(await second.failover_history(5), [], `the second controller recorded no change: ${story}`);
    const master = await first.get_master_name();
    assert.deepEqual(await writableNodes(bed.cluster), [master], story);
  } finally {
    await second?.close();
    await closeBed(bed);
  }
});
