import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failoverHold } from '../../src/engine/maintenance.js';
import { maintenanceOf, type MaintenanceFields } from '../../src/model/maintenance.js';
import { parseParams } from '../../src/api/operations.js';
import { EventLog, type LogEntry } from '../../src/log/event-log.js';
import type { ServerMap, ServerRecord } from '../../src/model/server.js';
import { makeClusterStatus, makeServerStatus } from '../../src/model/status.js';
import { ServerBook } from '../../src/runtime/server-book.js';
import { currentHold, pauseFailover, plannedStop, resumeFailover } from '../../src/runtime/maintenance.js';
import { failure, success } from '../../src/model/rd.js';

const TS = '2026-01-01T00:00:00.000Z';

test('when the failover check holds back: row by row', () => {
  const rows: [string, MaintenanceFields, string | null, RegExp | null][] = [
    ['not paused, nothing planned', { paused: false }, 'john', null],
    ['paused', { paused: true }, 'john', /^paused: not failing over$/],
    ['paused, with who, when and why', { paused: true, paused_by: 'alice', paused_at: TS, paused_reason: 'kernel upgrade' }, 'john', /^paused by alice since 2026-01-01T00:00:00.000Z \(kernel upgrade\): not failing over$/],
    ['paused without a master', { paused: true }, null, /paused/],
    ['the master shut down through HandyRep', { planned_down: { server: 'john', action: 'shutdown', since: TS } }, 'john', /master john was shut down through HandyRep .*intentionally stopped.*not failing over/],
    ['the master restarting through HandyRep', { planned_down: { server: 'john', action: 'restart', since: TS } }, 'john', /master john was restarted through HandyRep/],
    ['another server planned down (e.g. the master changed since)', { planned_down: { server: 'paul', action: 'shutdown', since: TS } }, 'john', null],
  ];
  for (const [label, m, master, expected] of rows) {
    const hold = failoverHold(m, master);
    if (expected === null) assert.equal(hold, null, label);
    else assert.match(hold ?? '(none)', expected, label);
  }
});

test('maintenance fields read back from saved state: paused always set, junk dropped', () => {
  assert.deepEqual(maintenanceOf({}), { paused: false });
  assert.deepEqual(maintenanceOf({ paused: true, paused_by: 'alice' }), { paused: true, paused_by: 'alice' });
  assert.deepEqual(maintenanceOf({ paused: false, paused_by: 'alice' }), { paused: false }, 'who paused is not kept once resumed');
  const junk = { planned_down: { server: 'john', action: 'reboot', since: TS } } as unknown as MaintenanceFields;
  assert.deepEqual(maintenanceOf(junk), { paused: false });
});

test('pause parameters: optional who and why; bad ones are refused by name', () => {
  assert.deepEqual(parseParams('pause', {}), { by: null, reason: null });
  assert.deepEqual(parseParams('pause', { by: 'alice', reason: 'upgrade' }), { by: 'alice', reason: 'upgrade' });
  assert.throws(() => parseParams('pause', { by: 'x'.repeat(101) }), /pause: by:/);
  assert.throws(() => parseParams('pause', { reason: 42 }), /pause: reason:/);
  assert.throws(() => parseParams('pause', { by: '";not valid' }), /pause: by: must be 1-100 letters/);
  assert.throws(() => parseParams('pause', { reason: 'two\nlines' }), /pause: reason: must be one line of text/);
  assert.deepEqual(parseParams('pause', { by: 'alice@example.org', reason: 'kernel upgrade, back at 14:00' }), { by: 'alice@example.org', reason: 'kernel upgrade, back at 14:00' });
  assert.throws(() => parseParams('resume', { by: 'alice' }), /resume/);
});

