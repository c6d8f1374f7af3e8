/**
 * The server book through a cut-off episode, cycle by cycle, without a database: the checks'
 * verdicts as the poll produces them, the judgement as the failover check hands it over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventLog, type LogEntry } from '../../src/log/event-log.js';
import type { ServerMap, ServerRecord } from '../../src/model/server.js';
import { makeClusterStatus, makeServerStatus } from '../../src/model/status.js';
import { ServerBook } from '../../src/runtime/server-book.js';
import { statusAfterPoll } from '../../src/engine/server-status.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

function bookWith(alerts: LogEntry[], clock: { ms: number }, cluster = makeClusterStatus('healthy', 'ok', '2026-01-01T00:00:00.000Z')): ServerBook {
  const server = (role: string): ServerRecord => ({ hostname: 'h', role, enabled: true, ...makeServerStatus('healthy', 'ok', '2026-01-01T00:00:00.000Z') }) as unknown as ServerRecord;
  const servers: ServerMap = { john: server('master'), paul: server('replica'), george: server('replica') };
  const log = new EventLog({ file: null, tailSize: 100, verbose: false });
  log.onAlert((e) => alerts.push(e));
  return new ServerBook(servers, cluster, [], log, () => new Date(clock.ms), () => undefined);
}

const noAnswer = { ok: false as const, kind: 'timeout' as const, reason: 'timeout expired', latencyMs: 1000 };
const answer = { ok: true as const, inRecovery: false, latencyMs: 2 };
const seenVerdict = { failed: false as const, ambiguous: true, reason_code: 'vantage_sees_master' as const, unknown: [], reason: 'the controller cannot reach the master but paul, george can', seenBy: ['paul (probe: accepting connections)', 'george (probe: accepting connections)'] };

function poll(book: ServerBook, outcome: typeof noAnswer | typeof answer): void {
  const current = book.get('john');
  book.applyStatus('john', book.judgedPoll('john', statusAfterPoll('master', current.status, outcome), outcome.ok));
}

test('cut off from a master the replicas see: warning on every cycle, cluster never down, one alert, one when it ends', () => {
  const alerts: LogEntry[] = [];
  const clock = { ms: T0 };
  const book = bookWith(alerts, clock);
  const clusters: string[] = [];
  for (let cycle = 1; cycle <= 5; cycle++) {
    poll(book, noAnswer); // the cycle's poll
    clusters.push(book.clusterStatus.status);
    poll(book, noAnswer); // the judgement's retries
    poll(book, noAnswer);
    book.recordMasterJudgement('john', seenVerdict, 30);
    clusters.push(book.clusterStatus.status);
    assert.equal(book.get('john').status, 'warning', `cycle ${cycle}`);
    assert.match(book.get('john').status_message, /HandyRep cannot reach it; replicas see it \(george, paul\)/);
    clock.ms += 5000;
  }
  assert.ok(!clusters.includes('down'), `cluster statuses: ${clusters.join(' ')}`);
  assert.deepEqual(alerts.map((a) => `${a.alert} ${a.category}`), ['WARNING FAILOVER'], JSON.stringify(alerts));
  poll(book, answer);
  assert.equal(book.get('john').status, 'healthy', 'the answer lifts the cut-off warning');
  assert.equal(alerts.length, 2);
  assert.match(alerts[1]?.message ?? '', /reaches it again/);
});

test('a judgement nobody renews expires: the master is unavailable again', () => {
  const alerts: LogEntry[] = [];
  const clock = { ms: T0 };
  const book = bookWith(alerts, clock);
  poll(book, noAnswer);
  book.recordMasterJudgement('john', seenVerdict, 30);
  clock.ms += 31_000;
  poll(book, noAnswer);
  assert.equal(book.get('john').status, 'unavailable');
});

test('judged failed: the cluster goes down with one CRITICAL alert', () => {
  const alerts: LogEntry[] = [];
  const book = bookWith(alerts, { ms: T0 });
  poll(book, noAnswer);
  assert.equal(alerts.length, 0, 'the unanswered poll alone alerts nothing');
  assert.equal(book.clusterStatus.status, 'warning');
  book.recordMasterJudgement('john', { failed: true, reason_code: 'master_failed', notSeenBy: ['paul', 'george'], unknown: [], reason: 'neither the controller nor paul, george reach the master' }, 30);
  assert.equal(book.clusterStatus.status, 'down');
  assert.deepEqual(alerts.map((a) => `${a.alert} ${a.category}`), ['CRITICAL CLUSTER']);
});

test('no CRITICAL for the masterless moment of a switchover', () => {
  const alerts: LogEntry[] = [];
  const book = bookWith(alerts, { ms: T0 });
  book.topologyInFlight = true;
  book.putServer('john', { ...book.get('john'), role: 'replica', enabled: false }, 'fenced');
  assert.equal(book.clusterStatus.status, 'down');
  book.putServer('paul', { ...book.get('paul'), role: 'master' }, 'promoted');
  book.topologyInFlight = false;
  assert.deepEqual(alerts, []);
});
