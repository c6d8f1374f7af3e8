/**
 * The step runner over fakes: the journal is deleted only once the state file holds the outcome,
 * a step whose journal entry cannot be written does not run, and a step outside the plan is
 * reported (a drift between the executor and the plan dry runs print).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import type { EventLog } from '../../src/log/event-log.js';
import type { TopologyEnv } from '../../src/runtime/topology/env.js';
import { fakeTopologyBase } from '../fixtures/fake-topology-env.js';
import { StepRunner } from '../../src/runtime/topology/step-runner.js';
import { journalPath } from '../../src/store/journal.js';

function fakeEnv(persistOk: () => boolean): { env: TopologyEnv; log: EventLog; dir: string } {
  const fake = fakeTopologyBase({}, { cluster: 'unknown', clock: () => new Date('2026-12-03T12:00:00Z'), persist: persistOk });
  return { env: fake.base as TopologyEnv, log: fake.log, dir: fake.dir };
}

test('the journal is cleared only after the state file holds the outcome', async () => {
  const { env, dir } = fakeEnv(() => true);
  try {
    const runner = new StepRunner(env, 'failover', 'test', 'john', null);
    await runner.begin([{ name: 'select', server: null }]);
    assert.ok(existsSync(journalPath(env.serverFile)), 'journal written at begin');
    await runner.step('select', null, async () => ({ ok: true, details: 'x' }));
    await runner.finish('SUCCESS', 'done');
    assert.ok(!existsSync(journalPath(env.serverFile)), 'journal removed after a durable save');
    assert.equal(env.book.recentHistory(1)[0]?.outcome, 'SUCCESS');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a state file that cannot be written keeps the journal and raises a CRITICAL alert', async () => {
  let attempts = 0;
  const { env, log, dir } = fakeEnv(() => {
    attempts += 1;
    return false;
  });
  try {
    const runner = new StepRunner(env, 'failover', 'test', 'john', null);
    await runner.begin();
    await runner.finish('SUCCESS', 'done');
    assert.equal(attempts, 3, 'the save is retried');
    assert.ok(existsSync(journalPath(env.serverFile)), 'the journal is kept for the next start');
    assert.ok(log.recent(50).some((e) => e.alert === 'CRITICAL' && /journal is kept/.test(e.message)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a step whose journal entry cannot be written does not run', async () => {
  const { env, dir } = fakeEnv(() => true);
  try {
    const runner = new StepRunner(env, 'failover', 'test', 'john', null);
    await runner.begin([{ name: 'fence', server: 'john' }]);
    // The journal's folder disappears: every write fails from now on.
    rmSync(dir, { recursive: true, force: true });
    let ran = false;
    const result = await runner.step('fence', 'john', async () => {
      ran = true;
      return { ok: true, details: 'fenced' };
    });
    assert.equal(ran, false);
    assert.equal(result.ok, false);
    assert.match(result.details, /journal cannot be written/);
  } finally {
    mkdirSync(dir, { recursive: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a step outside the plan is recorded as off-plan; recovery steps and alternatives are not', async () => {
  const { env, log, dir } = fakeEnv(() => true);
  try {
    const runner = new StepRunner(env, 'failover', 'test', 'john', null);
    await runner.begin([
      { name: 'fence', server: 'john' },
      { name: 'promote', server: 'paul' },
      { name: 'promote', server: 'george', alternative: true },
    ]);
    const ok = async (): Promise<{ ok: boolean; details: string }> => ({ ok: true, details: '' });
    await runner.step('fence', 'john', ok);
    await runner.step('promote', 'paul', async () => ({ ok: false, details: 'no' }));
    await runner.step('settle_promotion', 'paul', ok);
    await runner.step('promote', 'george', ok);
    assert.equal(runner.record.off_plan, undefined);
    await runner.step('remaster', 'ringo', ok);
    assert.deepEqual(runner.record.off_plan, ['remaster ringo']);
    assert.ok(log.recent(20).some((e) => /not in its plan/.test(e.message)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a successful step whose outcome cannot be journaled stays ok, is retried, alerted and shown in the record', async () => {
  const { env, log, dir } = fakeEnv(() => true);
  try {
    const runner = new StepRunner(env, 'failover', 'test', 'john', 'paul');
    await runner.begin([{ name: 'promote', server: 'paul' }]);
    const result = await runner.step('promote', 'paul', async () => {
      // The promotion happens, then the journal's folder disappears before its outcome is written.
      rmSync(dir, { recursive: true, force: true });
      return { ok: true, details: 'promoted' };
    });
    assert.equal(result.ok, true, 'the promotion is not reported as failed');
    assert.equal(runner.record.journal_failures?.length, 1);
    assert.match(runner.record.journal_failures?.[0] ?? '', /^promote paul \(ok\): /);
    const alert = log.recent(50).find((e) => e.alert === 'CRITICAL' && /outcome of step promote could not be journaled after 3 attempts/.test(e.message));
    assert.ok(alert, 'a CRITICAL alert names the step');
    mkdirSync(dir, { recursive: true });
    const record = await runner.finish('SUCCESS', 'paul is the master');
    assert.match(record.details, /^paul is the master; the journal could not record: promote paul \(ok\)/);
  } finally {
    mkdirSync(dir, { recursive: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
