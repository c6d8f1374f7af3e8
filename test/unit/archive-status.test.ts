/** The archiving warning folded into the master's verification. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { archiveWarning, withArchiveWarning, type ArchiverObservation } from '../../src/engine/archive-status.js';
import { parseFindListing } from '../../src/plugins/archive/archive_delete_find.js';
import { renderTemplate, DEFAULT_ARCHIVE_TEMPLATE } from '../../src/plugins/archive/archive_local_dir.js';

const fine: ArchiverObservation = Object.freeze({
  archiveMode: 'on',
  archivedCount: 10,
  failedCount: 0,
  lastArchivedWal: '000000010000000000000009',
  lastArchivedAgeSeconds: 5,
  lastFailedWal: null,
  lastFailedAgeSeconds: null,
  readyCount: 0,
  oldestReadyAgeSeconds: null,
});

test('a working archiver gives no warning', () => {
  assert.equal(archiveWarning(fine, 0, 600), null);
  // An idle master archives nothing for hours: not a problem when nothing waits.
  assert.equal(archiveWarning({ ...fine, lastArchivedAgeSeconds: 86400 }, 0, 600), null);
  // Failures that have since been followed by successes: recovered.
  assert.equal(archiveWarning({ ...fine, failedCount: 3, lastFailedWal: 'x', lastFailedAgeSeconds: 60 }, 0, 600), null);
});

test('failing archiving, an old backlog and archive_mode off are warnings', () => {
  const failing = { ...fine, failedCount: 5, lastFailedWal: '00000001000000000000000A', lastFailedAgeSeconds: 2, lastArchivedAgeSeconds: 120, readyCount: 1, oldestReadyAgeSeconds: 100 };
  assert.match(archiveWarning(failing, 2, 600) ?? '', /archiving is failing: the last attempt \(00000001000000000000000A\) failed 2 s ago, 3 new failure\(s\)/);
  assert.match(archiveWarning(failing, null, 600) ?? '', /archiving is failing/);
  const backlog = { ...fine, readyCount: 4, oldestReadyAgeSeconds: 900 };
  assert.match(archiveWarning(backlog, 0, 600) ?? '', /4 WAL segment\(s\) waiting to be archived, the oldest for 900 s/);
  assert.equal(archiveWarning(backlog, 0, 1000), null);
  assert.match(archiveWarning({ ...fine, archiveMode: 'off' }, null, 600) ?? '', /archive_mode is off/);
});

test('the warning turns a healthy master into warning and leaves worse verdicts alone', () => {
  const healthy = { ok: true, status: 'healthy' as const, message: 'master passed verification', issues: {} };
  assert.deepEqual(withArchiveWarning(healthy, null), healthy);
  const warned = withArchiveWarning(healthy, 'archiving is failing');
  assert.equal(warned.status, 'warning');
  assert.equal(warned.ok, true);
  assert.equal(warned.message, 'master passed verification; archiving: archiving is failing');
  const down = { ok: false, status: 'down' as const, message: 'master is down', issues: {} };
  assert.deepEqual(withArchiveWarning(down, 'x'), down);
});

test('find listing and the archive script template', () => {
  const files = parseFindListing('000000010000000000000001\t1706700000.5000000000\t16777216\nREADME\t1706700001.0\t12\n\nbroken line\n');
  assert.deepEqual(files, [
    { name: '000000010000000000000001', mtimeMs: 1706700000500, sizeBytes: 16777216 },
    { name: 'README', mtimeMs: 1706700001000, sizeBytes: 12 },
  ]);
  const script = renderTemplate(DEFAULT_ARCHIVE_TEMPLATE, { archive_directory: '/srv/wal archive', no_archive_file: "/tmp/it's" });
  assert.match(script, /^ARCHIVE_DIR='\/srv\/wal archive'$/m);
  assert.match(script, /^NO_ARCHIVE_FILE='\/tmp\/it'\\''s'$/m);
  assert.throws(() => renderTemplate('{{nope}}', {}), /unknown placeholder/);
});
