/**
 * Synchronous replication's rules on real PostgreSQL (issue 15), without load:
 *  - the set is recorded before the master names it: while servers.save cannot be written,
 *    synchronous_standby_names stays as it was; once it can, the replicas are named, and the
 *    quorum is recorded a cycle later;
 *  - a failover promotes only a recorded member: with the only member (paul) down together with
 *    the master, george (healthy, not a member) is refused, nothing is promoted;
 *  - promote by hand applies the same rule: with the master down, the non-member george is
 *    refused (nothing touched), the member paul is promoted;
 *  - a switchover to a non-member first records and names it synchronous and waits for it;
 *  - the only synchronous standby lost: `on` resumes writes once the set drops to asynchronous
 *    (recorded first), `strict` keeps them waiting until the standby is back.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { crash } from '../fixtures/faults.js';
import { checkCycles, checkUntil, cleanupAll, closeBed, describeRecord, openBed, sqlOn, writableNodes, type Bed } from '../fixtures/chaos.js';
import { runStandbyLoss, savedSync } from '../fixtures/sync-scenario.js';

after(cleanupAll);

test('the synchronous set is recorded before synchronous_standby_names names it', { timeout: 180_000 }, async () => {
  const bed = await openBed({ nodes: 3, failover: { synchronous_mode: 'on' }, label: 'sync record before naming', expect: 'no_failover' });
  // servers.save cannot be replaced while a directory sits where its temporary file goes.
  const blocker = join(dirname(bed.serverFile), `.${basename(bed.serverFile)}.${process.pid}.tmp`);
  try {
    const hr = bed.h();
    const john = bed.node('john');
    mkdirSync(blocker);
    const blocked = await checkCycles(hr, 3, 300);
    const named = await sqlOn(john, 'SHOW synchronous_standby_names');
    assert.equal(named.out, '', `nothing may be named while the record cannot be saved:\n  ${blocked.lines.join('\n  ')}\n${bed.logTail(20)}`);
    assert.equal((await hr.get_status()).sync?.recorded ?? null, null, 'the unsaved record was taken back');
    rmdirSync(blocker);
    await checkUntil(hr, async () => (await sqlOn(john, 'SHOW synchronous_standby_names')).out !== '', { cycles: 4, pauseMs: 300, what: 'the replicas named' });
    assert.equal((await sqlOn(john, 'SHOW synchronous_standby_names')).out, 'ANY 1 ("george", "paul")');
    // Recorded (quorum 0) before naming; quorum 1 only after a later cycle saw them caught up.
    const status = (await hr.get_status()).sync;
    const firstChange = status?.changes.at(-1);
    assert.deepEqual([firstChange?.members, firstChange?.quorum], [['george', 'paul'], 0], JSON.stringify(status));
    await checkUntil(hr, () => (savedSync(bed)?.quorum ?? 0) === 1, { cycles: 6, pauseMs: 300, what: 'quorum 1 recorded' });
    assert.deepEqual(savedSync(bed)?.members, ['george', 'paul']);
  } finally {
    try {
      rmdirSync(blocker);
    } catch {
      // already removed
    }
    await closeBed(bed);
  }
});

/** FIRST 1 with paul preferred: paul is the only member, george a healthy non-member. */
async function paulOnlyMember(label: string, expect: 'failover' | 'no_failover'): Promise<Bed> {
  const bed = await openBed({ nodes: 3, failover: { synchronous_mode: 'on', synchronous_method: 'first' }, servers: { paul: { failover_priority: 1 }, george: { failover_priority: 2 } }, label, expect });
  try {
    await checkUntil(bed.h(), () => (savedSync(bed)?.quorum ?? 0) === 1, { cycles: 8, pauseMs: 300, what: 'paul recorded as the synchronous member' });
    assert.deepEqual(savedSync(bed)?.members, ['paul']);
  } catch (err) {
    await closeBed(bed);
    throw err;
  }
  return bed;
}

