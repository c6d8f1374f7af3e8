/**
 * The HandyRep class end to end over a simulated cluster (test/fixtures/simulated-*.ts): the real
 * wiring of HandyRep.open, every real plugin and the real runtime, with only SQL, shells, clock and
 * sleep injected (as Patroni's test_ha.py drives its HA loop over fakes). Each row drives
 * failover_check cycles as the monitor does; after every cycle at most one server may be writable
 * and the simulation must have understood every query and command it got.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { forwardPath } from '../../src/engine/failover-steps.js';
import type { FailoverRecord, StepRecord } from '../../src/model/failover-record.js';
import { journalPath } from '../../src/store/journal.js';
import type { HandyRep } from '../../src/api/handyrep.js';
import { CONTROLLER, type SimEffect } from '../fixtures/simulated-cluster.js';
import { SimWorld } from '../fixtures/simulated-handyrep.js';

const MB = 1_048_576n;

/** A world with controller `a` that has verified the healthy cluster once (the monitor's first cycle). */
async function started(overrides: Record<string, unknown> = {}): Promise<{ world: SimWorld; hr: HandyRep }> {
  const world = new SimWorld();
  const hr = await world.open(world.configFile('a', overrides));
  const first = await world.cycle(hr, true);
  assert.equal(first.result, 'SUCCESS', first.details);
  return { world, hr };
}

function promotions(world: SimWorld): SimEffect[] {
  return world.sim.effects.filter((e) => e.what.startsWith('sql: SELECT pg_promote') || e.what.endsWith(' promote'));
}

/** The master failed but nothing was promoted: john is still the master in the book, nobody else writable. */
async function assertNoPromotion(world: SimWorld, hr: HandyRep): Promise<void> {
  assert.deepEqual(promotions(world), []);
  assert.equal(await hr.get_master_name(), 'john');
  assert.ok(world.sim.writableNames().every((n) => n === 'john'), `writable: ${world.sim.writableNames().join(', ')}`);
}

test('healthy cluster: cycles take no action and every status is healthy', async () => {
  const { world, hr } = await started();
  try {
    for (let i = 0; i < 5; i += 1) {
      const rd = await world.cycle(hr, i === 3);
      assert.equal(rd.result, 'SUCCESS', rd.details);
    }
    const status = await hr.get_status();
    assert.equal(status.cluster.status, 'healthy', status.cluster.status_message);
    for (const [name, s] of Object.entries(status.servers)) assert.equal(s.status, 'healthy', `${name}: ${s.status_message}`);
    assert.deepEqual(await hr.failover_history(), []);
    await assertNoPromotion(world, hr);
    assert.ok(!world.sim.effects.some((e) => / (stop|restart)$/.test(e.what)), 'nothing was stopped or restarted');
    // The state and this controller's heartbeat are on the master and replicated to both replicas.
    for (const node of world.sim.nodes) {
      assert.ok(node.tables.stateRow !== null, `${node.name} holds the state`);
      assert.equal(node.tables.controllers.size, 1, `${node.name} holds the heartbeat`);
    }
  } finally {
    await world.done();
  }
});

