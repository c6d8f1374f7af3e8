import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statusAfterMasterVerify, statusAfterPoll, statusAfterReplicaVerify } from '../../src/engine/server-status.js';
import type { ReplicationObservation, VerifyObservation } from '../../src/engine/observations.js';

const up = { ok: true as const, inRecovery: false, latencyMs: 3 };
const upReplica = { ok: true as const, inRecovery: true, latencyMs: 3 };
const sqlMaster = { ok: true as const, inRecovery: false, timeline: 1, walPosition: '0/3000000', versionNum: 150000 };
const sqlReplica = { ...sqlMaster, inRecovery: true };
const streaming: ReplicationObservation = {
  streaming: true, upstreamHost: '127.0.0.11', lagBytes: 0, lagSeconds: 0, receiveLsn: '0/3000000',
  replayLsn: '0/3000000', lastMessageAgeSeconds: 0.5, timeline: 1,
};
const limits = { lagLimitMb: 1, lagLimitSeconds: null };

test('poll: an answer recovers only unknown, unavailable and down — never warning or lagged', () => {
  for (const prev of ['unknown', 'unavailable', 'down'] as const) {
    assert.deepEqual(statusAfterPoll('replica', prev, upReplica), { status: 'healthy', message: 'server responding to polling' });
  }
  for (const prev of ['warning', 'lagged', 'healthy'] as const) {
    assert.ok('keep' in statusAfterPoll('replica', prev, upReplica), prev);
  }
});

test('poll: refused is down, timeout is unavailable, starting and auth are warnings', () => {
  const cases = [
    ['refused', 'down'], ['timeout', 'unavailable'], ['starting', 'warning'], ['auth', 'warning'], ['other', 'unavailable'],
  ] as const;
  for (const [kind, status] of cases) {
    const verdict = statusAfterPoll('master', 'healthy', { ok: false, kind, reason: 'x', latencyMs: 1 });
    assert.ok(!('keep' in verdict));
    assert.equal(verdict.status, status, kind);
  }
});

test('poll: a master in recovery or a replica out of recovery is a warning', () => {
  assert.equal((statusAfterPoll('master', 'healthy', upReplica) as { status: string }).status, 'warning');
  assert.equal((statusAfterPoll('replica', 'healthy', up) as { status: string }).status, 'warning');
});

test('verify master: the decision table', () => {
  const ok = { ok: true as const };
  const bad = (reason: string) => ({ ok: false as const, reason });
  const table: [string, VerifyObservation, string, boolean][] = [
    ['all fine', { control: ok, sql: sqlMaster, write: ok }, 'healthy', true],
    ['no ssh', { control: bad('refused'), sql: sqlMaster, write: ok }, 'warning', true],
    ['cannot write', { control: ok, sql: sqlMaster, write: bad('disk full') }, 'down', false],
    ['in recovery', { control: ok, sql: sqlReplica }, 'warning', false],
    ['nothing answers', { control: bad('timeout'), sql: { ok: false, kind: 'timeout', reason: 't' } }, 'unavailable', false],
    ['refused, no ssh', { control: bad('refused'), sql: { ok: false, kind: 'refused', reason: 'r' } }, 'down', false],
    ['ssh ok, pg stopped', { control: ok, sql: { ok: false, kind: 'refused', reason: 'r' }, running: false }, 'down', false],
    ['ssh ok, pg running, no login', { control: ok, sql: { ok: false, kind: 'auth', reason: 'a' }, running: true }, 'warning', true],
  ];
  for (const [label, obs, status, ok2] of table) {
    const v = statusAfterMasterVerify(obs);
    assert.equal(v.status, status, label);
    assert.equal(v.ok, ok2, label);
  }
});

test('verify replica: lag over the limit is lagged, not streaming is unavailable', () => {
  const ok = { ok: true as const };
  const lagged = statusAfterReplicaVerify(
    { control: ok, sql: sqlReplica, replication: { ok: true, value: { ...streaming, lagBytes: 5 * 1048576 } } },
    limits, 'healthy', 'healthy');
  assert.equal(lagged.status, 'lagged');
  assert.match(lagged.message, /5\.0 MB/);
  const bySeconds = statusAfterReplicaVerify(
    { control: ok, sql: sqlReplica, replication: { ok: true, value: { ...streaming, lagSeconds: 30 } } },
    { lagLimitMb: 1, lagLimitSeconds: 10 }, 'healthy', 'healthy');
  assert.equal(bySeconds.status, 'lagged');
  const notStreaming = statusAfterReplicaVerify(
    { control: ok, sql: sqlReplica, replication: { ok: true, value: { ...streaming, streaming: false } } },
    limits, 'healthy', 'healthy');
  assert.equal(notStreaming.status, 'unavailable');
  const fine = statusAfterReplicaVerify({ control: ok, sql: sqlReplica, replication: { ok: true, value: streaming } }, limits, 'healthy', 'unknown');
  assert.equal(fine.status, 'healthy');
});

test('verify replica: with the master gone the last status is kept', () => {
  const ok = { ok: true as const };
  const v = statusAfterReplicaVerify(
    { control: ok, sql: sqlReplica, replication: { ok: true, value: { ...streaming, streaming: false } } },
    limits, 'down', 'lagged');
  assert.equal(v.status, 'lagged');
  assert.equal(v.ok, true);
});
