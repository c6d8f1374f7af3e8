/**
 * atomicWriteArgv through a real sh: the content arrives whole with the requested mode, the
 * temporary file has an unguessable name (a symlink planted at the old predictable name
 * `<path>.tmp.<pid>` is never followed), and nothing is left behind on failure.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { atomicWriteArgv } from '../../src/plugins/node-file.js';

const root = mkdtempSync(join(tmpdir(), 'handyrep-node-file-'));
after(() => rmSync(root, { recursive: true, force: true }));

function write(path: string, content: string, access: Parameters<typeof atomicWriteArgv>[1]): number {
  const [cmd, ...args] = atomicWriteArgv(path, access, 'test_write');
  return spawnSync(cmd as string, args, { input: content }).status ?? -1;
}

it('writes the content with the requested mode and leaves no temporary file', () => {
  const dir = join(root, 'a');
  const path = join(dir, 'archive.sh');
  assert.equal(write(path, '#!/bin/sh\nexit 0\n', { umask: '077', mode: '700' }), 0);
  assert.equal(readFileSync(path, 'utf8'), '#!/bin/sh\nexit 0\n');
  assert.equal(statSync(path).mode & 0o777, 0o700);
  assert.deepEqual(readdirSync(dir), ['archive.sh']);
});

it('symlinks planted at predictable temporary names are never written through', () => {
  const dir = join(root, 'b');
  mkdirSync(dir);
  const victim = join(root, 'victim');
  writeFileSync(victim, 'untouched');
  const path = join(dir, 'pgbouncer.ini');
  // The old script used "<path>.tmp.<shell pid>": plant a link for every pid the shell could get.
  const maxPid = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  const next = Number(readFileSync('/proc/sys/kernel/ns_last_pid', 'utf8')) + 1;
  for (let pid = next; pid < Math.min(next + 200, maxPid); pid += 1) symlinkSync(victim, `${path}.tmp.${pid}`);
  assert.equal(write(path, '[databases]\n', { umask: '022', mode: '644' }), 0);
  assert.equal(readFileSync(victim, 'utf8'), 'untouched');
  assert.equal(readFileSync(path, 'utf8'), '[databases]\n');
});

it('a failed write removes its temporary file', () => {
  const dir = join(root, 'c');
  mkdirSync(dir);
  // chmod fails (a mode it cannot parse) after the temporary file was written.
  const path = join(dir, 'target');
  assert.notEqual(write(path, 'x', { umask: '022', mode: 'bogus' as '644' }), 0);
  assert.deepEqual(readdirSync(dir), []);
});
