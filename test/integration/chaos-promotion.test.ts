/**
 * Chaos: the master crashes (SIGKILL of the instance) and promotion does not go to plan
 * (design.md §5.3, §5.7).
 *
 *  6. The first candidate fails to promote for real (promote_pg_ctl with a pg_bin_dir holding
 *     pg_isready but no pg_ctl: its vantage probe still runs, its promotion cannot): the next
 *     candidate is promoted; the history shows both attempts.
 *  6b. The first candidate's promotion does not confirm in time (its startup process is stopped
 *     right after pg_promote was issued) and completes later, after the next candidate was
 *     promoted: there must never be two writable servers.
 *  7. No viable candidate (every replica has nofailover): the old master is restarted, the RD is
 *     FAIL and names each replica's refusal, the history records the failed failover.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PG_BIN_DIR } from '../fixtures/cluster.js';
import { crash, thaw } from '../fixtures/faults.js';
import { signal } from '../fixtures/proc.js';
import {
  checkUntil,
  cleanupAll,
  closeBed,
  describeRecord,
  holdPromotion,
  journalStepRunning,
  nodeStates,
  openBed,
  sleep,
  sqlOn,
  waitUntil,
  writableNodes,
} from '../fixtures/chaos.js';

after(cleanupAll);

test('the first candidate fails to promote: the next one is promoted', { timeout: 100_000 }, async () => {
  const bed = await openBed({
    failover: { selection_method: 'select_replica_priority' },
    servers: { paul: { failover_priority: 1 }, george: { failover_priority: 2 } },
  });
  try {
    const hr = bed.h();
    // Without pg_isready paul's vantage probe could not run (unknown): no majority, no failover at all.
    const binWithoutPgCtl = join(bed.cluster.root, 'bin-without-pg_ctl');
    await mkdir(binWithoutPgCtl, { mode: 0o755 });
    await symlink(join(PG_BIN_DIR, 'pg_isready'), join(binWithoutPgCtl, 'pg_isready'));
    const altered = await hr.alter_server_def('paul', { promotion_method: 'promote_pg_ctl', pg_bin_dir: binWithoutPgCtl });
    assert.equal(altered.result, 'SUCCESS', altered.details);
    const dry = await hr.manual_failover(null, null, true);
    assert.deepEqual(dry.plan?.candidates, ['paul', 'george'], `paul must be the first candidate: ${dry.details}`);
    assert.ok((await sqlOn(bed.node('john'), 'CREATE TABLE rows (n int primary key); INSERT INTO rows SELECT generate_series(1, 500)')).ok);
    await waitUntil(async () => (await sqlOn(bed.node('george'), 'SELECT count(*) FROM rows')).out === '500', 'george replays the rows', 10000);

    await crash(bed.node('john'));
    const transcript = await checkUntil(hr, async () => (await hr.failover_history(1)).length > 0, { cycles: 5, timeoutMs: 90_000, what: 'a failover' });
    const story = `\n  ${transcript.lines.join('\n  ')}\nlog:\n${bed.logTail(30)}`;
    const rd = transcript.rds.at(-1);
    assert.equal(rd?.result, 'SUCCESS', story);
    assert.match(rd?.details ?? '', /failed over from john to george/, story);

    const record = (await hr.failover_history(1))[0];
    const rec = describeRecord(record);
    assert.equal(record?.kind, 'failover', rec);
    assert.equal(record?.outcome, 'SUCCESS', rec);
    assert.equal(record?.to, 'george', rec);
    const promotes = record?.steps.filter((s) => s.name === 'promote') ?? [];
    assert.deepEqual(promotes.map((s) => [s.server, s.outcome]), [['paul', 'failed'], ['george', 'ok']], rec);
    assert.match(promotes[0]?.details ?? '', /pg_ctl promote/, rec);
    const fence = record?.steps.find((s) => s.name === 'fence');
    assert.equal(fence?.outcome, 'ok', rec);

    assert.equal(await hr.get_master_name(), 'george');
    assert.deepEqual(await nodeStates(bed.cluster), { john: 'no answer', paul: 'replica', george: 'writable' }, story);
    assert.equal((await sqlOn(bed.node('george'), 'SELECT count(*) FROM rows')).out, '500');
    const info = await hr.get_server_info();
    assert.equal(info.george?.role, 'master');
    assert.equal(info.george?.status, 'healthy', JSON.stringify(info.george));
    assert.equal(info.paul?.role, 'replica');
    assert.equal(info.paul?.enabled, true);
    assert.equal(info.john?.fenced, true);
    // paul, whose promotion failed, follows the new master (remastered over SQL).
    await waitUntil(
      async () => {
        const r = await sqlOn(bed.node('paul'), 'SELECT status, sender_host FROM pg_stat_wal_receiver');
        return r.out === `streaming|${bed.node('george').host}` || r.out;
      },
      'paul streams from george',
      15000,
    );
  } finally {
    await closeBed(bed);
  }
});

test('the first candidate times out promoting and finishes later: never two masters', { timeout: 100_000 }, async () => {
  const bed = await openBed({
    failover: { selection_method: 'select_replica_priority', promote_timeout_seconds: 3 },
    servers: { paul: { failover_priority: 1 }, george: { failover_priority: 2 } },
  });
  const paul = bed.node('paul');
  let held: number | null = null;
  try {
    const hr = bed.h();
    await crash(bed.node('john'));
    const checking = checkUntil(hr, async () => (await hr.failover_history(1)).length > 0, { cycles: 5, timeoutMs: 90_000, what: 'a failover' });
    // As soon as paul is being promoted, hold its promotion back until the failover is over.
    const holding = journalStepRunning(bed, 'promote', 'paul', 60_000).then(async () => (held = await holdPromotion(paul)));
    const [transcript] = await Promise.all([checking, holding]);
    const story = `\n  ${transcript.lines.join('\n  ')}\nlog:\n${bed.logTail(30)}`;
    const record = (await hr.failover_history(1))[0];
    const rec = describeRecord(record);
    // paul's pending promotion is released: it must not produce a second master.
    if (held !== null) signal(held, 'SIGCONT');
    held = null;
    await sleep(3000);
    const master = await hr.get_master_name();
    const writable = await writableNodes(bed.cluster);
    assert.equal(writable.length, 1, `exactly one writable server, got ${JSON.stringify(await nodeStates(bed.cluster))}; master per HandyRep: ${String(master)}; history: ${rec}${story}`);
    assert.deepEqual(writable, [master], `the writable server is HandyRep's master${story}`);
    assert.equal(record?.outcome, 'SUCCESS', rec);
    assert.equal(record?.steps.find((s) => s.name === 'promote' && s.server === 'paul')?.outcome, 'failed', rec);
  } finally {
    if (held !== null) signal(held, 'SIGCONT');
    thaw(paul);
    await closeBed(bed);
  }
});

test('no viable candidate: the old master is restarted, FAIL names every refusal', { timeout: 100_000 }, async () => {
  const bed = await openBed({ label: 'no viable candidate', expect: 'no_failover', servers: { paul: { nofailover: true }, george: { nofailover: true } } });
  try {
    const hr = bed.h();
    await crash(bed.node('john'));
    const transcript = await checkUntil(hr, async () => (await hr.failover_history(1)).length > 0, { cycles: 5, timeoutMs: 90_000, what: 'a failover attempt' });
    const story = `\n  ${transcript.lines.join('\n  ')}\nlog:\n${bed.logTail(30)}`;
    const rd = transcript.rds.at(-1);
    assert.equal(rd?.result, 'FAIL', story);
    assert.match(rd?.details ?? '', /no viable replica/, story);
    assert.match(rd?.details ?? '', /paul has nofailover set/, story);
    assert.match(rd?.details ?? '', /george has nofailover set/, story);
    assert.match(rd?.details ?? '', /old master john restarted/, story);

    const record = (await hr.failover_history(1))[0];
    const rec = describeRecord(record);
    assert.equal(record?.kind, 'failover', rec);
    assert.equal(record?.outcome, 'FAIL', rec);
    assert.equal(record?.from, 'john', rec);
    assert.deepEqual(record?.steps.map((s) => [s.name, s.outcome]), [['revalidate', 'ok'], ['select', 'failed'], ['restart_old_master', 'ok']], rec);
    assert.match(record?.details ?? '', /paul has nofailover set; george has nofailover set/, rec);

    assert.deepEqual(await writableNodes(bed.cluster), ['john'], story);
    assert.deepEqual(await nodeStates(bed.cluster), { john: 'writable', paul: 'replica', george: 'replica' });
    assert.equal(await hr.get_master_name(), 'john');
    const info = await hr.get_server_info();
    assert.equal(info.john?.role, 'master');
    assert.equal(info.john?.enabled, true);
    assert.equal(info.john?.fenced, false);
    assert.equal(info.john?.status, 'healthy', JSON.stringify(info.john));

    // The refusal is coded, too: asked directly, manual_failover says no_candidate with each reason.
    const manual = await hr.manual_failover();
    assert.equal(manual.result, 'FAIL', manual.details);
    assert.equal(manual.reason_code, 'no_candidate', manual.details);
    assert.deepEqual(manual.refusals?.map((r) => [r.name, r.code]).sort(), [['george', 'nofailover'], ['paul', 'nofailover']]);
    assert.equal((await hr.failover_history(10)).length, 1, 'a refused manual_failover records nothing');

    // The replicas come back to the restarted master and the cluster is healthy again.
    await bed.cluster.waitStreaming(bed.node('john'), [bed.node('paul'), bed.node('george')], 20000);
    await checkUntil(hr, async () => (await hr.get_cluster_status()).status === 'healthy', { cycles: 4, verify: true, what: 'cluster healthy again' });
    assert.deepEqual(await writableNodes(bed.cluster), ['john']);
  } finally {
    await closeBed(bed);
  }
});