test('master crashed, control channel answers: after the retries, failover to the replica furthest ahead; john fenced, george remastered', async () => {
  const { world, hr } = await started();
  try {
    // george's WAL receiver stops, then a megabyte is written: paul is furthest ahead (and would lose a name tie-break).
    world.sim.get('george').conninfoLoaded = null;
    world.sim.write(MB);
    const georgeAt = world.sim.get('george').lsn;
    assert.ok(georgeAt < world.sim.get('paul').lsn);
    assert.equal((await world.cycle(hr)).result, 'SUCCESS'); // records the master's position
    world.sim.crash('john');
    const beforeCrash = world.sim.effects.length;
    const rd = await world.cycle(hr);
    assert.equal(rd.result, 'SUCCESS', rd.details);
    assert.doesNotMatch(rd.details, /problems/);
    assert.equal(await hr.get_master_name(), 'paul');
    assert.deepEqual(world.sim.writableNames(), ['paul']);
    // The old master: stopped, and the book holds it fenced with the fence confirmed.
    assert.equal(world.sim.get('john').running, false);
    const john = (await hr.get_server_info('john')).john;
    assert.equal(john?.fenced, true);
    assert.equal(john?.fence_unconfirmed, false);
    // The history: the plan it announced is the path it ran.
    const history = await hr.failover_history();
    assert.equal(history.length, 1);
    const record = history[0];
    assert.equal(record?.outcome, 'SUCCESS', record?.details);
    assert.equal(record?.fence, 'confirmed');
    assert.deepEqual(record?.plan, ['revalidate john', 'select', 'fence john', 'promote paul', 'remaster george']);
    assert.deepEqual(forwardPath(record?.steps ?? []), record?.plan);
    // The verdict came after the retries: john failed the cycle's poll and both retries before the fence asked it.
    // (The fence's command asks whether john runs — a crashed one needs no stop — and is the last on john: the
    // judgement's facts ask the same earlier, while the retries run.)
    const fenceCommand = world.sim.effects.findLastIndex((e, i) => i >= beforeCrash && e.node === 'john' && !e.what.startsWith('sql:'));
    const seen = world.sim.effects.slice(beforeCrash, fenceCommand + 1).filter((e) => e.node === 'john').map((e) => e.what);
    const failedPolls = world.sim.effects.slice(beforeCrash, fenceCommand).filter((e) => e.node === 'john' && e.what === 'sql: connect');
    assert.ok(fenceCommand > 0 && failedPolls.length >= 3, `john polled ${failedPolls.length} times before it was fenced: ${seen.join(' | ')}`);
    // george was remastered: it streams from paul, on paul's new timeline.
    assert.equal(world.sim.upstreamOf(world.sim.get('george'))?.name, 'paul');
    assert.ok(world.sim.get('george').lsn > georgeAt);
    assert.equal(world.sim.get('george').timeline, 2);
    const verify = await world.cycle(hr, true);
    assert.equal(verify.result, 'SUCCESS', verify.details);
    assert.equal((await hr.get_cluster_status()).status, 'healthy');
  } finally {
    await world.done();
  }
});

test('auto_rejoin: the crashed master, ahead of both replicas, is rewound and follows the new master', async () => {
  const { world, hr } = await started({ failover: { auto_rejoin: true } });
  try {
    // john's last megabyte never reached the replicas: it cannot just follow the new timeline.
    for (const name of ['paul', 'george']) world.sim.get(name).replicationStalled = true;
    world.sim.write(MB);
    world.sim.crash('john');
    for (const name of ['paul', 'george']) world.sim.get(name).replicationStalled = false;
    const rd = await world.cycle(hr);
    assert.equal(rd.result, 'SUCCESS', rd.details);
    assert.doesNotMatch(rd.details, /problems/);
    const master = await hr.get_master_name();
    const other = master === 'paul' ? 'george' : 'paul';
    const [record] = await hr.failover_history(1);
    assert.deepEqual(record?.plan, ['revalidate john', 'select', 'fence john', `promote ${String(master)}`, `remaster ${other}`, 'rejoin john']);
    assert.deepEqual(forwardPath(record?.steps ?? []), record?.plan);
    const john = world.sim.get('john');
    assert.ok(world.sim.effects.some((e) => e.node === 'john' && e.what.includes('pg_rewind')), 'john was rewound');
    assert.equal(world.sim.upstreamOf(john)?.name, master, 'john streams from the new master');
    assert.equal(john.timeline, 2);
    const info = (await hr.get_server_info('john')).john;
    assert.equal(info?.role, 'replica');
    assert.equal(info?.enabled, true);
    assert.equal(info?.fenced, false);
    assert.deepEqual(world.sim.writableNames(), [master]);
    assert.equal((await world.cycle(hr, true)).result, 'SUCCESS');
    assert.equal((await hr.get_cluster_status()).status, 'healthy');
  } finally {
    await world.done();
  }
});

