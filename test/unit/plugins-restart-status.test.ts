/**
 * restart_pg_ctl's status (status-script.ts) and the stop script's wait, run by a real /bin/sh
 * against a fake pg_ctl and real processes: a live one, a zombie (a child its parent never reaps)
 * and a pid that no longer exists. A zombie postmaster is dead: status says "not running" and a
 * stop's wait ends at once (pg_ctl alone waits for its parent to reap it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pgCtlArgv } from '../../src/plugins/restart/restart_pg_ctl.js';
import { pgStatusArgv } from '../../src/plugins/restart/status-script.js';
import { stopAndWaitArgv } from '../../src/plugins/restart/stop-and-wait.js';

/** A folder with a fake pg_ctl that logs its arguments and exits `exit` (pg_ctl status: 0 running, 3 not). */
function fixture(exit: number): { dir: string; pgCtl: string; data: string; log: string } {
  const dir = mkdtempSync(join(tmpdir(), 'status-'));
  const data = join(dir, 'data with space');
  spawnSync('mkdir', ['-p', data]);
  const log = join(dir, 'args');
  const pgCtl = join(dir, 'pg_ctl');
  writeFileSync(pgCtl, `#!/bin/sh\nprintf '%s\\n' "$@" > "${log}"\nexit ${exit}\n`);
  chmodSync(pgCtl, 0o755);
  return { dir, pgCtl, data, log };
}

function run(argv: string[]): { code: number | null; out: string; ms: number } {
  const started = Date.now();
  const r = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}`, ms: Date.now() - started };
}

function processState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/** A zombie: a child of a process that never reaps (its parent exec'd into sleep). Kill `parent` to let it go. */
async function zombie(): Promise<{ pid: number; parent: ChildProcess }> {
  const parent = spawn('sh', ['-c', 'sleep 0.1 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const pid = await new Promise<number>((resolve, reject) => {
    parent.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    parent.once('error', reject);
  });
  for (let i = 0; i < 200 && processState(pid) !== 'Z'; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(processState(pid), 'Z', `process ${pid} did not become a zombie`);
  return { pid, parent };
}

test('status is pg_ctl status with -D, the flags and the data folder passed as parameters', () => {
  const server = { name: 'x', pg_bin_dir: '/usr/lib/postgresql/15/bin', pgdata: '/data/x', pgconf: '/etc/pg/x' } as Parameters<typeof pgCtlArgv>[0];
  assert.deepEqual(pgCtlArgv(server, 'status', ['-s'], null, 30), pgStatusArgv('/usr/lib/postgresql/15/bin/pg_ctl', '/etc/pg/x', '/data/x', ['-s']));
  const f = fixture(3);
  try {
    assert.equal(run(pgStatusArgv(f.pgCtl, f.data, f.data, ['-s'])).code, 3);
    assert.deepEqual(readFileSync(f.log, 'utf8').trim().split('\n'), ['-D', f.data, '-s', 'status']);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test("pg_ctl's not running (3) and no data folder (4) stand as they are", () => {
  for (const exit of [3, 4]) {
    const f = fixture(exit);
    try {
      assert.equal(run(pgStatusArgv(f.pgCtl, f.data, f.data, [])).code, exit);
    } finally {
      rmSync(f.dir, { recursive: true, force: true });
    }
  }
});

test('running, and postmaster.pid names a live process → running (0)', () => {
  const f = fixture(0);
  const sleeper = spawn('sleep', ['30']);
  try {
    writeFileSync(join(f.data, 'postmaster.pid'), `${sleeper.pid}\n${f.data}\n`);
    const r = run(pgStatusArgv(f.pgCtl, f.data, f.data, []));
    assert.equal(r.code, 0, r.out);
  } finally {
    sleeper.kill('SIGKILL');
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('running for pg_ctl, but postmaster.pid names a zombie → not running (3), saying why', async () => {
  const f = fixture(0);
  const dead = await zombie();
  try {
    writeFileSync(join(f.data, 'postmaster.pid'), `${dead.pid}\n${f.data}\n`);
    const r = run(pgStatusArgv(f.pgCtl, f.data, f.data, []));
    assert.equal(r.code, 3, r.out);
    assert.match(r.out, new RegExp(`postmaster ${dead.pid} is dead \\(a zombie`));
  } finally {
    dead.parent.kill('SIGKILL');
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test("running for pg_ctl and nothing to check (no pid file, a standalone backend's negative pid, a pid without /proc entry) → pg_ctl's answer stands", () => {
  const gone = spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim();
  for (const pidFile of [null, '-4242\n', 'garbage\n', `${gone}\n`]) {
    const f = fixture(0);
    try {
      if (pidFile !== null) writeFileSync(join(f.data, 'postmaster.pid'), pidFile);
      assert.equal(run(pgStatusArgv(f.pgCtl, f.data, f.data, [])).code, 0, `pid file ${JSON.stringify(pidFile)}`);
    } finally {
      rmSync(f.dir, { recursive: true, force: true });
    }
  }
});

test("a stop's wait ends at once when the pid file names a zombie (pg_ctl -w waits for the reaping)", async () => {
  const f = fixture(0);
  const dead = await zombie();
  try {
    writeFileSync(join(f.data, 'postmaster.pid'), `${dead.pid}\n${f.data}\n`);
    const r = run(stopAndWaitArgv(f.pgCtl, f.data, f.data, 'fast', 5, []));
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /server stopped/);
    assert.equal(processState(dead.pid), 'Z', 'still a zombie: the wait did not end because it was reaped');
  } finally {
    dead.parent.kill('SIGKILL');
    rmSync(f.dir, { recursive: true, force: true });
  }
});
