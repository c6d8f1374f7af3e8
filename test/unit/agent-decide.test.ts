/**
 * The node agent's round as a pure function: one row per state of the `master` key × PostgreSQL ×
 * lease, with the actions expected; crash vs stop on purpose; the health endpoints' codes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deepFreeze } from '../../src/config/deep-freeze.js';
import { decideAgentRound, type AgentAction, type AgentReason, type AgentSnapshot, type MasterKeyView, type PostgresView } from '../../src/agent/decide.js';
import { healthReply, parseLag, type HealthFacts } from '../../src/agent/health.js';
import { classifyPostgres } from '../../src/agent/postgres-state.js';
import type { MasterRecord } from '../../src/store/etcd/master-record.js';

const rec = (name: string): MasterKeyView => ({
  state: 'present',
  record: { name, term: '7', timeline: 2, promoted_lsn: null, sync_set: [], since: '2026-12-04T12:00:00Z', written_by: 'c1' } satisfies MasterRecord,
});
const ABSENT: MasterKeyView = { state: 'absent' };
const UNREADABLE: MasterKeyView = { state: 'unreadable', reason: 'etcd did not answer' };
const W: PostgresView = { state: 'running', writable: true };
const RO: PostgresView = { state: 'running', writable: false };
const CRASHED: PostgresView = { state: 'crashed' };
const STOPPED: PostgresView = { state: 'stopped' };
const HUNG: PostgresView = { state: 'unresponsive' };

type Row = [string, MasterKeyView, PostgresView, { held: boolean; fresh: boolean; restart?: boolean; tried?: boolean }, AgentAction[], AgentReason];
const rows: Row[] = [
  ['us, writable, no lease yet → take it', rec('john'), W, { held: false, fresh: false }, ['hold_lease'], 'master_is_us'],
  ['us, writable, lease fresh → renew', rec('john'), W, { held: true, fresh: true }, ['hold_lease'], 'master_is_us'],
  ['us, writable, lease stale → demote', rec('john'), W, { held: true, fresh: false }, ['demote', 'release_lease'], 'lease_stale'],
  ['other, writable, no lease → demote at once', rec('paul'), W, { held: false, fresh: false }, ['demote'], 'master_names_other'],
  ['other, writable, lease held → demote and release', rec('paul'), W, { held: true, fresh: true }, ['demote', 'release_lease'], 'master_names_other'],
  ['other, read-only → nothing', rec('paul'), RO, { held: false, fresh: false }, [], 'replica'],
  ['us, read-only, lease held → release', rec('john'), RO, { held: true, fresh: true }, ['release_lease'], 'replica'],
  ['absent, writable → left alone, no lease', ABSENT, W, { held: false, fresh: false }, [], 'no_record'],
  ['absent, writable, lease held (key deleted) → release, not demote', ABSENT, W, { held: true, fresh: true }, ['release_lease'], 'no_record'],
  ['unreadable, writable, lease fresh → keep renewing', UNREADABLE, W, { held: true, fresh: true }, ['hold_lease'], 'record_unreadable'],
  ['unreadable, writable, lease stale → demote', UNREADABLE, W, { held: true, fresh: false }, ['demote', 'release_lease'], 'lease_stale'],
  ['unreadable, writable, never held → no change', UNREADABLE, W, { held: false, fresh: false }, [], 'record_unreadable'],
  ['us, crashed, restart_on_crash → restart once', rec('john'), CRASHED, { held: true, fresh: true, restart: true }, ['restart_crashed'], 'crashed_restart'],
  ['us, crashed, restart tried → release', rec('john'), CRASHED, { held: true, fresh: true, restart: true, tried: true }, ['release_lease'], 'crashed_release'],
  ['us, crashed, no restart_on_crash → release at once', rec('john'), CRASHED, { held: true, fresh: true }, ['release_lease'], 'crashed_release'],
  ['other, crashed, restart_on_crash → not restarted', rec('paul'), CRASHED, { held: false, fresh: false, restart: true }, [], 'crashed_release'],
  ['absent, crashed, restart_on_crash → not restarted', ABSENT, CRASHED, { held: false, fresh: false, restart: true }, [], 'crashed_release'],
  ['us, stopped on purpose, restart_on_crash → never restarted', rec('john'), STOPPED, { held: true, fresh: true, restart: true }, ['release_lease'], 'stopped'],
  ['us, unresponsive, lease fresh → wait, no renewal', rec('john'), HUNG, { held: true, fresh: true }, [], 'unresponsive'],
  ['us, unresponsive, lease stale → stop it', rec('john'), HUNG, { held: true, fresh: false }, ['demote', 'release_lease'], 'lease_stale'],
];

describe('decideAgentRound', () => {
  for (const [name, master, postgres, lease, actions, reason] of rows) {
    it(name, () => {
      const snapshot: AgentSnapshot = deepFreeze({
        node: 'john',
        master,
        postgres,
        leaseHeld: lease.held,
        leaseFresh: lease.fresh,
        restartOnCrash: lease.restart ?? false,
        crashRestartTried: lease.tried ?? false,
      });
      const plan = decideAgentRound(snapshot);
      assert.deepEqual(plan.actions, actions);
      assert.equal(plan.reason, reason);
    });
  }
});

describe('classifyPostgres', () => {
  const ran = { wasRunning: true, stoppedByAgent: false };
  it('live postmaster answering SQL → running with its writability', () => {
    assert.deepEqual(classifyPostgres({ pidFilePid: 10, pidAlive: true, writable: true }, ran), W);
    assert.deepEqual(classifyPostgres({ pidFilePid: 10, pidAlive: true, writable: false }, ran), RO);
  });
  it('live postmaster not answering → unresponsive', () => {
    assert.deepEqual(classifyPostgres({ pidFilePid: 10, pidAlive: true, writable: null }, ran), HUNG);
  });
  it('pid file left by a dead postmaster the agent saw running → crashed', () => {
    assert.deepEqual(classifyPostgres({ pidFilePid: 10, pidAlive: false, writable: null }, ran), CRASHED);
  });
  it('no pid file (pg_ctl stop by anybody) → stopped, not crashed', () => {
    assert.deepEqual(classifyPostgres({ pidFilePid: null, pidAlive: false, writable: null }, ran), STOPPED);
  });
  it('killed by the agent itself (demotion) → stopped', () => {
    assert.deepEqual(classifyPostgres({ pidFilePid: 10, pidAlive: false, writable: null }, { wasRunning: true, stoppedByAgent: true }), STOPPED);
  });
  it('stale pid file found at agent start (never seen running) → stopped', () => {
    assert.deepEqual(classifyPostgres({ pidFilePid: 10, pidAlive: false, writable: null }, { wasRunning: false, stoppedByAgent: false }), STOPPED);
  });
});

describe('health endpoints', () => {
  const base: HealthFacts = { node: 'john', running: true, writable: true, primaryConfirmed: true, lagBytes: null, timeline: 1, recordedMaster: 'john', lastReason: 'master_is_us', roundsTotal: 3, demotionsTotal: 0, masterLagBytes: null, leaseRenewedAtMs: null };
  // The local backlog (lagBytes) is small; the distance to the master (masterLagBytes) decides ?lag=.
  const replica: HealthFacts = { ...base, writable: false, primaryConfirmed: false, lagBytes: 0, masterLagBytes: 2048, recordedMaster: 'paul', lastReason: 'replica' };
  const code = (url: string, f: HealthFacts): number => healthReply(url, f).status;
  const table: ReadonlyArray<[string, HealthFacts, number]> = [
    ['/primary', base, 200],
    ['/read-write', base, 200],
    ['/master', base, 200],
    ['/primary', { ...base, primaryConfirmed: false }, 503],
    ['/primary', replica, 503],
    ['/replica', replica, 200],
    ['/replica', base, 503],
    ['/replica?lag=1kB', replica, 503],
    ['/replica?lag=4096', replica, 200],
    ['/replica?lag=lots', replica, 400],
    ['/replica?lag=10MB', { ...replica, masterLagBytes: null }, 503],
    ['/replica?lag=1kB', { ...replica, lagBytes: 1 << 30, masterLagBytes: 0 }, 200],
    ['/replica', { ...replica, running: false }, 503],
    ['/read-only', base, 200],
    ['/read-only', replica, 200],
    ['/health', { ...base, running: false }, 503],
    ['/health', replica, 200],
    ['/liveness', { ...base, running: false }, 200],
    ['/metrics', base, 200],
    ['/nope', base, 404],
  ];
  for (const [url, facts, expected] of table) {
    it(`${url} (${facts.running ? (facts.writable ? 'writable' : 'read-only') : 'stopped'}${facts.primaryConfirmed ? ', confirmed' : ''}) → ${expected}`, () => {
      assert.equal(code(url, facts), expected);
    });
  }
  it('parses Patroni lag sizes', () => {
    assert.equal(parseLag('16MB'), 16 * 1024 * 1024);
    assert.equal(parseLag('100'), 100);
    assert.equal(parseLag('-1'), undefined);
  });
});
