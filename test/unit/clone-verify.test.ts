/**
 * clone_basebackup's verification of a finished copy (src/plugins/clone/verify-copy.ts): what the
 * extra parameters say of the manifest and the WAL, the job's argv, and how its end reads.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CommandResult, NodeShell } from '../../src/nodes/ports.js';
import type { ServerRef } from '../../src/plugins/types.js';
import { basebackupOutputs, NO_MANIFEST, verifyArgv, verifyCopy } from '../../src/plugins/clone/verify-copy.js';

const target = { name: 'paul', pgdata: '/srv/pg/paul data', pg_bin_dir: '/usr/lib/postgresql/15/bin' } as unknown as ServerRef;

describe('verify-copy: what pg_basebackup was asked for', () => {
  it('rows: manifest unless --no-manifest; WAL copied unless the last -X says none', () => {
    const rows: [string[], boolean, boolean][] = [
      [[], true, true],
      [['--max-rate=10M'], true, true],
      [['--no-manifest'], false, true],
      [['-X', 'none'], true, false],
      [['-Xnone'], true, false],
      [['--wal-method=none'], true, false],
      [['--wal-method', 'n'], true, false],
      [['-X', 'fetch'], true, true],
      [['-X', 'none', '-X', 'stream'], true, true],
    ];
    for (const [extra, manifest, walCopied] of rows) assert.deepEqual(basebackupOutputs(extra), { manifest, walCopied }, extra.join(' '));
  });

  it('argv: pg_verifybackup of the target folder (paths as argv elements), --no-parse-wal only when the WAL is not in the copy', () => {
    const parsed = verifyArgv(target, true);
    assert.deepEqual(parsed.slice(3), ['verify_copy', '/srv/pg/paul data', '/usr/lib/postgresql/15/bin/pg_verifybackup', '/srv/pg/paul data']);
    assert.ok(verifyArgv(target, false).includes('--no-parse-wal'));
    assert.ok(!parsed.includes('--no-parse-wal'));
  });
});

describe('verify-copy: the job', () => {
  /** A node shell whose job (the run script) answers `answer`; the job's other short commands succeed. */
  const shellAnswering = (answer: CommandResult): NodeShell => ({
    description: 'fake',
    run: async (argv) => (argv[3] === 'handyrep_job' ? answer : { exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1 }),
    close: async () => undefined,
  });
  const result = (exitCode: number, stdout: string): CommandResult => ({ exitCode, stdout, stderr: '', timedOut: false, durationMs: 1 });
  const signal = new AbortController().signal;

  it('a verified copy says so; pg_verifybackup\'s error is the failure\'s details', async () => {
    const ok = await verifyCopy(shellAnswering(result(0, 'backup successfully verified\n')), target, true, 60_000, signal);
    assert.deepEqual(ok, { ok: true, details: 'verified whole by pg_verifybackup against backup_manifest, WAL parsed' });
    const bad = await verifyCopy(shellAnswering(result(1, 'pg_verifybackup: error: "base/5/16384" has size 4096 on disk but size 8192 in the manifest\n')), target, true, 60_000, signal);
    assert.equal(bad.ok, false);
    assert.match(bad.details, /failed verification \(pg_verifybackup exited 1\): pg_verifybackup: error: "base\/5\/16384" has size 4096 on disk/);
  });

  it('no manifest in the copy: not verified, said so, not a failure (the file checks stay)', async () => {
    const none = await verifyCopy(shellAnswering(result(0, `${NO_MANIFEST}\n`)), target, true, 60_000, signal);
    assert.deepEqual([none.ok, /no backup_manifest/.test(none.details)], [true, true]);
  });
});
