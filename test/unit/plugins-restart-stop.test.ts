/**
 * restart_pg_ctl's stop: the waiting script run by a real /bin/sh against a fake pg_ctl and a
 * fake postmaster (a sleeping process whose pid is in postmaster.pid), so every exit path runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pgCtlArgv } from '../../src/plugins/restart/restart_pg_ctl.js';
import { stopAndWaitArgv, STOP_STILL_RUNNING_EXIT } from '../../src/plugins/restart/stop-and-wait.js';

/** A folder with a fake pg_ctl that logs its arguments and, on `-W stop`, removes the pid file after `delay` s (or not at all). */
function fixture(removeAfter: string | null, pgCtlExit = 0): { dir: string; pgCtl: string; data: string; log: string } {
  const dir = mkdtempSync(join(tmpdir(), 'stop-wait-'));
  const data = join(dir, 'data with space');
  spawnSync('mkdir', ['-p', data]);
  const log = join(dir, 'args');
  const pgCtl = join(dir, 'pg_ctl');
  const remove = removeAfter === null ? '' : `(sleep ${removeAfter}; rm -f "${data}/postmaster.pid") >/dev/null 2>&1 &`;
  writeFileSync(pgCtl, `#!/bin/sh\nprintf '%s\\n' "$@" > "${log}"\n${remove}\nexit ${pgCtlExit}\n`);
  chmodSync(pgCtl, 0o755);
  return { dir, pgCtl, data, log };
}

function runScript(argv: string[]): { code: number | null; out: string; ms: number } {
  const started = Date.now();
  const r = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}`, ms: Date.now() - started };
}

test('stop and faststop run the waiting script with pg_ctl -W and the mode; other actions are plain pg_ctl', () => {
  const server = { name: 'x', pg_bin_dir: '/usr/lib/postgresql/15/bin', pgdata: '/data/x', pgconf: '/etc/pg/x' } as Parameters<typeof pgCtlArgv>[0];
  assert.deepEqual(pgCtlArgv(server, 'stop', ['-s'], null, 30), stopAndWaitArgv('/usr/lib/postgresql/15/bin/pg_ctl', '/etc/pg/x', '/data/x', 'fast', 30, ['-s']));
  assert.equal(pgCtlArgv(server, 'faststop', [], null, 30)[7], 'immediate');
  assert.deepEqual(pgCtlArgv(server, 'reload', [], null, 30), ['/usr/lib/postgresql/15/bin/pg_ctl', '-D', '/etc/pg/x', 'reload']);
});

test('waits until postmaster.pid is gone, then exits 0; pg_ctl got -D, the flags, -m and -W stop', () => {
  const f = fixture('0.3');
  const sleeper = spawn('sleep', ['30']);
  try {
    writeFileSync(join(f.data, 'postmaster.pid'), `${sleeper.pid}\n${f.data}\n`);
    const r = runScript(stopAndWaitArgv(f.pgCtl, f.data, f.data, 'fast', 5, ['-s']));
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /server stopped/);
    assert.ok(r.ms >= 250, `returned after ${r.ms} ms, before the pid file went`);
    assert.ok(!existsSync(join(f.data, 'postmaster.pid')));
    assert.deepEqual(readFileSync(f.log, 'utf8').trim().split('\n'), ['-D', f.data, '-s', '-m', 'fast', '-W', 'stop']);
  } finally {
    sleeper.kill('SIGKILL');
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('a pid file left by a postmaster that is gone ends the wait (as pg_ctl -w does)', () => {
  const f = fixture(null);
  const gone = spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim();
  try {
    writeFileSync(join(f.data, 'postmaster.pid'), `${gone}\n${f.data}\n`);
    const r = runScript(stopAndWaitArgv(f.pgCtl, f.data, f.data, 'immediate', 5, []));
    assert.equal(r.code, 0, r.out);
    assert.ok(r.ms < 3000, `took ${r.ms} ms`);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('a postmaster still alive after the wait: exit 5 naming the limit', () => {
  const f = fixture(null);
  const sleeper = spawn('sleep', ['30']);
  try {
    writeFileSync(join(f.data, 'postmaster.pid'), `${sleeper.pid}\n`);
    const r = runScript(stopAndWaitArgv(f.pgCtl, f.data, f.data, 'fast', 1, []));
    assert.equal(r.code, STOP_STILL_RUNNING_EXIT, r.out);
    assert.match(r.out, /did not stop within 1 s/);
  } finally {
    sleeper.kill('SIGKILL');
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test("pg_ctl's own failure (not running) is passed on without waiting", () => {
  const f = fixture(null, 1);
  try {
    const r = runScript(stopAndWaitArgv(f.pgCtl, f.data, f.data, 'fast', 5, []));
    assert.equal(r.code, 1);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});
