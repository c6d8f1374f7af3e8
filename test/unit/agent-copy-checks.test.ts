/**
 * Issue 14 (the clone's review): a copy onto this node is checked (no postmaster on the folder, room
 * for the copy) before the master is asked, again after the master's CHECKPOINT, and right before
 * the copy program starts, with the same reason codes:
 *   - copyRefusal (src/agent/copy-checks.ts): the decision, row by row;
 *   - cloneFromMaster (src/agent/boot-clone.ts) over fake ports: the checks before the master is asked,
 *     after the CHECKPOINT and before the copy refuse what appeared meanwhile; data to be deleted is
 *     counted as room (refused before it is deleted); nothing is removed under a live instance;
 *   - localCopyChecks: a process working in the folder is seen without a pid file, a stale pid file's
 *     pid is not.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cloneFromMaster } from '../../src/agent/boot-clone.js';
import { agentNodeEnv } from '../../src/agent/agent-plugin-context.js';
import { copyRefusal, localCopyChecks, spaceNeededBytes, type CopyCheckFacts, type CopyCheckPort } from '../../src/agent/copy-checks.js';
import { copyMarkerFile, writeCopyMarker } from '../../src/agent/copy-marker.js';
import { parseConfig } from '../../src/config/load.js';

const MB = 1048576;

describe('copyRefusal', () => {
  const base: CopyCheckFacts = { node: 'paul', source: 'john', pgdata: '/srv/pg/paul', postmaster: null, space: { freeBytes: 2000 * MB, freedBytes: 0, neededBytes: 1000 * MB }, oldData: 'kept', folderTouched: false };
  const pm = { pid: 4242, folder: '/srv/pg/paul', pidFile: true };
  const rows: [string, Partial<CopyCheckFacts>, string | null][] = [
    ['nothing runs, room enough', {}, null],
    ['a postmaster runs: nothing changed on the node (the master had its CHECKPOINT)', { postmaster: pm }, 'not cloned: PostgreSQL runs on paul (postmaster 4242); stop it first. Nothing changed on paul (reason postgres_running)'],
    ['a postmaster runs and no room: the postmaster is named', { postmaster: pm, space: { freeBytes: 0, freedBytes: 0, neededBytes: MB } }, 'not cloned: PostgreSQL runs on paul (postmaster 4242); stop it first. Nothing changed on paul (reason postgres_running)'],
    ['a postmaster on the old data kept aside', { postmaster: { ...pm, folder: '/srv/pg/paul.handyrep-old-x' }, folderTouched: true }, "not cloned: PostgreSQL runs on paul's old data folder /srv/pg/paul.handyrep-old-x (postmaster 4242); stop it first (reason postgres_running)"],
    ['a process in the emptied folder, no pid file', { postmaster: { ...pm, pidFile: false }, folderTouched: true }, "not cloned: process 4242 works in paul's data folder (a PostgreSQL whose postmaster.pid is gone, or a shell there); stop it first (reason postgres_running)"],
    ['no room next to the data kept', { space: { freeBytes: 500 * MB + 1, freedBytes: 0, neededBytes: 1000 * MB + 1 } }, 'not enough free space for a copy of john next to the data kept: 500 MB free under /srv/pg, 1001 MB needed. Nothing changed on paul (reason free_space)'],
    ['data to delete counted as room: fits', { oldData: 'deleted', space: { freeBytes: 500 * MB, freedBytes: 500 * MB, neededBytes: 1000 * MB } }, null],
    ['data to delete counted as room: still no room', { oldData: 'deleted', space: { freeBytes: 10 * MB, freedBytes: 40 * MB, neededBytes: 175 * MB } }, "not enough free space for a copy of john even with paul's data deleted: 10 MB free under /srv/pg and 40 MB of data to delete, 175 MB needed. Nothing changed on paul (reason free_space)"],
    ['no room in the emptied folder (right before the copy)', { oldData: 'deleted', space: { freeBytes: 0, freedBytes: 0, neededBytes: MB }, folderTouched: true }, "not enough free space for a copy of john in paul's emptied folder: 0 MB free under /srv/pg, 1 MB needed (reason free_space)"],
    ['no room for a new node', { oldData: 'none', space: { freeBytes: 0, freedBytes: 0, neededBytes: MB }, folderTouched: true }, 'not enough free space for a copy of john: 0 MB free under /srv/pg, 1 MB needed (reason free_space)'],
  ];
  for (const [name, change, expected] of rows) it(name, () => assert.equal(copyRefusal({ ...base, ...change })?.message ?? null, expected));
  it('the codes', () => {
    assert.equal(copyRefusal({ ...base, postmaster: pm })?.code, 'postgres_running');
    assert.equal(copyRefusal({ ...base, space: { freeBytes: 0, freedBytes: 0, neededBytes: 1 } })?.code, 'free_space');
  });
});

describe('localCopyChecks: what runs on a folder', () => {
  it('a process working in the folder whose pid file is gone is seen (processIn), and not as a pid file\'s postmaster', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'handyrep-copy-linger-'));
    const child = spawn('sleep', ['30'], { cwd: dir, stdio: 'ignore' });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(localCopyChecks.processIn(dir), child.pid);
      assert.equal(localCopyChecks.postmaster(dir), null);
      writeFileSync(join(dir, 'postmaster.pid'), `${child.pid}\n${dir}\n`);
      assert.equal(localCopyChecks.postmaster(dir), child.pid);
    } finally {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a stale pid file naming a live process that works elsewhere (pid reused): no postmaster', () => {
    const dir = mkdtempSync(join(tmpdir(), 'handyrep-copy-stale-'));
    try {
      // This test process lives, and its cwd is not the folder.
      writeFileSync(join(dir, 'postmaster.pid'), `${process.pid}\n${dir}\n`);
      assert.equal(localCopyChecks.postmaster(dir), null);
      assert.equal(localCopyChecks.processIn(dir), null);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the data a delete frees: blocks of everything but the configuration files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'handyrep-copy-size-'));
    try {
      mkdirSync(join(dir, 'base/1'), { recursive: true });
      writeFileSync(join(dir, 'base/1/1259'), Buffer.alloc(2 * MB, 1));
      writeFileSync(join(dir, 'postgresql.conf'), Buffer.alloc(3 * MB, 1));
      const bytes = await localCopyChecks.dataBytes(dir);
      assert.ok(bytes >= 2 * MB && bytes < 3 * MB, `${bytes}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('cloneFromMaster: the checks before the master is asked, after its CHECKPOINT and right before the copy', () => {
  const setup = (withData = false) => {
    const dir = mkdtempSync(join(tmpdir(), 'handyrep-copy-checks-'));
    const pgdata = join(dir, 'paul');
    mkdirSync(pgdata, { recursive: true, mode: 0o700 });
    writeFileSync(join(pgdata, 'postgresql.conf'), "port = 5999\n");
    // A data folder of this cluster: PG_VERSION and a pg_controldata (a script) naming john's system identifier.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'pg_controldata'), '#!/bin/sh\necho "Database system identifier:           1"\n');
    chmodSync(join(bin, 'pg_controldata'), 0o755);
    if (withData) {
      writeFileSync(join(pgdata, 'PG_VERSION'), '15\n');
      mkdirSync(join(pgdata, 'base'));
      writeFileSync(join(pgdata, 'base', 'data'), Buffer.alloc(MB, 1));
    }
    // john at a port nothing listens on: a copy program that ran would fail with pg_basebackup's words.
    const config = parseConfig(`servers: {john: {hostname: 127.0.0.1, port: 1, role: master}, paul: {hostname: 127.0.0.1, pgdata: ${pgdata}, pg_bin_dir: ${bin}}}`, 'test');
    const events: string[] = [];
    const prepareMaster = async () => {
      events.push('checkpoint');
      return { databaseBytes: 100 * MB, systemIdentifier: '1' };
    };
    return { dir, pgdata, config, events, prepareMaster, env: agentNodeEnv(config, () => undefined) };
  };
  const quiet: CopyCheckPort = { postmaster: () => null, processIn: () => null, freeBytes: async () => 10_000 * MB, dataBytes: async () => 0 };

  it('PostgreSQL running from the start: refused before the master is asked (no CHECKPOINT, no slot)', async () => {
    const { dir, config, events, prepareMaster, env } = setup();
    try {
      const checks: CopyCheckPort = { ...quiet, postmaster: () => 4242 };
      const result = await cloneFromMaster(env, config, 'paul', 'john', false, undefined, { ports: { checks, prepareMaster } });
      assert.equal(result.ok, false);
      assert.match(result.details, /^not cloned: PostgreSQL runs on paul \(postmaster 4242\); stop it first\. Nothing changed on paul \(reason postgres_running\)$/);
      assert.deepEqual(events, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL started during the CHECKPOINT: refused postgres_running, the folder untouched', async () => {
    const { dir, pgdata, config, events, prepareMaster, env } = setup();
    try {
      const checks: CopyCheckPort = { ...quiet, postmaster: () => (events.includes('checkpoint') ? 4242 : null) };
      const result = await cloneFromMaster(env, config, 'paul', 'john', false, undefined, { ports: { checks, prepareMaster } });
      assert.equal(result.ok, false);
      assert.equal(result.touched, false);
      assert.match(result.details, /^not cloned: PostgreSQL runs on paul \(postmaster 4242\); stop it first\. Nothing changed on paul \(reason postgres_running\)$/);
      assert.deepEqual(readdirSync(pgdata), ['postgresql.conf']);
      assert.equal(existsSync(copyMarkerFile(pgdata, 'paul')), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the room gone by the time the copy would start: refused free_space, the copy program never run, the folder a new node again', async () => {
    const { dir, pgdata, config, prepareMaster, env } = setup();
    try {
      const free = [10_000 * MB, spaceNeededBytes(100 * MB) - 1];
      const checks: CopyCheckPort = { ...quiet, freeBytes: async () => free.shift() ?? 0 };
      const result = await cloneFromMaster(env, config, 'paul', 'john', false, undefined, { ports: { checks, prepareMaster } });
      assert.equal(result.ok, false);
      assert.match(result.details, /^copy from john not started: not enough free space for a copy of john: \d+ MB free under .*, 175 MB needed \(reason free_space\); the folder holds the configuration files only again$/);
      assert.equal(free.length, 0, 'measured twice: after the CHECKPOINT and right before the copy');
      assert.deepEqual(readdirSync(pgdata), ['postgresql.conf']);
      assert.equal(existsSync(copyMarkerFile(pgdata, 'paul')), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reclone deleting the old data that could never fit (free 10 MB, data 40 MB, master 100 MB): refused before anything is deleted', async () => {
    const { dir, pgdata, config, prepareMaster, env } = setup(true);
    try {
      const checks: CopyCheckPort = { ...quiet, freeBytes: async () => 10 * MB, dataBytes: async () => 40 * MB };
      const result = await cloneFromMaster(env, config, 'paul', 'john', true, undefined, { deleteOldData: true, ports: { checks, prepareMaster } });
      assert.equal(result.ok, false);
      assert.equal(result.touched, false);
      assert.equal(result.deletedOldData, false);
      assert.match(result.details, /even with paul's data deleted: 10 MB free under .* and 40 MB of data to delete, 175 MB needed\. Nothing changed on paul \(reason free_space\)$/);
      assert.equal(existsSync(join(pgdata, 'PG_VERSION')), true);
      assert.equal(existsSync(join(pgdata, 'base', 'data')), true);
      assert.equal(existsSync(copyMarkerFile(pgdata, 'paul')), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a PostgreSQL that started just before the folder was emptied (pid file deleted, its process working in the folder): the copy never run, nothing removed, the marker kept', async () => {
    const { dir, pgdata, config, prepareMaster, env } = setup(true);
    let child: ReturnType<typeof spawn> | null = null;
    try {
      // The real processIn; the process appears once the data is gone (after the last check before the folder is touched).
      const checks: CopyCheckPort = {
        ...quiet,
        processIn: (folder) => {
          if (child === null && !existsSync(join(pgdata, 'PG_VERSION'))) child = spawn('sleep', ['30'], { cwd: pgdata, stdio: 'ignore' });
          return localCopyChecks.processIn(folder);
        },
        freeBytes: async () => {
          await new Promise((resolve) => setTimeout(resolve, 300));
          return 10_000 * MB;
        },
      };
      const result = await cloneFromMaster(env, config, 'paul', 'john', true, undefined, { deleteOldData: true, ports: { checks, prepareMaster } });
      assert.notEqual(child, null, 'the process was started');
      assert.equal(result.ok, false);
      assert.equal(result.touched, true);
      assert.match(result.details, /^copy from john not started: not cloned: process \d+ works in paul's data folder .*\(reason postgres_running\); the folder is left as it is, marked as a partial copy/);
      assert.doesNotMatch(result.details, /pg_basebackup|connection/);
      assert.equal(existsSync(copyMarkerFile(pgdata, 'paul')), true, 'marked: a start on the folder is refused');
      assert.equal(existsSync(join(pgdata, 'postgresql.conf')), false, 'nothing put back either: the folder left as it is');
    } finally {
      (child as ReturnType<typeof spawn> | null)?.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reclone moving the data aside, a postmaster on the moved folder by the time the copy would start: refused, nothing removed', async () => {
    const { dir, pgdata, config, prepareMaster, env } = setup(true);
    try {
      const checks: CopyCheckPort = { ...quiet, postmaster: (folder) => (folder.includes('.handyrep-old-') ? 4343 : null) };
      const result = await cloneFromMaster(env, config, 'paul', 'john', true, undefined, { ports: { checks, prepareMaster } });
      assert.equal(result.ok, false);
      assert.match(result.details, /^copy from john not started: not cloned: PostgreSQL runs on paul's old data folder .*\.handyrep-old-\S+ \(postmaster 4343\); stop it first \(reason postgres_running\); the folder is left as it is/);
      assert.match(result.details, /; the old data folder is kept at .*\.handyrep-old-/);
      assert.equal(existsSync(copyMarkerFile(pgdata, 'paul')), true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a partial copy found (the old data kept aside), PostgreSQL started during the CHECKPOINT: the folder reported touched, the kept folder named', async () => {
    const { dir, pgdata, config, events, prepareMaster, env } = setup();
    try {
      const keptAt = `${pgdata}.handyrep-old-20261205T000000Z`;
      mkdirSync(keptAt);
      writeFileSync(join(keptAt, 'PG_VERSION'), '15\n');
      writeFileSync(join(pgdata, 'PG_VERSION'), '15\n');
      writeCopyMarker({ node: 'paul', pgdata, phase: 'copying', started_at: new Date().toISOString(), source: 'john', old_data: 'move', kept_at: keptAt, config_saved_at: null });
      const checks: CopyCheckPort = { ...quiet, postmaster: (folder) => (folder === pgdata && events.includes('checkpoint') ? 4242 : null) };
      const result = await cloneFromMaster(env, config, 'paul', 'john', true, undefined, { ports: { checks, prepareMaster } });
      assert.equal(result.ok, false);
      assert.equal(result.touched, true);
      assert.equal(result.oldData, keptAt);
      assert.match(result.details, /PostgreSQL runs on paul \(postmaster 4242\); stop it first \(reason postgres_running\); the old data folder is kept at /);
      assert.doesNotMatch(result.details, /Nothing changed/);
      assert.equal(readFileSync(join(pgdata, 'PG_VERSION'), 'utf8'), '15\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
