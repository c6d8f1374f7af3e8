/**
 * Maintenance mode and planned stops on a real 2-node cluster.
 *
 *  1. pause, then the master crashes: several failover_check cycles check and report ("paused:
 *     not failing over") but promote nothing; get_status and /metrics show the pause; a
 *     controller restarted on the saved state is still paused; resume, and the failover runs.
 *  2. the master shut down through HandyRep: several cycles, no failover (the master is
 *     intentionally stopped); startup through HandyRep, and the master is healthy again.
 *  3. the master stopped by something else longer than the retries: still a failover.
 *  4. a planned switchover: no CRITICAL alert for its masterless moment.
 *  5. a restart of the master through HandyRep that does not come back: no failover either.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { handyRepBackend } from '../../src/daemon/backend.js';
import { DaemonMetrics } from '../../src/daemon/metrics.js';
import { crash } from '../fixtures/faults.js';
import { checkCycles, checkUntil, cleanupAll, closeBed, nodeStates, openBed, writableNodes, type Bed } from '../fixtures/chaos.js';

after(cleanupAll);

const CYCLES = 4;

async function pausedMetric(bed: Bed): Promise<string> {
  const text = await new DaemonMetrics(handyRepBackend(bed.h())).render();
  return /^handyrep_paused (\d)$/m.exec(text)?.[1] ?? '(missing)';
}

async function expectFailover(bed: Bed): Promise<string> {
  const hr = bed.h();
  const transcript = await checkUntil(hr, async () => (await hr.failover_history(1)).length > 0, { cycles: 6, timeoutMs: 90_000, what: 'a failover recorded' }).catch((err: Error) => {
    throw new Error(`${err.message}\nlog:\n${bed.logTail(30)}`);
  });
  assert.match(transcript.rds.at(-1)?.details ?? '', /failed over from john to paul/, transcript.lines.join('\n'));
  return transcript.lines.join('\n  ');
}

test('paused: a crashed master is reported, not failed over, across a controller restart; resume fails over', { timeout: 150_000 }, async () => {
  const bed = await openBed({ nodes: 2 });
  try {
    let hr = bed.h();
    const paused = await hr.pause('alice', 'kernel upgrade');
    assert.equal(paused.result, 'SUCCESS', paused.details);
    assert.equal(await pausedMetric(bed), '1');
    await crash(bed.node('john'));

    const transcript = await checkCycles(hr, CYCLES);
    const story = `\n  ${transcript.lines.join('\n  ')}\nlog:\n${bed.logTail(20)}`;
    for (const rd of transcript.rds) {
      assert.equal(rd.result, 'FAIL', story);
      assert.match(rd.details, /paused by alice since .* \(kernel upgrade\): not failing over/, story);
    }
    let status = await hr.get_status();
    assert.equal(status.servers.john?.status, 'down', story);
    assert.equal(status.cluster.paused, true);
    assert.equal(status.cluster.paused_by, 'alice');
    assert.equal(status.cluster.paused_reason, 'kernel upgrade');
    assert.deepEqual(await hr.failover_history(5), [], story);
    assert.deepEqual(await writableNodes(bed.cluster), [], 'nothing promoted');

    // A restarted controller reads the pause back from the saved state.
    hr = await bed.reopen();
    status = await hr.get_status();
    assert.equal(status.cluster.paused, true, JSON.stringify(status.cluster));
    const afterRestart = await hr.failover_check(false);
    assert.match(afterRestart.details, /paused by alice.*not failing over/);
    assert.deepEqual(await hr.failover_history(5), []);

    const resumed = await hr.resume();
    assert.equal(resumed.result, 'SUCCESS', resumed.details);
    assert.equal((await hr.get_status()).cluster.paused, false);
    assert.equal(await pausedMetric(bed), '0');
    console.log(`# paused cycles:${story.split('\nlog:')[0]}\n# after resume:\n  ${await expectFailover(bed)}`);
    assert.deepEqual(await nodeStates(bed.cluster), { john: 'no answer', paul: 'writable' });
  } finally {
    await closeBed(bed);
  }
});

test('the master shut down through HandyRep is not failed over; startup brings it back healthy', { timeout: 120_000 }, async () => {
  const bed = await openBed({ nodes: 2 });
  try {
    const hr = bed.h();
    const stopped = await hr.shutdown('john');
    assert.equal(stopped.result, 'SUCCESS', stopped.details);
    const transcript = await checkCycles(hr, CYCLES);
    const story = `\n  ${transcript.lines.join('\n  ')}\nlog:\n${bed.logTail(20)}`;
    for (const rd of transcript.rds) assert.match(rd.details, /master john was shut down through HandyRep .*intentionally stopped.*not failing over/, story);
    const status = await hr.get_status();
    assert.equal(status.servers.john?.status, 'down');
    assert.equal(status.cluster.planned_down?.server, 'john');
    assert.deepEqual(await hr.failover_history(5), [], story);
    assert.equal(await hr.get_master_name(), 'john');

    const started = await hr.startup('john');
    assert.equal(started.result, 'SUCCESS', started.details);
    const healthy = await checkUntil(hr, async () => (await hr.get_status()).servers.john?.status === 'healthy', { cycles: 3, verify: true, what: 'john healthy' });
    assert.equal(healthy.rds.at(-1)?.result, 'SUCCESS', healthy.lines.join('\n'));
    assert.equal((await hr.get_status()).cluster.planned_down, undefined);
    assert.deepEqual(await writableNodes(bed.cluster), ['john']);
    console.log(`# cycles while shut down:${story.split('\nlog:')[0]}`);
  } finally {
    await closeBed(bed);
  }
});

test('the master stopped by something else past the retries is still failed over', { timeout: 120_000 }, async () => {
  const bed = await openBed({ nodes: 2 });
  try {
    await bed.node('john').stop();
    await expectFailover(bed);
  } finally {
    await closeBed(bed);
  }
});

test('a planned switchover raises no CRITICAL alert (no "no enabled master" page for its masterless moment)', { timeout: 120_000 }, async () => {
  const bed = await openBed({ nodes: 2 });
  try {
    const hr = bed.h();
    const rd = await hr.manual_failover('paul');
    assert.equal(rd.result, 'SUCCESS', `${rd.details}\nlog:\n${bed.logTail(30)}`);
    const critical = (await hr.read_log(1000)).filter((e) => e.alert === 'CRITICAL');
    assert.deepEqual(critical.map((e) => `${e.category}: ${e.message}`), []);
    assert.ok((await hr.read_log(1000)).some((e) => /cluster status changed .*→ down: no enabled master/.test(e.message)), 'the masterless moment is still logged');
  } finally {
    await closeBed(bed);
  }
});

test('a restart of the master through HandyRep that does not come back is not failed over; startup after the fix is', { timeout: 120_000 }, async () => {
  const bed = await openBed({ nodes: 2 });
  const conf = join(bed.node('john').dataDir, 'postgresql.conf');
  const original = readFileSync(conf, 'utf8');
  try {
    const hr = bed.h();
    // A configuration error that only a restart reveals (as after a bad edit): it stops, then cannot start.
    appendFileSync(conf, '\nthis is not a setting\n');
    const restart = await hr.restart_master(null);
    assert.equal(restart.result, 'FAIL', restart.details);
    const transcript = await checkCycles(hr, CYCLES);
    const story = `\n  ${transcript.lines.join('\n  ')}\nlog:\n${bed.logTail(20)}`;
    for (const rd of transcript.rds) assert.match(rd.details, /master john was restarted through HandyRep .*intentionally stopped.*not failing over/, story);
    assert.deepEqual(await hr.failover_history(5), [], story);
    assert.deepEqual(await writableNodes(bed.cluster), [], 'nothing promoted');

    writeFileSync(conf, original);
    const started = await hr.startup('john');
    assert.equal(started.result, 'SUCCESS', started.details);
    assert.equal((await hr.failover_check(false)).result, 'SUCCESS');
    assert.equal((await hr.get_status()).cluster.planned_down, undefined, 'john answered: the mark is gone');
    assert.deepEqual(await writableNodes(bed.cluster), ['john']);
    console.log(`# cycles after the failed restart:${story.split('\nlog:')[0]}`);
  } finally {
    writeFileSync(conf, original);
    await closeBed(bed);
  }
});