test('master frozen (every process SIGSTOPped): stops are ignored, the whole instance is killed, then the failover', async () => {
  const { world, hr } = await started();
  try {
    world.sim.freezeInstance('john');
    const before = world.sim.effects.length;
    const rd = await world.cycle(hr);
    assert.equal(rd.result, 'SUCCESS', rd.details);
    const john = world.sim.get('john');
    assert.equal(john.running, false, 'killed');
    // The fence escalated: fast stop, immediate stop (both ignored), then the kill of the whole instance.
    const fence = world.sim.effects.slice(before).filter((e) => e.node === 'john' && e.what.startsWith('cmd:') && !e.what.endsWith(' status') && e.what !== 'cmd: sh -c <pg-ctl-status>');
    assert.deepEqual(
      fence.map((e) => e.what),
      ['cmd: sh -c <stop-and-wait /sim/bin/pg_ctl /sim/john/data /sim/john/data fast 3>', 'cmd: sh -c <stop-and-wait /sim/bin/pg_ctl /sim/john/data /sim/john/data immediate 2>', 'cmd: sh -c <handyrep-kill>'],
    );
    const [record] = await hr.failover_history(1);
    assert.equal(record?.fence, 'confirmed');
    assert.match(record?.steps.find((s) => s.name === 'fence')?.details ?? '', /killed/);
    assert.equal(world.sim.writableNames().length, 1);
    assert.notEqual(await hr.get_master_name(), 'john');
  } finally {
    await world.done();
  }
});

test('master unreachable (network and control channel cut), unreachable_master: refuse: no promotion, cluster warning', async () => {
  const { world, hr } = await started();
  try {
    world.sim.isolate('john');
    for (let i = 0; i < 3; i += 1) {
      const rd = await world.cycle(hr);
      assert.equal(rd.result, 'FAIL', rd.details);
      assert.equal(rd.reason_code, 'unreachable_master_refused', rd.details);
    }
    await assertNoPromotion(world, hr);
    assert.equal(world.sim.get('john').running, true, 'john still runs behind the partition: nobody else may be promoted');
    assert.equal((await hr.get_cluster_status()).status, 'warning');
    assert.deepEqual(await hr.failover_history(), []);
  } finally {
    await world.done();
  }
});

test('minority vantage: the controller and george lost john, paul still sees it: no failover', async () => {
  const { world, hr } = await started();
  try {
    world.sim.cut(CONTROLLER, 'john');
    world.sim.cut('george', 'john');
    for (let i = 0; i < 3; i += 1) {
      const rd = await world.cycle(hr);
      assert.equal(rd.result, 'FAIL', rd.details);
      assert.equal(rd.reason_code, 'vantage_sees_master', rd.details);
      assert.match(rd.details, /paul/);
    }
    await assertNoPromotion(world, hr);
    assert.deepEqual(await hr.failover_history(), []);
  } finally {
    await world.done();
  }
});

test('master crashed while paul has no control channel: paul is unknown, not "does not see"; no majority, no failover', async () => {
  const { world, hr } = await started();
  try {
    world.sim.get('paul').sshd = false;
    world.sim.crash('john');
    for (let i = 0; i < 2; i += 1) {
      const rd = await world.cycle(hr);
      assert.equal(rd.result, 'FAIL', rd.details);
      assert.equal(rd.reason_code, 'vantage_no_majority', rd.details);
      assert.match(rd.details, /unknown: paul/);
    }
    await assertNoPromotion(world, hr);
    assert.deepEqual(await hr.failover_history(), []);
  } finally {
    await world.done();
  }
});

test('the only candidate lags beyond its lag_limit: no promotion, the refusal names the lag, the old master is restarted', async () => {
  const { world, hr } = await started({ servers: { paul: { lag_limit: 10 }, george: { nofailover: true } } });
  try {
    world.sim.get('paul').replicationStalled = true;
    world.sim.write(50n * MB);
    await world.cycle(hr); // the master's position is recorded at this poll
    world.sim.crash('john');
    const rd = await world.cycle(hr);
    assert.equal(rd.result, 'FAIL', rd.details);
    assert.equal(rd.reason_code, 'no_candidate', rd.details);
    assert.match(rd.details, /paul lag 50\.0 MB > lag_limit 10 MB/);
    assert.match(rd.details, /george has nofailover set/);
    await assertNoPromotion(world, hr);
    assert.equal(world.sim.get('john').running, true, 'the old master was brought back');
    const [record] = await hr.failover_history(1);
    assert.equal(record?.outcome, 'FAIL');
  } finally {
    await world.done();
  }
});

test('paused: a crashed master is reported, nothing is failed over, fenced or restarted', async () => {
  const { world, hr } = await started();
  try {
    assert.equal((await hr.pause('test', 'maintenance window')).result, 'SUCCESS');
    world.sim.crash('john');
    for (let i = 0; i < 3; i += 1) {
      const rd = await world.cycle(hr, i === 1);
      assert.equal(rd.result, 'FAIL', rd.details);
      assert.match(rd.details, /paused/);
    }
    await assertNoPromotion(world, hr);
    assert.equal(world.sim.get('john').running, false, 'not restarted either');
    assert.ok(!world.sim.effects.some((e) => e.node === 'john' && e.what.includes('pg_ctl') && !e.what.endsWith(' status')), 'john was not touched');
    assert.deepEqual(await hr.failover_history(), []);
  } finally {
    await world.done();
  }
});

