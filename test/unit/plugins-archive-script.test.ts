/**
 * The archive script reports success (exit 0, PostgreSQL may then recycle the segment) only after
 * the copy and the folder holding its name are on disk. Proven on the real script under strace:
 * the copy is fsynced before the rename, the folder after it; a segment archived earlier is
 * fsynced again (with its folder) before exit 0. Skipped where strace is not installed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { DEFAULT_ARCHIVE_TEMPLATE, renderTemplate } from '../../src/plugins/archive/archive_local_dir.js';

const run = promisify(execFile);
const STRACE = '/usr/bin/strace';
const root = mkdtempSync(join(tmpdir(), 'handyrep-archive-script-'));
after(() => rmSync(root, { recursive: true, force: true }));

type Event = { kind: 'fsync'; path: string } | { kind: 'rename'; from: string; to: string };

/** Runs the script under strace; the fsyncs (by path) and renames, in order. */
async function tracedRun(script: string, args: string[]): Promise<Event[]> {
  const out = join(root, `trace-${Math.random().toString(36).slice(2)}`);
  await run(STRACE, ['-f', '-o', out, '-e', 'trace=openat,fsync,fdatasync,rename,renameat,renameat2', 'sh', script, ...args]);
  const fds = new Map<string, string>();
  const events: Event[] = [];
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const open = /^(\d+)\s+openat\(AT_FDCWD, "([^"]+)", [^)]*\) = (\d+)$/.exec(line);
    if (open) fds.set(`${open[1]}:${open[3]}`, open[2] as string);
    const sync = /^(\d+)\s+f(?:data)?sync\((\d+)\)\s+= 0$/.exec(line);
    if (sync) events.push({ kind: 'fsync', path: fds.get(`${sync[1]}:${sync[2]}`) ?? '?' });
    const rename = /rename(?:at2?)?\((?:AT_FDCWD, )?"([^"]+)", (?:AT_FDCWD, )?"([^"]+)"/.exec(line);
    if (rename) events.push({ kind: 'rename', from: rename[1] as string, to: rename[2] as string });
  }
  return events;
}

describe('archive script durability', { skip: existsSync(STRACE) ? false : 'strace is not installed' }, () => {
  const archive = join(root, 'archive');
  mkdirSync(archive);
  const script = join(root, 'archive.sh');
  writeFileSync(script, renderTemplate(DEFAULT_ARCHIVE_TEMPLATE, { archive_directory: archive, no_archive_file: join(root, 'noarchive') }));
  const segment = join(root, '000000010000000000000001');
  writeFileSync(segment, 'wal bytes');

  it('a new segment: fsync of the copy, rename, fsync of the folder, then exit 0', async () => {
    const events = await tracedRun(script, [segment, '000000010000000000000001']);
    const renameAt = events.findIndex((e) => e.kind === 'rename' && e.to === join(archive, '000000010000000000000001'));
    assert.ok(renameAt >= 0, JSON.stringify(events));
    const rename = events[renameAt] as { from: string };
    const fileSync = events.findIndex((e) => e.kind === 'fsync' && e.path === rename.from);
    const dirSync = events.findIndex((e, i) => i > renameAt && e.kind === 'fsync' && e.path === archive);
    assert.ok(fileSync >= 0 && fileSync < renameAt, `copy fsynced before its rename: ${JSON.stringify(events)}`);
    assert.ok(dirSync > renameAt, `folder fsynced after the rename: ${JSON.stringify(events)}`);
    assert.equal(readFileSync(join(archive, '000000010000000000000001'), 'utf8'), 'wal bytes');
  });

  it('a segment already archived with the same content: fsync of it and the folder before exit 0', async () => {
    const events = await tracedRun(script, [segment, '000000010000000000000001']);
    assert.deepEqual(events, [
      { kind: 'fsync', path: join(archive, '000000010000000000000001') },
      { kind: 'fsync', path: archive },
    ]);
  });
});
