/**
 * Issue 14 (boot review F7): the delete and the rename of a data folder refuse, in their own shell
 * step, when PostgreSQL works in the folder right before they act (src/runtime/clone/folder-guard.ts):
 *   - the scripts' text: constants, the folders only as positional parameters, the guard before the act;
 *   - the guard's answer parsed from a step's output;
 *   - real processes (`sleep 30` working in the folder; a postmaster.pid naming a live process) against
 *     the real steps (emptyFolder, moveFolderAside over the agent's local shell, and the same argv
 *     through shell-quote as over ssh): refused, the folder intact; a stale pid file does not count;
 *   - cloneFromMaster with the process started right after its last check (injected through the
 *     checks' port): the rename / delete refuses, nothing changed, no marker; the partial copy of a
 *     redo is left marked.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cloneFromMaster } from '../../src/agent/boot-clone.js';
import { agentNodeEnv } from '../../src/agent/agent-plugin-context.js';
import { localCopyChecks, type CopyCheckPort } from '../../src/agent/copy-checks.js';
import { copyMarkerFile, writeCopyMarker } from '../../src/agent/copy-marker.js';
import { parseConfig } from '../../src/config/load.js';
import { quoteCommand } from '../../src/nodes/shell-quote.js';
import { EMPTY_SCRIPT, emptyFolderArgv, FolderBusyError, folderBusyOf, MOVE_SCRIPT, moveFolderArgv } from '../../src/runtime/clone/folder-guard.js';
import { emptyFolder, moveFolderAside, type NodeEnv } from '../../src/runtime/clone/target-node.js';
import type { ServerRef } from '../../src/plugins/types.js';
import type { NodeShell } from '../../src/nodes/ports.js';

const MB = 1048576;
const children: ChildProcess[] = [];
/** A process working in `cwd` (PostgreSQL's all chdir to their data folder), killed by pid at the end. */
const worker = (cwd: string): ChildProcess => {
  const child = spawn('sleep', ['30'], { cwd, stdio: 'ignore' });
  children.push(child);
  return child;
};
const stop = (child: ChildProcess): void => {
  child.kill('SIGKILL');
};
after(() => children.forEach(stop));

