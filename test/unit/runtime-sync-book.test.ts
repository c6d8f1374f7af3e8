/**
 * The recorded synchronous set in the server book: every change is kept with its reason and
 * saved; a change that could not be saved is taken back (the master is then not told); the
 * record read back from saved state is checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventLog } from '../../src/log/event-log.js';
import { isSyncRecord, SYNC_HISTORY_LIMIT, type SyncRecord } from '../../src/model/sync-record.js';
import { makeClusterStatus } from '../../src/model/status.js';
import { ServerBook } from '../../src/runtime/server-book.js';

const TS = '2026-12-04T09:00:00.000Z';
const rec = (quorum: number, members: string[], reason: string): SyncRecord => ({ members, quorum, master: 'john', at: TS, reason });

function book(): { book: ServerBook; saves: { n: number } } {
  const saves = { n: 0 };
  const log = new EventLog({ file: null, tailSize: 100, verbose: false });
  return { book: new ServerBook({}, makeClusterStatus('healthy', 'ok', TS), [], log, () => new Date(TS), () => void saves.n++), saves };
}

test('sync record: each change is kept (newest first) and asks for a save', () => {
  const { book: b, saves } = book();
  assert.equal(b.syncRecord(), null);
  b.setSync(rec(0, ['paul'], 'about to name'));
  b.setSync(rec(1, ['paul'], 'ANY 1 of paul'));
  assert.deepEqual(b.syncRecord(), rec(1, ['paul'], 'ANY 1 of paul'));
  assert.deepEqual(b.recentSyncChanges(5).map((r) => r.reason), ['ANY 1 of paul', 'about to name']);
  assert.equal(saves.n, 2);
});

test('sync record: an unsaved change is taken back, history included', () => {
  const { book: b } = book();
  b.setSync(rec(1, ['paul'], 'first'));
  const previous = b.syncRecord();
  b.setSync(rec(1, ['george', 'paul'], 'widened'));
  b.undoSync(previous);
  assert.deepEqual(b.syncRecord(), rec(1, ['paul'], 'first'));
  assert.deepEqual(b.recentSyncChanges(5).map((r) => r.reason), ['first']);
});

test('sync record: the history keeps the newest SYNC_HISTORY_LIMIT changes', () => {
  const { book: b } = book();
  for (let i = 0; i < SYNC_HISTORY_LIMIT + 5; i++) b.setSync(rec(1, ['paul'], `change ${i}`));
  const all = b.recentSyncChanges(SYNC_HISTORY_LIMIT + 10);
  assert.equal(all.length, SYNC_HISTORY_LIMIT);
  assert.equal(all[0]?.reason, `change ${SYNC_HISTORY_LIMIT + 4}`);
});

type ShapeRow = [label: string, value: unknown, ok: boolean];
const SHAPES: ShapeRow[] = [
  ['a record', rec(1, ['paul'], 'x'), true],
  ['no master yet', { ...rec(0, [], 'x'), master: null }, true],
  ['members not strings', { ...rec(1, [], 'x'), members: [1] }, false],
  ['quorum missing', { members: [], master: null, at: TS, reason: 'x' }, false],
  ['null', null, false],
];
for (const [label, value, ok] of SHAPES) test(`sync record read back: ${label}`, () => assert.equal(isSyncRecord(value), ok));