test('a failover promotes only a recorded member: with the member down, the healthy non-member is refused', { timeout: 180_000 }, async () => {
  const bed = await paulOnlyMember('sync non-member refused', 'no_failover');
  try {
    const hr = bed.h();
    assert.equal((await sqlOn(bed.node('john'), 'SHOW synchronous_standby_names')).out, 'FIRST 1 ("paul")');
    await crash(bed.node('paul'));
    await crash(bed.node('john'));
    const transcript = await checkUntil(hr, async () => (await hr.failover_history(1)).length > 0, { cycles: 8, pauseMs: 500, what: 'a failover attempt recorded' });
    const record = (await hr.failover_history(1))[0];
    const story = `${describeRecord(record)}\n  ${transcript.lines.join('\n  ')}`;
    assert.notEqual(record?.outcome, 'SUCCESS', story);
    const select = record?.steps.find((s) => s.name === 'select');
    assert.match(select?.details ?? '', /george cannot be promoted: synchronous set paul \(quorum 1\): 0 of 1 members reachable/, story);
    // No candidate: the old master is restarted (failover's rule), george stays a replica.
    assert.deepEqual(await writableNodes(bed.cluster), ['john'], story);
    assert.equal((await sqlOn(bed.node('george'), 'SELECT pg_is_in_recovery()')).out, 't', story);
  } finally {
    await closeBed(bed);
  }
});

test('promote by hand applies the sync rule: a non-member is refused naming it, nothing touched; the member is promoted', { timeout: 180_000 }, async () => {
  const bed = await paulOnlyMember('sync promote by hand', 'failover');
  try {
    const hr = bed.h();
    await crash(bed.node('john'));
    const refused = await hr.promote('george');
    assert.equal(refused.result, 'FAIL', refused.details);
    assert.equal(refused.reason_code, 'not_sync_member', refused.details);
    assert.match(refused.details, /cannot promote george: synchronous_mode on: only a member of the recorded synchronous set .* may be promoted; george is not in the recorded synchronous set \(paul\)/);
    assert.equal((await sqlOn(bed.node('george'), 'SELECT pg_is_in_recovery()')).out, 't', 'george untouched');
    const promoted = await hr.promote('paul');
    assert.equal(promoted.result, 'SUCCESS', promoted.details);
    assert.deepEqual(await writableNodes(bed.cluster), ['paul']);
  } finally {
    await closeBed(bed);
  }
});

test('a switchover to a non-member first names it synchronous and waits for it, recorded before named', { timeout: 180_000 }, async () => {
  const bed = await paulOnlyMember('sync switchover to a non-member', 'failover');
  try {
    const hr = bed.h();
    const rd = await hr.manual_failover('george');
    const record = (await hr.failover_history(1))[0];
    const story = `${rd.details}\n${describeRecord(record)}`;
    assert.equal(rd.result, 'SUCCESS', story);
    const stop = record?.steps.find((s) => s.name === 'stop_master');
    assert.match(stop?.details ?? '', /george named synchronous \('FIRST 1 \("george"\)'\) and caught up/, story);
    // Recorded with george before john named it: the record of that moment covers both.
    const changes = (await hr.get_status()).sync?.changes ?? [];
    const naming = changes.find((c) => /switchover to george/.test(c.reason));
    assert.deepEqual([naming?.members, naming?.quorum, naming?.master], [['george', 'paul'], 1, 'john'], JSON.stringify(changes));
    assert.equal(await hr.get_master_name(), 'george');
  } finally {
    await closeBed(bed);
  }
});

test('synchronous standby lost, on: writes resume once the set is recorded asynchronous', { timeout: 180_000 }, async () => {
  const r = await runStandbyLoss('on', 8000);
  assert.ok(r.stallMs !== null && r.ackedWhileGone > 0, `writes must resume without the standby: ${JSON.stringify(r)}`);
  assert.ok(r.ackedAfterReturn > 0, JSON.stringify(r));
});

test('synchronous standby lost, strict: writes wait until it is back', { timeout: 180_000 }, async () => {
  const r = await runStandbyLoss('strict', 5000);
  assert.equal(r.ackedWhileGone, 0, `strict never drops to asynchronous: ${JSON.stringify(r)}`);
  assert.ok(r.ackedAfterReturn > 0, `writes resume when the standby returns: ${JSON.stringify(r)}`);
  assert.deepEqual([r.recorded?.members, r.recorded?.quorum], [['paul'], 1], JSON.stringify(r));
});