describe('the guarded scripts: text', () => {
  const hostile = "/data/x'; rm -rf / #$(touch pwned)\n";
  it('constants: no folder in the script, the folders as positional parameters only', () => {
    assert.deepEqual(emptyFolderArgv(hostile), ['sh', '-c', EMPTY_SCRIPT, 'empty_pgdata', hostile]);
    assert.deepEqual(moveFolderArgv(hostile, `${hostile}.old`), ['sh', '-c', MOVE_SCRIPT, 'move_aside', hostile, `${hostile}.old`]);
    for (const script of [EMPTY_SCRIPT, MOVE_SCRIPT]) assert.doesNotMatch(script, /\/data|pwned/);
  });
  it('the guard runs right before the act, in the same script', () => {
    assert.ok(EMPTY_SCRIPT.indexOf('if busy "$d"; then exit 3; fi') < EMPTY_SCRIPT.indexOf('find "$d"'));
    assert.ok(MOVE_SCRIPT.indexOf('if busy "$1"; then exit 3; fi') < MOVE_SCRIPT.indexOf('mv "$1" "$2"'));
    // Only builtins between the look and the act: no command substitution, no program per process.
    const guard = EMPTY_SCRIPT.slice(0, EMPTY_SCRIPT.indexOf('find "$d"'));
    assert.doesNotMatch(guard, /\$\(|`|readlink|cat /);
  });
  it('over ssh the argv is one quoted string: the hostile folder stays one word', () => {
    const line = quoteCommand(emptyFolderArgv(hostile));
    assert.ok(line.endsWith(` empty_pgdata '/data/x'\\''; rm -rf / #$(touch pwned)\n'`), line);
  });
});

describe('folderBusyOf: the guard\'s answer in a step\'s output', () => {
  const rows: [string, string, ReturnType<typeof folderBusyOf>][] = [
    ['a process working in the folder', 'handyrep-folder-busy 4242 cwd', { pid: 4242, pidFile: false }],
    ['a pid file\'s postmaster', 'handyrep-folder-busy 17 pidfile', { pid: 17, pidFile: true }],
    ['after other lines (runOnNode joins the last four)', 'x | handyrep-folder-busy 5 cwd', { pid: 5, pidFile: false }],
    ['before stderr lines', 'handyrep-folder-busy 5 pidfile | sh: warning', { pid: 5, pidFile: true }],
    ['an rm error', 'rm: cannot remove \'x\': Permission denied', null],
    ['a word that only starts like it', 'handyrep-folder-busy 5 cwdx', null],
    ['quoted inside another line', 'mv: x handyrep-folder-busy 5 cwd', null],
    ['no pid', 'handyrep-folder-busy  cwd', null],
  ];
  for (const [name, output, expected] of rows) it(name, () => assert.deepEqual(folderBusyOf(output), expected));
});

describe('the real steps refuse while a process works in the folder', () => {
  const setup = (name = 'pgdata') => {
    const dir = mkdtempSync(join(tmpdir(), 'handyrep-folder-guard-'));
    const pgdata = join(dir, name);
    mkdirSync(join(pgdata, 'base'), { recursive: true, mode: 0o700 });
    writeFileSync(join(pgdata, 'PG_VERSION'), '15\n');
    writeFileSync(join(pgdata, 'base', 'data'), 'x');
    // The configuration refuses such folder names; the steps do not rely on it (the ref carries the folder).
    const env: NodeEnv = agentNodeEnv(parseConfig('servers: {paul: {hostname: 127.0.0.1}}', 'test'), () => undefined);
    const server = { name: 'paul', pgdata } as ServerRef;
    const intact = (): void => assert.deepEqual([existsSync(join(pgdata, 'PG_VERSION')), readFileSync(join(pgdata, 'base', 'data'), 'utf8')], [true, 'x']);
    return { dir, pgdata, env, server, intact, done: () => rmSync(dir, { recursive: true, force: true }) };
  };
  const refused = (folder: string, pid: number | undefined, pidFile: boolean) => (err: unknown) =>
    err instanceof FolderBusyError && err.code === 'postgres_running' && err.folder === folder && err.busy.pid === pid && err.busy.pidFile === pidFile;

  it('emptyFolder: a process working in the folder (no pid file): refused, nothing deleted; emptied once it is gone', async () => {
    const t = setup();
    try {
      const child = worker(t.pgdata);
      await assert.rejects(emptyFolder(t.env, t.server), refused(t.pgdata, child.pid, false));
      t.intact();
      stop(child);
      await new Promise((resolve) => child.once('exit', resolve));
      await emptyFolder(t.env, t.server);
      assert.deepEqual(readdirSync(t.pgdata), []);
    } finally {
      t.done();
    }
  });

  it('moveFolderAside: a process working in the folder: refused, nothing moved', async () => {
    const t = setup();
    try {
      const child = worker(t.pgdata);
      await assert.rejects(moveFolderAside(t.env, t.server, '20261205T000000Z', 'handyrep-old'), refused(t.pgdata, child.pid, false));
      t.intact();
      assert.equal(existsSync(`${t.pgdata}.handyrep-old-20261205T000000Z`), false);
      assert.equal(readlinkSync(`/proc/${child.pid}/cwd`), t.pgdata, 'still working in its folder');
    } finally {
      t.done();
    }
  });

  it('a postmaster.pid naming a live process working in the folder: refused as a postmaster, for the delete and the rename', async () => {
    const t = setup();
    try {
      const child = worker(t.pgdata);
      writeFileSync(join(t.pgdata, 'postmaster.pid'), `${child.pid}\n${t.pgdata}\n`);
      await assert.rejects(emptyFolder(t.env, t.server), refused(t.pgdata, child.pid, true));
      await assert.rejects(moveFolderAside(t.env, t.server, 'x'), refused(t.pgdata, child.pid, true));
      t.intact();
      assert.match(await emptyFolder(t.env, t.server).then(() => '', (err: Error) => err.message), /not emptied: PostgreSQL runs on it \(postmaster \d+\); nothing deleted or moved \(reason postgres_running\)$/);
    } finally {
      t.done();
    }
  });

  it('a stale postmaster.pid whose pid is a live process working elsewhere (reused): not a postmaster, the folder emptied (as the copy checks)', async () => {
    const t = setup();
    try {
      const child = worker(t.dir);
      writeFileSync(join(t.pgdata, 'postmaster.pid'), `${child.pid}\n`);
      await emptyFolder(t.env, t.server);
      assert.deepEqual(readdirSync(t.pgdata), []);
    } finally {
      t.done();
    }
  });

  it('refused only on a second run (the first one\'s exit status lost, its delete done): not "nothing deleted", a plain error', async () => {
    const t = setup();
    try {
      const local = t.env.ctx.shellFor(t.server);
      let runs = 0;
      // The first run empties the folder, its status lost; a process works in the folder by the second.
      const lossy: NodeShell = {
        description: 'lossy',
        run: async (argv, options) => {
          const result = await local.run(argv, options);
          runs += 1;
          if (runs > 1) return result;
          worker(t.pgdata);
          return { ...result, exitCode: null };
        },
        close: async () => undefined,
      };
      const env: NodeEnv = { ...t.env, ctx: { ...t.env.ctx, shellFor: () => lossy } };
      const err = await emptyFolder(env, t.server).then(() => null, (e: unknown) => e);
      assert.equal(runs, 2);
      assert.ok(err instanceof Error && !(err instanceof FolderBusyError), String(err));
      assert.match(err.message, /an earlier run's exit status was lost, it may have deleted part of it\): .* not emptied: process \d+ works in it/);
      assert.deepEqual(readdirSync(t.pgdata), []);
    } finally {
      t.done();
    }
  });

  const pid1Hidden = (() => {
    try {
      readlinkSync('/proc/1/cwd');
      return false;
    } catch {
      return true;
    }
  })();
  it('a postmaster.pid naming a live process whose working folder cannot be read (another user\'s): refused', { skip: pid1Hidden ? false : 'process 1\'s folder is readable here' }, async () => {
    const t = setup();
    try {
      writeFileSync(join(t.pgdata, 'postmaster.pid'), '1\n');
      await assert.rejects(moveFolderAside(t.env, t.server, 'x'), refused(t.pgdata, 1, true));
      t.intact();
    } finally {
      t.done();
    }
  });

  it('a folder named with quotes, $( ), spaces and a newline (the configuration refuses such names; the step does not rely on it): refused while busy, emptied after, nothing else run', async () => {
    const t = setup("d x'$(touch pwned)\n;");
    try {
      const child = worker(t.pgdata);
      await assert.rejects(emptyFolder(t.env, t.server), refused(t.pgdata, child.pid, false));
      t.intact();
      // As over ssh: the argv quoted into one string, parsed by sh.
      const viaSsh = spawnSync('sh', ['-c', quoteCommand(moveFolderArgv(t.pgdata, `${t.pgdata}.old`))], { cwd: t.dir, encoding: 'utf8' });
      assert.deepEqual([viaSsh.status, folderBusyOf(viaSsh.stdout.trim())], [3, { pid: child.pid, pidFile: false }]);
      t.intact();
      stop(child);
      await new Promise((resolve) => child.once('exit', resolve));
      await emptyFolder(t.env, t.server);
      assert.deepEqual(readdirSync(t.pgdata), []);
      assert.deepEqual(readdirSync(t.dir).sort(), [t.pgdata.slice(t.dir.length + 1)], 'no pwned file');
      assert.equal(existsSync('pwned'), false);
    } finally {
      t.done();
    }
  });
});

describe('cloneFromMaster: a PostgreSQL started between the last check and the delete or rename', () => {
  const setup = () => {
    const dir = mkdtempSync(join(tmpdir(), 'handyrep-folder-guard-clone-'));
    const pgdata = join(dir, 'paul');
    mkdirSync(join(pgdata, 'base'), { recursive: true, mode: 0o700 });
    writeFileSync(join(pgdata, 'postgresql.conf'), 'port = 5999\n');
    writeFileSync(join(pgdata, 'PG_VERSION'), '15\n');
    writeFileSync(join(pgdata, 'base', 'data'), Buffer.alloc(MB, 1));
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'pg_controldata'), '#!/bin/sh\necho "Database system identifier:           1"\n');
    chmodSync(join(bin, 'pg_controldata'), 0o755);
    // john at a port nothing listens on: a copy program that ran would fail with pg_basebackup's words.
    const config = parseConfig(`servers: {john: {hostname: 127.0.0.1, port: 1, role: master}, paul: {hostname: 127.0.0.1, pgdata: ${pgdata}, pg_bin_dir: ${bin}}}`, 'test');
    const events: string[] = [];
    const prepareMaster = async () => {
      events.push('checkpoint');
      return { databaseBytes: 100 * MB, systemIdentifier: '1' };
    };
    let child: ChildProcess | null = null;
    // The real checks; the process starts right after the last one before the step (after the CHECKPOINT).
    const checks: CopyCheckPort = {
      ...localCopyChecks,
      freeBytes: async () => 10_000 * MB,
      processIn: (folder) => {
        const found = localCopyChecks.processIn(folder);
        if (child === null && events.includes('checkpoint')) child = worker(pgdata);
        return found;
      },
    };
    return { dir, pgdata, config, checks, prepareMaster, started: () => child, env: agentNodeEnv(config, () => undefined), done: () => rmSync(dir, { recursive: true, force: true }) };
  };

  for (const deleteOldData of [false, true]) {
    it(`reclone ${deleteOldData ? 'deleting' : 'moving aside'} the old data: refused postgres_running, nothing changed, no marker, the saved configuration files gone`, async () => {
      const t = setup();
      try {
        const savedBefore = new Set(readdirSync('/tmp').filter((e) => e.startsWith('handyrep-clone-conf-')));
        const result = await cloneFromMaster(t.env, t.config, 'paul', 'john', true, undefined, { deleteOldData, ports: { checks: t.checks, prepareMaster: t.prepareMaster } });
        const child = t.started();
        assert.notEqual(child, null, 'the process was started after the last check');
        assert.equal(result.ok, false);
        assert.equal(result.touched, false);
        assert.equal(result.deletedOldData, false);
        assert.equal(result.oldData, null);
        assert.equal(result.details, `not cloned: process ${child?.pid} works in paul's data folder (a PostgreSQL whose postmaster.pid is gone, or a shell there); stop it first. Nothing changed on paul (reason postgres_running)`);
        assert.deepEqual(readdirSync(t.pgdata).sort(), ['PG_VERSION', 'base', 'postgresql.conf']);
        assert.equal(readFileSync(join(t.pgdata, 'base', 'data')).length, MB);
        assert.deepEqual(readdirSync(t.dir).filter((e) => e.includes('handyrep-old')), []);
        assert.equal(existsSync(copyMarkerFile(t.pgdata, 'paul')), false, 'no marker: the folder is as it was');
        assert.deepEqual(readdirSync('/tmp').filter((e) => e.startsWith('handyrep-clone-conf-') && !savedBefore.has(e)), []);
      } finally {
        t.done();
      }
    });
  }

  it('a partial copy found (redo), a process working in it by the time it is emptied: nothing removed, still marked', async () => {
    const t = setup();
    try {
      writeCopyMarker({ node: 'paul', pgdata: t.pgdata, phase: 'copying', started_at: new Date().toISOString(), source: 'john', old_data: 'delete', kept_at: null, config_saved_at: null });
      const result = await cloneFromMaster(t.env, t.config, 'paul', 'john', true, undefined, { ports: { checks: t.checks, prepareMaster: t.prepareMaster } });
      assert.notEqual(t.started(), null);
      assert.equal(result.ok, false);
      assert.equal(result.touched, true);
      assert.match(result.details, /; copy from john not started: not cloned: process \d+ works in paul's data folder .*stop it first \(reason postgres_running\); the folder is left as it is, marked as a partial copy/);
      assert.equal(readFileSync(join(t.pgdata, 'base', 'data')).length, MB, 'the partial copy not removed under a live process');
      assert.equal(existsSync(copyMarkerFile(t.pgdata, 'paul')), true);
    } finally {
      t.done();
    }
  });
});