/** The step the journal of controller `a` shows running now, if any. */
function runningStep(world: SimWorld): string | undefined {
  return world.journal('a')?.steps.find((s) => s.outcome === 'running')?.name;
}

test('the master answers again after the verdict: the failover is called off inside the queue, nothing is fenced', async () => {
  const { world, hr } = await started();
  try {
    world.sim.crash('john');
    // john is restarted (by someone else) while the failover waits for the action queue.
    world.sim.trigger = { when: () => runningStep(world) === 'revalidate', fault: () => world.sim.start(world.sim.get('john')) };
    const rd = await world.cycle(hr);
    assert.equal(rd.result, 'FAIL', rd.details);
    assert.equal(rd.reason_code, 'stale_verdict', rd.details);
    await assertNoPromotion(world, hr);
    assert.deepEqual(world.sim.writableNames(), ['john']);
    assert.equal((await hr.get_server_info('john')).john?.fenced, false);
    assert.ok(!world.sim.effects.some((e) => e.node === 'john' && / stop$/.test(e.what)), 'john was not stopped');
    assert.equal((await world.cycle(hr)).result, 'SUCCESS');
  } finally {
    await world.done();
  }
});

/**
 * Where a controller is "killed": at the first effect while the journal shows `step` running (and
 * matching `what`), before or after that effect. `craft` rewrites the journal left there into the
 * one an earlier, effect-free step leaves (select runs on the judgement's facts: nothing to freeze on).
 */
interface KillPoint {
  name: string;
  step: string;
  what?: RegExp;
  afterEffect?: boolean;
  craft?: (journal: FailoverRecord) => FailoverRecord;
  /** How the restarted controller ends it: the journal proves a promotion, or it judges afresh and fails over again. */
  recovery: 'rolled forward' | 'failover again';
  /** Configuration overrides of the row (default: none). */
  config?: Record<string, unknown>;
  /** Where john ends: fenced and stopped (default), or rejoined as a streaming replica (auto_rejoin). */
  john?: 'fenced' | 'rejoined';
}

const KILL_POINTS: KillPoint[] = [
  { name: 'during revalidate', step: 'revalidate', recovery: 'failover again' },
  {
    name: 'during select (journal as the runtime writes it when select starts)',
    step: 'fence',
    craft: (j) => ({ ...j, plan: ['revalidate john', 'select'], steps: [j.steps[0] as StepRecord, { ...(j.steps[1] as StepRecord), finished: null, outcome: 'running', details: '' }] }),
    recovery: 'failover again',
  },
  { name: 'during fence', step: 'fence', recovery: 'failover again' },
  { name: 'during promote, before pg_promote ran', step: 'promote', what: /^sql: SELECT pg_promote/, recovery: 'failover again' },
  { name: 'during promote, after pg_promote ran (unconfirmed)', step: 'promote', what: /^sql: SELECT pg_promote/, afterEffect: true, recovery: 'rolled forward' },
  { name: 'during remaster', step: 'remaster', recovery: 'rolled forward' },
  {
    name: 'during rejoin, right after pg_rewind ran',
    step: 'rejoin',
    what: /pg_rewind/,
    afterEffect: true,
    recovery: 'rolled forward',
    config: { failover: { auto_rejoin: true } },
    john: 'rejoined',
  },
];

/** Wait until the controller froze at its kill point; a check that ends first never reached it. */
async function frozen(world: SimWorld, check: Promise<unknown>): Promise<void> {
  const ended = check.then((rd) => {
    throw new Error(`the check ended without reaching the kill point: ${JSON.stringify(rd)}`);
  });
  await Promise.race([world.sim.whenFrozen, ended]);
}

