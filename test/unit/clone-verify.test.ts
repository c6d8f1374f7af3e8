/**
 * clone_basebackup's verification of a finished copy (src/plugins/clone/verify-copy.ts): what the
 * extra parameters say of the manifest and the WAL, the job's argv, and how its end reads.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CommandResult, NodeShell } from '../../src/nodes/ports.js';
import type { ServerRef } from '../../src/plugins/types.js';
import { basebackupOutputs, misreadBasebackupOption, NO_MANIFEST, verifyArgv, verifyCopy } from '../../src/plugins/clone/verify-copy.js';
import { cloneBasebackup } from '../../src/plugins/clone/clone_basebackup.js';
import type { PluginContext } from '../../src/plugins/types.js';
import { LocalShell } from '../../src/nodes/local-shell.js';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
    const ok = await verifyCopy(shellAnswering(result(0, 'backup successfully verified\n')), target, true, 60_000, signal, true);
    assert.deepEqual(ok, { ok: true, details: 'verified whole by pg_verifybackup against backup_manifest, WAL parsed' });
    const bad = await verifyCopy(shellAnswering(result(1, 'pg_verifybackup: error: "base/5/16384" has size 4096 on disk but size 8192 in the manifest\n')), target, true, 60_000, signal, true);
    assert.equal(bad.ok, false);
    assert.match(bad.details, /failed verification \(pg_verifybackup exited 1\): pg_verifybackup: error: "base\/5\/16384" has size 4096 on disk/);
  });

  it('no manifest in the copy: not verified, said so, not a failure (the file checks stay) — unless one was asked for (N1)', async () => {
    const none = await verifyCopy(shellAnswering(result(0, `${NO_MANIFEST}\n`)), target, true, 60_000, signal, false);
    assert.deepEqual([none.ok, /no backup_manifest/.test(none.details)], [true, true]);
    const expected = await verifyCopy(shellAnswering(result(0, `${NO_MANIFEST}\n`)), target, true, 60_000, signal, true);
    assert.deepEqual([expected.ok, /no backup_manifest although pg_basebackup was asked for one/.test(expected.details)], [false, true]);
  });
});

describe('clone_basebackup: the programs of the verification checked before the copy (review s8 S2)', () => {
  /** A real local shell on a bin folder of our own; every command but the check counted (pg_basebackup's job). */
  const run = async (programs: readonly string[], extra: readonly string[]) => {
    const bin = mkdtempSync(join(tmpdir(), 'handyrep-verify-bin-'));
    try {
      for (const p of programs) {
        writeFileSync(join(bin, p), '#!/bin/sh\nexit 0\n');
        chmodSync(join(bin, p), 0o755);
      }
      const local = new LocalShell();
      const others: string[][] = [];
      const shell: NodeShell = {
        description: 'local',
        run: (argv, options) => (argv[3] === 'verify_tools' ? local.run(argv, options) : (others.push([...argv]), Promise.resolve(result(1, 'not run in this test')))),
        close: async () => undefined,
      };
      const server = (name: string) => ({ name, hostname: '127.0.0.1', port: 5432, pgdata: `/srv/pg/${name}`, pg_bin_dir: bin }) as unknown as ServerRef;
      const ctx = {
        config: { handyrep: { replication_user: 'replicator' }, passwords: { replication_pass: '' } },
        settings: () => ({ extra_parameters: extra }),
        shellFor: () => shell,
        timeouts: { connectMs: 1000, statementMs: 1000, commandMs: 5000 },
      } as unknown as PluginContext;
      const outcome = await cloneBasebackup.clone(ctx, { target: server('paul'), source: server('john'), signal: new AbortController().signal, progress: () => undefined });
      return { outcome, others, bin };
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  };
  const result = (exitCode: number, stdout: string): CommandResult => ({ exitCode, stdout, stderr: '', timedOut: false, durationMs: 1 });

  it('no pg_verifybackup in pg_bin_dir: refused before pg_basebackup, naming it', async () => {
    const { outcome, others, bin } = await run(['pg_waldump'], []);
    assert.equal(outcome.ok, false);
    assert.ok(outcome.details.includes(`${bin}/pg_verifybackup is not an executable file`), outcome.details);
    assert.equal(others.length, 0, 'pg_basebackup not started');
  });
  it('no pg_waldump: refused when WAL is parsed, not with -X none; --no-manifest checks nothing', async () => {
    const parsed = await run(['pg_verifybackup'], []);
    assert.ok(parsed.outcome.details.includes(`${parsed.bin}/pg_waldump is not an executable file`), parsed.outcome.details);
    assert.equal(parsed.others.length, 0);
    const walNone = await run(['pg_verifybackup'], ['-X', 'none']);
    assert.ok(walNone.others.length > 0, 'the copy starts');
    const unverified = await run([], ['--no-manifest']);
    assert.ok(unverified.others.length > 0, 'the copy starts');
  });
  it('a job exit 126/127 (the shell could not run it) reads "could not be run", not a failed verification', async () => {
    const shell: NodeShell = {
      description: 'fake',
      run: async (argv) => (argv[3] === 'handyrep_job' ? result(127, 'sh: 1: /x/pg_verifybackup: not found') : result(0, '')),
      close: async () => undefined,
    };
    const outcome = await verifyCopy(shell, target, true, 60_000, new AbortController().signal, true);
    assert.equal(outcome.ok, false);
    assert.match(outcome.details, /^pg_verifybackup could not be run \(exit 127\)/);
  });
});

