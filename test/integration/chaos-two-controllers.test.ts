/**
 * Chaos: two controllers with different state files watch one cluster (no etcd). Each writes its
 * heartbeat in the handyrep table; before any topology change a controller reads every server's
 * copy, and the one started later refuses while the earlier one is alive, naming it. After a
 * master crash with both judging at once: exactly one failover, never two writable servers.
 * Once as two library instances judging in lockstep, once as two daemon processes on their own
 * monitoring schedules.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HandyRep } from '../../src/api/handyrep.js';
import { crash } from '../fixtures/faults.js';
import { deepMerge } from '../fixtures/config.js';
import { FAILOVER_TEST_SETTINGS } from '../fixtures/failover-settings.js';
import { writeConfig } from '../fixtures/handyrep-config.js';
import { basic, freePort, http, startDaemonProcess, type DaemonProcess } from '../fixtures/daemon.js';
import { checkCycles, cleanupAll, closeBed, describeRecord, openBed, sqlOn, waitUntil, writableNodes, type Bed } from '../fixtures/chaos.js';
import type { FailoverRecord } from '../../src/model/failover-record.js';

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

test('master_check_method none: no heartbeat is written, so a second controller cannot see this one', { timeout: 60_000 }, async () => {
  const bed = await openBed({ label: 'master_check_method none', expect: 'no_failover', handyrep: { master_check_method: 'none' } });
  try {
    await checkCycles(bed.h(), 3, 0);
    const table = await sqlOn(bed.node('john'), "SELECT to_regclass('handyrep.handyrep_controllers') IS NOT NULL");
    assert.ok(table.ok, table.out);
    if (table.out === 't') {
      const rows = await sqlOn(bed.node('john'), 'SELECT count(*) FROM handyrep.handyrep_controllers');
      assert.equal(rows.out, '0', 'no heartbeat row on the master');
    }
  } finally {
    await closeBed(bed);
  }
});

const ADMIN = 'two-daemons-admin';

/** A daemon's configuration: its own state file, log and port, password authentication. */
async function daemonConfig(bed: Bed, name: string): Promise<string> {
  const port = await freePort();
  return writeConfig(
    bed.cluster,
    {
      handyrep: { connect_timeout_seconds: 1, server_file: join(bed.cluster.root, `${name}.save`), log_file: join(bed.cluster.root, `${name}.log`), authentication_method: 'simple_password_auth' },
      passwords: { admin_password: ADMIN, read_password: `${ADMIN}-read` },
      daemon: { listen_address: '127.0.0.1', listen_port: port },
      failover: FAILOVER_TEST_SETTINGS,
    },
    `${name}.yaml`,
  );
}

async function cycles(daemon: DaemonProcess): Promise<number> {
  const reply = await http(daemon.url, '/health', { headers: { authorization: basic(`${ADMIN}-read`) } });
  return (reply.json as { monitor?: { cycles?: number } }).monitor?.cycles ?? 0;
}

async function historyOf(daemon: DaemonProcess): Promise<FailoverRecord[]> {
  const reply = await http(daemon.url, '/failover_history?numentries=10', { headers: { authorization: basic(ADMIN) } });
  return reply.json as FailoverRecord[];
}

test('two daemon processes, one cluster: the later one refuses on its own schedule; one failover', { timeout: 180_000 }, async () => {
  const bed = await openBed({ label: 'two daemon processes with different state files', expect: 'failover' });
  const daemons: DaemonProcess[] = [];
  try {
    // The bed's own library instance leaves (and removes its heartbeat): only the daemons watch.
    await bed.closeHr();
    const first = await startDaemonProcess(await daemonConfig(bed, 'first'));
    daemons.push(first);
    await waitUntil(async () => await cycles(first) > 1, 'the first daemon has checked the cluster');
    const second = await startDaemonProcess(await daemonConfig(bed, 'second'));
    daemons.push(second);
    await waitUntil(async () => await cycles(second) > 1, 'the second daemon has checked the cluster');

    await crash(bed.node('john'));
    await waitUntil(async () => {
      const writable = await writableNodes(bed.cluster);
      return writable.length === 1 && writable[0] !== 'john';
    }, 'a new master', 30_000);
    // Give the junior several cycles to try (and refuse) before the verdict.
    await new Promise((r) => setTimeout(r, 5_000));
    const [h1, h2] = [await historyOf(first), await historyOf(second)];
    const story = `first: ${h1.map(describeRecord).join('\n')}\nsecond: ${h2.map(describeRecord).join('\n')}\nfirst stderr:\n${first.stderr().slice(-2000)}\nsecond stderr:\n${second.stderr().slice(-2000)}`;
    const failovers = [...h1, ...h2].filter((r) => r.kind === 'failover' && r.outcome === 'SUCCESS');
    assert.equal(failovers.length, 1, `exactly one failover between the two: ${story}`);
    assert.equal(h2.length, 0, `the later daemon recorded no change: ${story}`);
    const secondLog = readFileSync(join(bed.cluster.root, 'second.log'), 'utf8');
    // The later daemon may never have judged a failover (the first can finish within one of its
    // cycles); when it tried, it refused and said whose heartbeat it saw.
    for (const line of secondLog.split('\n').filter((l) => l.includes('topology change'))) {
      assert.match(line, /topology change refused: another HandyRep acts on this cluster: .*started first/, `the later daemon says why it does not act: ${story}`);
    }
    assert.deepEqual(await writableNodes(bed.cluster), [failovers[0]?.to], story);
  } finally {
    for (const d of daemons) await d.stop('SIGTERM');
    await closeBed(bed);
  }
});
