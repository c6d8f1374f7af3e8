/**
 * A crashed standby is recovered in standby mode (start without upstream, fast stop) before
 * pg_rewind, so pg_rewind's single-user crash recovery never writes a checkpoint the master does
 * not have into its WAL; any other folder is left to pg_rewind as before. The commands against a
 * scripted shell (their order and argv); the real run is agent-standby-crash-boot.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CommandResult, NodeShell } from '../../src/nodes/ports.js';
import { clusterStateOf, isCrashedStandby, standbyRecoveryStartArgv, stopCrashedStandbyCleanly } from '../../src/runtime/topology/standby-clean-stop.js';

const controldata = (state: string): string => `pg_control version number:            1300\nDatabase cluster state:               ${state}\npg_control last modified:             Sat 05 Dec 2026\n`;

describe('clusterStateOf / isCrashedStandby', () => {
  const rows: ReadonlyArray<[string, boolean]> = [
    ['in archive recovery', true],
    ['shut down in recovery', false],
    ['shut down', false],
    ['in production', false],
    ['in crash recovery', false],
  ];
  for (const [state, crashed] of rows) {
    it(`${state} → ${crashed ? 'recovered in standby mode first' : 'left to pg_rewind'}`, () => {
      assert.equal(clusterStateOf(controldata(state)), state);
      assert.equal(isCrashedStandby(clusterStateOf(controldata(state))), crashed);
    });
  }
  it('no state line → null, not crashed', () => {
    assert.equal(clusterStateOf('garbage'), null);
    assert.equal(isCrashedStandby(null), false);
  });
});

describe('standbyRecoveryStartArgv', () => {
  it('pg_ctl start -w on pgconf when set, log file, no listener, no upstream, hot standby', () => {
    const argv = standbyRecoveryStartArgv({ name: 'paul', pgdata: '/d/paul', pgconf: '/etc/pg/paul', pg_bin_dir: '/usr/lib/postgresql/15/bin' }, '/var/log/pg.log', 60);
    assert.deepEqual(argv.slice(0, 10), ['/usr/lib/postgresql/15/bin/pg_ctl', 'start', '-D', '/etc/pg/paul', '-w', '-t', '60', '-l', '/var/log/pg.log', '-o']);
    assert.equal(argv[10], "-c listen_addresses='' -c primary_conninfo='' -c primary_slot_name='' -c restore_command='' -c hot_standby=on");
    assert.equal(standbyRecoveryStartArgv({ name: 'paul', pgdata: '/d/paul', pg_bin_dir: '/b' }, '/dev/null', 5)[3], '/d/paul');
  });
});

/** Answers pg_controldata with the states given in turn; every other command exits `exitCode` (0). */
function scriptedShell(states: string[], failing: string[] = []): NodeShell & { ran: string[][] } {
  const ran: string[][] = [];
  const result = (exitCode: number, stdout = ''): CommandResult => ({ exitCode, stdout, stderr: exitCode === 0 ? '' : 'failed', timedOut: false, durationMs: 1 });
  return {
    description: 'scripted',
    ran,
    run: async (argv) => {
      ran.push([...argv]);
      const command = `${argv[0]?.split('/').pop() ?? ''} ${argv[1] ?? ''}`;
      if (command.startsWith('pg_controldata')) return result(0, controldata(states.shift() ?? 'unknown'));
      return result(failing.some((f) => command.startsWith(f)) ? 1 : 0);
    },
    close: async () => undefined,
  };
}

const paul = { name: 'paul', pgdata: '/d/paul', pg_bin_dir: '/b' };
const commands = (shell: { ran: string[][] }): string[] => shell.ran.map((a) => `${a[0]?.split('/').pop() ?? ''} ${a[1] ?? ''}`.trim());

describe('stopCrashedStandbyCleanly', () => {
  it('a crashed standby: standby.signal, start without upstream, fast stop, checked "shut down in recovery"', async () => {
    const shell = scriptedShell(['in archive recovery', 'shut down in recovery']);
    const done = await stopCrashedStandbyCleanly(shell, paul, 60_000, '/var/log/pg.log');
    assert.deepEqual(done, { ran: true, ok: true, details: 'paul was a crashed standby (in archive recovery): recovered in standby mode, stopped (shut down in recovery)' });
    assert.deepEqual(commands(shell), ['pg_controldata -D', 'touch /d/paul/standby.signal', 'pg_ctl start', 'pg_ctl stop', 'pg_controldata -D']);
    assert.deepEqual(shell.ran[3], ['/b/pg_ctl', 'stop', '-D', '/d/paul', '-m', 'fast', '-w', '-t', '30']);
  });

  for (const state of ['shut down in recovery', 'shut down', 'in production']) {
    it(`${state}: nothing run but pg_controldata (pg_rewind as before)`, async () => {
      const shell = scriptedShell([state]);
      assert.deepEqual(await stopCrashedStandbyCleanly(shell, paul, 60_000), { ran: false, ok: true, details: '' });
      assert.deepEqual(commands(shell), ['pg_controldata -D']);
    });
  }

  it('pg_controldata fails: nothing run (pg_rewind reports the unreadable folder)', async () => {
    const shell = scriptedShell([], ['pg_controldata']);
    shell.run = async (argv) => (shell.ran.push([...argv]), { exitCode: 1, stdout: '', stderr: 'no such file', timedOut: false, durationMs: 1 });
    assert.deepEqual(await stopCrashedStandbyCleanly(shell, paul, 60_000), { ran: false, ok: true, details: '' });
  });

  it('the start fails and the folder is still "in archive recovery": stopped anyway, not ok (pg_rewind must not run)', async () => {
    const shell = scriptedShell(['in archive recovery', 'in archive recovery'], ['pg_ctl start']);
    const done = await stopCrashedStandbyCleanly(shell, paul, 60_000);
    assert.equal(done.ok, false);
    assert.match(done.details, /^paul was a crashed standby \(in archive recovery\): its recovery in standby mode did not end in a clean stop \(in archive recovery\), pg_rewind not run \(start: failed; stop: ok\)$/);
    assert.deepEqual(commands(shell), ['pg_controldata -D', 'touch /d/paul/standby.signal', 'pg_ctl start', 'pg_ctl stop', 'pg_controldata -D']);
    assert.equal(shell.ran[2]?.[8], '/dev/null', 'no log file given: /dev/null');
  });
});