describe('clone_basebackup: the verification has a time limit of its own (review s8 S3)', () => {
  /** Each job's time limit; pg_basebackup's job uses most of its own before it succeeds. */
  const limits = async (settings: Record<string, unknown>) => {
    const jobs: [string, number][] = [];
    const shell: NodeShell = {
      description: 'fake',
      run: async (argv, options) => {
        if (argv[3] !== 'handyrep_job') return { exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1 };
        const program = (argv.find((a) => /pg_(basebackup|verifybackup)$/.test(a)) ?? '').replace(/.*\//, '');
        jobs.push([program, options.timeoutMs]);
        if (program === 'pg_basebackup') await new Promise((resolve) => setTimeout(resolve, 1500));
        return { exitCode: 0, stdout: 'ok\n', stderr: '', timedOut: false, durationMs: 1 };
      },
      close: async () => undefined,
    };
    const server = (name: string) => ({ name, hostname: '127.0.0.1', port: 5432, pgdata: `/srv/pg/${name}`, pg_bin_dir: '/bin' }) as unknown as ServerRef;
    const ctx = {
      config: { handyrep: { replication_user: 'replicator' }, passwords: { replication_pass: '' } },
      settings: () => settings,
      shellFor: () => shell,
      timeouts: { connectMs: 1000, statementMs: 1000, commandMs: 5000 },
    } as unknown as PluginContext;
    const outcome = await cloneBasebackup.clone(ctx, { target: server('paul'), source: server('john'), signal: new AbortController().signal, progress: () => undefined });
    assert.equal(outcome.ok, true, outcome.details);
    return jobs;
  };

  it('the copy took 1.5 s of its 2 s: the verification still gets 2 s (not the 0.5 s left), or verify_timeout_seconds', async () => {
    assert.deepEqual(await limits({ timeout_seconds: 2 }), [['pg_basebackup', 2000], ['pg_verifybackup', 2000]]);
    assert.deepEqual(await limits({ timeout_seconds: 2, verify_timeout_seconds: 7 }), [['pg_basebackup', 2000], ['pg_verifybackup', 7000]]);
  });
});

describe('clone_basebackup: spellings of -X and --no-manifest the verification could misread are refused (review s8 N4)', () => {
  it('rows: bundles with X and abbreviated long options refused; the spelled-out forms pass', () => {
    for (const bad of ['-vXn', '-PXnone', '-vX', '--wal-m=none', '--wal', '--no-man', '--no-manifes']) assert.notEqual(misreadBasebackupOption(bad), null, bad);
    for (const good of ['-X', '-Xnone', '-Xn', 'none', '--wal-method=none', '--wal-method', '--no-manifest', '--max-rate=50M', '-v', '-P', '--no-clean']) assert.equal(misreadBasebackupOption(good), null, good);
  });
  it('the plugin refuses them before anything runs, naming the argument', async () => {
    const runs: string[][] = [];
    const shell: NodeShell = { description: 'fake', run: async (argv) => (runs.push([...argv]), { exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1 }), close: async () => undefined };
    const ctx = { config: { handyrep: { replication_user: 'r' }, passwords: { replication_pass: '' } }, settings: () => ({ extra_parameters: ['-vXn'] }), shellFor: () => shell } as unknown as PluginContext;
    await assert.rejects(
      cloneBasebackup.clone(ctx, { target, source: target, signal: new AbortController().signal, progress: () => undefined }),
      /plugins\.clone_basebackup\.extra_parameters\.0: "-vXn": write -X apart/,
    );
    assert.equal(runs.length, 0);
  });
});