function book(alerts: LogEntry[], cluster = makeClusterStatus('healthy', 'ok', TS)): { book: ServerBook; log: EventLog; saves: { n: number } } {
  const server = (role: string): ServerRecord => ({ hostname: 'h', role, enabled: true, ...makeServerStatus('healthy', 'ok', TS) }) as unknown as ServerRecord;
  const servers: ServerMap = { john: server('master'), paul: server('replica') };
  const log = new EventLog({ file: null, tailSize: 100, verbose: false });
  log.onAlert((e) => alerts.push(e));
  const saves = { n: 0 };
  return { book: new ServerBook(servers, cluster, [], log, () => new Date(TS), () => void saves.n++), log, saves };
}

test('pause and resume: shown with the cluster status, saved, kept across status changes and a restart', () => {
  const { book: b, log, saves } = book([]);
  assert.equal(b.clusterStatus.paused, false);
  const rd = pauseFailover(b, log, 'alice', 'kernel upgrade');
  assert.equal(rd.result, 'SUCCESS');
  assert.ok(saves.n > 0, 'the pause is saved');
  assert.equal(currentHold(b), `paused by alice since ${TS} (kernel upgrade): not failing over`);
  b.applyStatus('paul', { status: 'down', message: 'crashed' }); // the cluster status is recomputed
  const cluster = b.clusterStatus;
  assert.deepEqual([cluster.status, cluster.paused, cluster.paused_by, cluster.paused_reason, cluster.paused_at], ['warning', true, 'alice', 'kernel upgrade', TS]);
  // A controller restarted on the saved state (the cluster status carries the fields) is still paused.
  const { book: again, log: log2 } = book([], b.snapshot().cluster);
  assert.match(currentHold(again) ?? '', /^paused by alice/);
  assert.equal(resumeFailover(again, log2).result, 'SUCCESS');
  assert.deepEqual(again.clusterStatus.paused, false);
  assert.equal('paused_by' in again.clusterStatus, false);
  assert.equal(currentHold(again), null);
  assert.equal(resumeFailover(again, log2).result, 'FAIL', 'not paused: nothing to resume');
});

test('a planned stop of the master: marked before the stop, no alert for it, cleared by an answer', async () => {
  const alerts: LogEntry[] = [];
  const { book: b } = book(alerts);
  const rd = await plannedStop(b, 'john', 'shutdown', async () => {
    assert.match(currentHold(b) ?? '', /master john was shut down through HandyRep/, 'marked before the stop runs');
    b.applyStatus('john', { status: 'down', message: 'server has been shut down' });
    return success('shutdown of john succeeded');
  });
  assert.equal(rd.result, 'SUCCESS');
  assert.equal(b.clusterStatus.status, 'down');
  assert.match(b.clusterStatus.status_message, /stopped through HandyRep/);
  assert.deepEqual(alerts.filter((a) => a.alert === 'CRITICAL'), [], 'a planned stop pages nobody');
  b.applyStatus('john', b.judgedPoll('john', { status: 'healthy', message: 'master responding to polling' }, true));
  assert.equal(currentHold(b), null, 'the master answered: the planned stop is over');
  assert.equal(b.clusterStatus.planned_down, undefined);
});

test('a planned stop: a shutdown that fails clears the mark; a replica is never marked', async () => {
  const { book: b } = book([]);
  await plannedStop(b, 'john', 'shutdown', async () => failure('server john does not shut down'));
  assert.equal(currentHold(b), null);
  await plannedStop(b, 'paul', 'shutdown', async () => success('ok'));
  assert.equal(b.maintenanceState.planned_down, undefined);
});

test('a planned stop ends when its server is no longer the master (a failover or promotion since)', async () => {
  const { book: b } = book([]);
  await plannedStop(b, 'john', 'shutdown', async () => success('stopped'));
  assert.equal(b.clusterStatus.planned_down?.server, 'john');
  b.putServer('john', { ...b.get('john'), role: 'replica', enabled: false }, 'fenced');
  b.putServer('paul', { ...b.get('paul'), role: 'master' }, 'promoted');
  assert.equal(b.clusterStatus.planned_down, undefined);
  assert.equal(b.maintenanceState.planned_down, undefined);
});
