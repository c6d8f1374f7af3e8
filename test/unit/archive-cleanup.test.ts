/** The pure decision of cleanup_archive: which archived files may be deleted. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planArchiveCleanup, type ArchiveFile } from '../../src/engine/archive-cleanup.js';
import { classifyArchiveFile, walSegmentName } from '../../src/engine/wal-names.js';
import { parseLsn, type Lsn } from '../../src/model/lsn.js';

const HOUR = 3600_000;
const NOW = Date.UTC(2024, 0, 31, 12, 0, 0);
const lsn = (text: string): Lsn => parseLsn(text) as Lsn;
const seg = (tli: number, n: number): string => `${tli.toString(16).toUpperCase().padStart(8, '0')}00000000${n.toString(16).toUpperCase().padStart(8, '0')}`;
const file = (name: string, ageHours: number): ArchiveFile => ({ name, mtimeMs: NOW - ageHours * HOUR, sizeBytes: 16777216 });

test('WAL segment names follow XLogFileName', () => {
  assert.equal(walSegmentName(1, lsn('0/3000028'), 16 * 1048576), '000000010000000000000003');
  assert.equal(walSegmentName(2, lsn('1/FF000000'), 16 * 1048576), '0000000200000001000000FF');
  assert.equal(walSegmentName(0x1a, lsn('A/12345678'), 16 * 1048576), '0000001A0000000A00000012');
  assert.equal(walSegmentName(1, lsn('0/3000028'), 64 * 1048576), '000000010000000000000000');
  assert.equal(walSegmentName(1, lsn('0/C000000'), 64 * 1048576), '000000010000000000000003');
  assert.throws(() => walSegmentName(1, lsn('0/1'), 1000), /segment size/);
  assert.deepEqual(classifyArchiveFile('000000010000000000000003'), { kind: 'segment', segment: '000000010000000000000003' });
  assert.deepEqual(classifyArchiveFile('000000010000000000000003.partial'), { kind: 'segment', segment: '000000010000000000000003' });
  assert.deepEqual(classifyArchiveFile('000000010000000000000003.gz'), { kind: 'segment', segment: '000000010000000000000003' });
  assert.deepEqual(classifyArchiveFile('000000010000000000000004.00000028.backup'), { kind: 'backup', segment: '000000010000000000000004' });
  assert.deepEqual(classifyArchiveFile('00000002.history'), { kind: 'history' });
  assert.deepEqual(classifyArchiveFile('.000000010000000000000005.tmp.123'), { kind: 'unknown' });
  assert.deepEqual(classifyArchiveFile('000000010000000000000003; rm -rf /'), { kind: 'unknown' });
});

test('deletes exactly the expired files no replica needs', () => {
  const files = [1, 2, 3, 4, 5, 6].map((n) => file(seg(1, n), 100 - n)).concat([file(seg(1, 7), 1), file(seg(1, 8), 0.5)]);
  const plan = planArchiveCleanup({ files: Object.freeze(files), needs: [{ who: 'replica paul', segment: seg(1, 5) }], nowMs: NOW, deleteAfterHours: 48 });
  assert.deepEqual(plan.delete, [seg(1, 1), seg(1, 2), seg(1, 3), seg(1, 4)]);
  const reasons = Object.fromEntries(plan.kept.map((k) => [k.name, k.reason]));
  assert.equal(reasons[seg(1, 5)], 'needed');
  assert.equal(reasons[seg(1, 6)], 'needed');
  assert.equal(reasons[seg(1, 7)], 'not_expired');
  assert.equal(reasons[seg(1, 8)], 'not_expired');
  assert.deepEqual(plan.boundary, { segment: seg(1, 5), who: 'replica paul' });
  assert.match(plan.summary, /4 file\(s\) to delete/);
});

test('the oldest need of several replicas bounds the deletion; positions ignore the timeline', () => {
  const files = [file(seg(1, 1), 90), file(seg(1, 2), 90), file(seg(1, 3), 90), file(seg(2, 3), 80), file(seg(2, 4), 80)];
  const plan = planArchiveCleanup({
    files,
    needs: [
      { who: 'replica paul', segment: seg(2, 4) },
      { who: 'replica george', segment: seg(2, 3) },
    ],
    nowMs: NOW,
    deleteAfterHours: 48,
  });
  // Timeline 1's segment 3 has the position george needs: kept, as pg_archivecleanup would.
  assert.deepEqual(plan.delete, [seg(1, 1), seg(1, 2)]);
  assert.equal(plan.boundary?.who, 'replica george');
});

test('the latest base backup keeps its WAL; older backup files go with their segments', () => {
  const files = [
    file(seg(1, 1), 200),
    file(`${seg(1, 2)}.00000028.backup`, 200),
    file(seg(1, 2), 200),
    file(seg(1, 3), 150),
    file(`${seg(1, 4)}.00000060.backup`, 150),
    file(seg(1, 4), 150),
    file(seg(1, 5), 150),
    file('00000002.history', 150),
    file('README', 150),
  ];
  const plan = planArchiveCleanup({ files, needs: [{ who: 'replica paul', segment: seg(1, 9) }], nowMs: NOW, deleteAfterHours: 48 });
  assert.deepEqual(plan.delete, [seg(1, 1), seg(1, 2), `${seg(1, 2)}.00000028.backup`, seg(1, 3)].sort());
  const reasons = Object.fromEntries(plan.kept.map((k) => [k.name, k.reason]));
  assert.equal(reasons[`${seg(1, 4)}.00000060.backup`], 'latest_backup');
  assert.equal(reasons[seg(1, 4)], 'needed');
  assert.equal(reasons[seg(1, 5)], 'needed');
  assert.equal(reasons['00000002.history'], 'history');
  assert.equal(reasons.README, 'unknown_file');
  assert.match(plan.boundary?.who ?? '', /latest base backup/);
});

test('no replicas and no backup: age alone decides; nothing expired: nothing deleted', () => {
  const files = [file(seg(1, 1), 49), file(seg(1, 2), 47)];
  assert.deepEqual(planArchiveCleanup({ files, needs: [], nowMs: NOW, deleteAfterHours: 48 }).delete, [seg(1, 1)]);
  assert.deepEqual(planArchiveCleanup({ files, needs: [], nowMs: NOW, deleteAfterHours: 72 }).delete, []);
  assert.deepEqual(planArchiveCleanup({ files: [], needs: [], nowMs: NOW, deleteAfterHours: 1 }).delete, []);
});

test('bad input is a programming error', () => {
  assert.throws(() => planArchiveCleanup({ files: [], needs: [{ who: 'x', segment: 'nope' }], nowMs: NOW, deleteAfterHours: 1 }), /not a WAL segment/);
  assert.throws(() => planArchiveCleanup({ files: [], needs: [], nowMs: NOW, deleteAfterHours: 0 }), /positive/);
});