for (const point of KILL_POINTS) {
  test(`controller killed ${point.name}: a restart on the same state recovers to exactly one master`, async () => {
    const { world, hr } = await started(point.config);
    try {
      world.sim.crash('john');
      world.sim.freeze = {
        when: (effect) => runningStep(world) === point.step && (point.what === undefined || point.what.test(effect.what)),
        afterEffect: point.afterEffect ?? false,
      };
      // Never returns once frozen: this controller is dead from the kill point on.
      await frozen(world, hr.failover_check(false));
      world.sim.assertSound();
      const journal = world.journal('a');
      assert.ok(journal !== null);
      assert.equal(journal.steps.find((s) => s.outcome === 'running')?.name, point.step, 'the journal shows the step running');
      if (point.craft) writeFileSync(journalPath(world.serverFile('a')), JSON.stringify(point.craft(journal)));

      const restarted = await world.open(world.configFile('a', point.config));
      world.sim.assertSound();
      for (let i = 0; i < 3; i += 1) await world.cycle(restarted, i === 0);
      const master = await restarted.get_master_name();
      assert.ok(master === 'paul' || master === 'george', `a replica is the master (${String(master)})`);
      assert.deepEqual(world.sim.writableNames(), [master]);
      assert.equal(world.journal('a'), null, 'the journal is cleared');
      const kinds = (await restarted.failover_history()).map((r) => `${r.kind} ${r.outcome}`);
      // Newest first: [the recovery's own record(s)…, the interrupted failover].
      const expected = point.recovery === 'rolled forward' ? ['recovery SUCCESS', 'failover FAIL'] : ['failover SUCCESS', 'recovery FAIL', 'failover FAIL'];
      assert.deepEqual(kinds, expected);
      assert.equal(promotions(world).length, 1, 'one promotion in all');
      const john = (await restarted.get_server_info('john')).john;
      if (point.john === 'rejoined') {
        assert.deepEqual([john?.role, john?.enabled, john?.fenced], ['replica', true, false]);
        assert.equal(world.sim.upstreamOf(world.sim.get('john'))?.name, master);
      } else {
        assert.equal(john?.fenced, true);
        assert.equal(world.sim.get('john').running, false);
      }
    } finally {
      await world.done([hr]);
    }
  });
}

test('controller killed mid-failover, restarted cut off from a live master the replicas see: recovery judges like failover_check, no promotion', async () => {
  const { world, hr } = await started();
  try {
    world.sim.crash('john');
    world.sim.freeze = { when: () => runningStep(world) === 'revalidate', afterEffect: false };
    await frozen(world, hr.failover_check(false));
    // john comes back, but the controller's link to it (database and ssh) is cut.
    world.sim.start(world.sim.get('john'));
    world.sim.cut(CONTROLLER, 'john');
    const restarted = await world.open(world.configFile('a'));
    world.sim.assertSound();
    const [recovery] = await restarted.failover_history(1);
    assert.equal(`${recovery?.kind} ${recovery?.outcome}`, 'recovery ROLLED_BACK', recovery?.details);
    assert.match(recovery?.details ?? '', /not failing over again/);
    for (let i = 0; i < 2; i += 1) {
      const rd = await world.cycle(restarted);
      assert.equal(rd.reason_code, 'vantage_sees_master', rd.details);
    }
    await assertNoPromotion(world, restarted);
    assert.deepEqual(world.sim.writableNames(), ['john']);
  } finally {
    await world.done([hr]);
  }
});

test('two controllers with their own state files: the junior refuses while the senior heartbeat is fresh; one promotion', async () => {
  const { world, hr: senior } = await started();
  try {
    const junior = await world.open(world.configFile('b'));
    assert.equal((await world.cycle(junior, true)).result, 'SUCCESS');
    world.sim.crash('john');
    const refused = await world.cycle(junior);
    assert.equal(refused.result, 'FAIL', refused.details);
    assert.equal(refused.reason_code, 'not_senior_controller', refused.details);
    assert.deepEqual(promotions(world), []);

    const failover = await world.cycle(senior);
    assert.equal(failover.result, 'SUCCESS', failover.details);
    const newMaster = await senior.get_master_name();
    for (let i = 0; i < 3; i += 1) await world.cycle(junior, i === 1);
    assert.equal(promotions(world).length, 1);
    assert.deepEqual(world.sim.writableNames(), [newMaster]);
    assert.match(refused.details, /another HandyRep acts on this cluster/);
    assert.deepEqual((await junior.failover_history()).filter((r) => r.outcome === 'SUCCESS'), []);
  } finally {
    await world.done();
  }
});
