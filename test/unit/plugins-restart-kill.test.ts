import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KILL_INSTANCE_SCRIPT, killInstanceArgv, killOutcome } from '../../src/plugins/restart/kill-instance.js';
import { pgCtlArgv } from '../../src/plugins/restart/restart_pg_ctl.js';
import { quoteCommand } from '../../src/nodes/shell-quote.js';
import type { ServerRef } from '../../src/plugins/types.js';

test('the kill script is a constant: the data folder is its own argument, quoted for the remote shell', () => {
  const pgdata = "/srv/pg/it's $(here)";
  const argv = killInstanceArgv(pgdata);
  assert.deepEqual(argv, ['sh', '-c', KILL_INSTANCE_SCRIPT, 'handyrep-kill', pgdata]);
  assert.ok(!KILL_INSTANCE_SCRIPT.includes('/srv/pg'));
  assert.ok(quoteCommand(argv).endsWith(` handyrep-kill '/srv/pg/it'\\''s $(here)'`));
  const server = { pgdata: '/data/x', pgconf: '/etc/pg', pg_bin_dir: '/usr/bin', name: 'a' } as unknown as ServerRef;
  assert.deepEqual(pgCtlArgv(server, 'kill', [], null, 5), killInstanceArgv('/data/x'), 'kill uses the data folder, not pgconf');
});

test('the kill outcome follows the script exit code', () => {
  const result = (exitCode: number | null, stdout: string, timedOut = false) => ({ exitCode, stdout, stderr: '', timedOut, durationMs: 1 });
  const rows: [number | null, boolean, boolean, RegExp][] = [
    // exit code, timed out, ok, details
    [0, false, true, /^killed every process/],
    [3, false, true, /not running/],
    [4, false, false, /refused/],
    [1, false, false, /^kill failed \(exit 1\): processes .* still alive/],
    [null, true, false, /^kill timed out/],
  ];
  const says: Record<string, string> = {
    '0': 'killed every process of /d (postmaster 7): 7 8',
    '3': 'no postmaster pid in /d/postmaster.pid: PostgreSQL is not running',
    '4': 'postmaster.pid of /d names pid 1: refused',
    '1': 'processes of /d still alive after SIGKILL: 8',
    null: 'killed every process',
  };
  for (const [code, timedOut, ok, details] of rows) {
    const outcome = killOutcome(result(code, `${says[String(code)]}\n`, timedOut));
    assert.equal(outcome.ok, ok, `exit ${String(code)}`);
    assert.match(outcome.details, details, `exit ${String(code)}`);
  }
});
