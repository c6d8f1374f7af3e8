/**
 * The step table and the plans built from it: the order of every kind of change, what dry runs
 * print, and the executor's forward path compared with the plan.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describePlan, expectedPath, forwardPath, planAdoption, planFailover, planPromote, planSwitchover, STEP_NAMES, STEP_TABLE, stepSpec } from '../../src/engine/failover-steps.js';

test('every step of the table says what it does and which path it belongs to', () => {
  for (const name of STEP_NAMES) {
    assert.ok(STEP_TABLE[name].effect.length > 10, name);
    assert.ok(['plan', 'recovery'].includes(STEP_TABLE[name].path), name);
  }
  assert.equal(stepSpec('extra_command:notify'), STEP_TABLE.extra_command);
  assert.equal(stepSpec('nonsense'), null);
});

const failoverInput = {
  from: 'john',
  candidates: ['paul', 'george'],
  replicas: ['paul', 'george', 'ringo'],
  remaster: true,
  connectionFailover: true,
  extraCommands: ['notify'],
  rejoin: true,
  proxiesFirst: false,
};

test('failover plan: fence, promote, then proxies before the replicas, commands, rejoin last', () => {
  assert.deepEqual(expectedPath(planFailover(failoverInput)), [
    'revalidate john',
    'select',
    'fence john',
    'promote paul',
    'connection_failover paul',
    'remaster george',
    'remaster ringo',
    'extra_command:notify',
    'rejoin john',
  ]);
  assert.ok(describePlan(planFailover(failoverInput)).includes('promote george (if the previous promotion failed)'));
});

test('failover plan with an unreachable old master: proxies first, no rejoin', () => {
  const plan = expectedPath(planFailover({ ...failoverInput, proxiesFirst: true, rejoin: false }));
  assert.deepEqual(plan.slice(0, 5), ['revalidate john', 'select', 'fence john', 'connection_failover paul', 'promote paul']);
  assert.equal(plan.filter((s) => s.startsWith('connection_failover')).length, 1);
  assert.ok(!plan.includes('rejoin john'));
});

test('failover plan without candidates stops after select', () => {
  assert.deepEqual(expectedPath(planFailover({ ...failoverInput, candidates: [] })), ['revalidate john', 'select']);
});

test('switchover plan: clean stop, final WAL, promote, then as a failover; rejoin without options', () => {
  assert.deepEqual(expectedPath(planSwitchover({ from: 'john', to: 'paul', others: ['george'], remaster: false, connectionFailover: false, extraCommands: [] })), [
    'stop_master john',
    'final_checkpoint john',
    'wait_replay paul',
    'promote paul',
    'rejoin john',
  ]);
});

test('promote plan: fence the old master first when there is one', () => {
  assert.deepEqual(expectedPath(planPromote({ from: 'john', to: 'paul' })), ['fence john', 'promote paul']);
  assert.deepEqual(expectedPath(planPromote({ from: null, to: 'paul' })), ['promote paul']);
});

test("adoption plan: the book change, then the proxies and the post-failover commands as after a failover's promotion; no remaster, no rejoin (the agents do both)", () => {
  assert.deepEqual(expectedPath(planAdoption({ from: 'john', to: 'paul', connectionFailover: true, extraCommands: ['notify', 'page'] })), [
    'adopt paul',
    'connection_failover paul',
    'extra_command:notify',
    'extra_command:page',
  ]);
  assert.deepEqual(expectedPath(planAdoption({ from: null, to: 'paul', connectionFailover: false, extraCommands: [] })), ['adopt paul']);
});

test('the forward path of executed steps leaves out skipped and recovery steps', () => {
  const steps = [
    { name: 'fence', server: 'john', outcome: 'ok' },
    { name: 'promote', server: 'paul', outcome: 'failed' },
    { name: 'settle_promotion', server: 'paul', outcome: 'ok' },
    { name: 'promote', server: 'george', outcome: 'ok' },
    { name: 'connection_failover', server: null, outcome: 'skipped' },
  ];
  assert.deepEqual(forwardPath(steps), ['fence john', 'promote paul', 'promote george']);
});
