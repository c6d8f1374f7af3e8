/**
 * The boot's copies can be cancelled and leave nothing behind (review of issue 14, boot): the
 * process groups of its commands (copy-groups.ts) are killed at a clean stop and, after a SIGKILL
 * of the agent, at its next start from the file it left; a data folder that is a symlink or a
 * mount point is refused before a reclone renames it (folder-move.ts); a failed attempt to follow
 * the master drops the slot it created there (boot-runner.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BootRunner } from '../../src/agent/boot-runner.js';
import { CopyGroups, groupsFile, isLeftoverOurs, parseGroupsFile, parseProcStat, reapLeftoverGroups, type GroupEntry } from '../../src/agent/copy-groups.js';
import { folderFacts, folderMoveProblem, mountPoints } from '../../src/agent/folder-move.js';
import type { LocalPostgres } from '../../src/agent/local-postgres.js';
import { parseConfig } from '../../src/config/load.js';
import { LocalShell } from '../../src/nodes/local-shell.js';
import type { EtcdContext } from '../../src/store/etcd/client.js';
import { etcdKeys } from '../../src/store/etcd/keys.js';
import { encodeMasterRecord } from '../../src/store/etcd/master-record.js';

const dir = mkdtempSync(join(tmpdir(), 'handyrep-boot-cancel-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('copy process groups: pure parts', () => {
  it('parses /proc/<pid>/stat, whatever the command name holds', () => {
    const fields = ['S', '1', '4242', '4242', '0', '-1', '4194560', '1', '0', '0', '0', '0', '0', '0', '0', '20', '0', '1', '0', '987654'];
    assert.deepEqual(parseProcStat(`4243 (pg_basebackup) ${fields.join(' ')} 0 0`), { pgrp: 4242, start: '987654' });
    assert.deepEqual(parseProcStat(`4243 (a) b (c) ${fields.join(' ')}`), { pgrp: 4242, start: '987654' });
    assert.equal(parseProcStat('garbage'), null);
  });
  const entry: GroupEntry = { pgid: 4242, start: '1000', boot: 'boot-a' };
  const rows: ReadonlyArray<[string, { boot: string; leaderStart: string | null; memberStarts: string[] }, boolean]> = [
    ['same boot, leader with the recorded start time → ours', { boot: 'boot-a', leaderStart: '1000', memberStarts: [] }, true],
    ['same boot, a process with that pid but another start time (pid reused) → not ours', { boot: 'boot-a', leaderStart: '5000', memberStarts: [] }, false],
    ['another boot (the host rebooted) → not ours', { boot: 'boot-b', leaderStart: '1000', memberStarts: [] }, false],
    ['leader gone, members started after it → ours (the copy\'s children)', { boot: 'boot-a', leaderStart: null, memberStarts: ['1001'] }, true],
    ['leader gone, members older than it → not ours', { boot: 'boot-a', leaderStart: null, memberStarts: ['999'] }, false],
    ['nothing left → nothing to kill', { boot: 'boot-a', leaderStart: null, memberStarts: [] }, false],
  ];
  for (const [label, now, expected] of rows) it(label, () => assert.equal(isLeftoverOurs(entry, now), expected));
  it('no boot id recorded → never killed', () => assert.equal(isLeftoverOurs({ ...entry, boot: '' }, { boot: '', leaderStart: '1000', memberStarts: [] }), false));
  it('a file that is not ours parses to nothing; pgid 0, 1 and negatives are never taken', () => {
    assert.deepEqual(parseGroupsFile('not json'), []);
    assert.deepEqual(parseGroupsFile('[{"pgid":1,"start":"1","boot":"b"},{"pgid":-5,"start":"1","boot":"b"},{"pgid":77,"start":"1","boot":"b"}]'), [{ pgid: 77, start: '1', boot: 'b' }]);
  });
  it('the file lives beside the data folder', () => assert.equal(groupsFile('/var/lib/postgresql/15/main', 'john'), '/var/lib/postgresql/15/.handyrep-agent-john.groups'));
});

describe('copy process groups: real processes', () => {
  it('a clean stop kills a running copy\'s whole group (its children too) and the file goes', async () => {
    const file = join(dir, 'clean.groups');
    const groups = new CopyGroups(file, () => undefined);
    const shell = new LocalShell({ groups });
    const run = shell.run(['sh', '-c', 'sleep 60 & sleep 60; wait'], { timeoutMs: 120_000 });
    await waitFor('the group recorded', () => groups.running.length === 1 && existsSync(file));
    const pgid = groups.running[0] as number;
    assert.equal(groupAlive(pgid), true);
    assert.equal(await groups.cancel(1000), 1);
    const result = await run;
    assert.equal(result.exitCode, null, 'ended by a signal');
    await waitFor('the group gone', () => !groupAlive(pgid));
    assert.equal(existsSync(file), false);
  });
  it('an agent SIGKILLed mid-copy: its next start kills the orphan group from the file it left', async () => {
    const file = join(dir, 'killed.groups');
    const groups = new CopyGroups(file, () => undefined);
    // The "agent" dies without ending anything: the group lives on, the file stays.
    const run = new LocalShell({ groups }).run(['sh', '-c', 'sleep 60 & sleep 60; wait'], { timeoutMs: 120_000 });
    await waitFor('the group recorded', () => existsSync(file));
    const [recorded] = parseGroupsFile(readFileSync(file, 'utf8'));
    assert.ok(recorded && groupAlive(recorded.pgid));
    const said = reapLeftoverGroups(file);
    assert.match(said ?? '', new RegExp(`killed process group\\(s\\) ${recorded.pgid} left running`));
    await waitFor('the orphan group gone', () => !groupAlive(recorded.pgid));
    assert.equal(existsSync(file), false);
    await run;
    assert.equal(reapLeftoverGroups(file), null, 'nothing left the second time');
  });
});

describe('a data folder a reclone must not rename', () => {
  const plain = { path: '/d/main', isSymlink: false, dev: 1, parentDev: 1, listedMount: false };
  const rows: ReadonlyArray<[string, typeof plain, RegExp | null]> = [
    ['a plain folder → fine', plain, null],
    ['a symlink → refused', { ...plain, isSymlink: true }, /is a symlink/],
    ['another device than its parent → a mount point, refused', { ...plain, dev: 2 }, /is a mount point/],
    ['a bind mount on the same device → refused', { ...plain, listedMount: true }, /is a mount point/],
  ];
  for (const [label, facts, expected] of rows) {
    it(label, () => {
      const problem = folderMoveProblem(facts);
      if (expected === null) assert.equal(problem, null);
      else assert.match(problem ?? '', expected);
    });
  }
  it('mountinfo: octal escapes decoded', () => {
    assert.ok(mountPoints('36 35 98:0 /mnt1 /mnt/my\\040data rw,noatime master:1 - ext3 /dev/root rw\n').has('/mnt/my data'));
  });
  it('on this host: a real symlink and /proc are refused, a real folder is not', () => {
    const real = join(dir, 'real');
    mkdirSync(real);
    symlinkSync(real, join(dir, 'link'));
    assert.equal(folderMoveProblem(folderFacts(real)), null);
    assert.match(folderMoveProblem(folderFacts(join(dir, 'link'))) ?? '', /symlink/);
    assert.match(folderMoveProblem(folderFacts('/proc')) ?? '', /mount point/);
  });
});

describe('a failed attempt to follow the master drops its slot', () => {
  function runner(slots: boolean, drops: string[]): BootRunner {
    const pgdata = join(dir, `new-node-${slots}`);
    const config = parseConfig(
      `servers: {john: {hostname: 127.0.0.1, port: 1, role: replica, pgdata: ${pgdata}}, paul: {hostname: 127.0.0.1, port: 1, role: master}}\nfailover: {use_replication_slots: ${slots}}\n`,
      'test',
    );
    const record = encodeMasterRecord({ name: 'paul', term: '1', timeline: 1, promoted_lsn: null, sync_set: [], since: '2026-01-01T00:00:00Z', written_by: 'test' });
    const etcd = { keys: etcdKeys('/t/'), deadlineMs: 1000, client: { kv: { range: async () => ({ kvs: [{ value: Buffer.from(record), mod_revision: '7' }] }) } } } as unknown as EtcdContext;
    const pg = { settings: { socketDir: dir, port: 1 }, observe: async () => ({ observation: { pidFilePid: null, pidAlive: false, writable: null }, facts: null }) } as unknown as LocalPostgres;
    const lease = { take: async () => 'no', renew: async () => undefined, fresh: () => false, release: async () => undefined };
    return new BootRunner({
      config,
      node: 'john',
      pg,
      etcd,
      callMs: 1000,
      loopMs: 500,
      lease,
      log: () => undefined,
      now: () => 0,
      dropSlot: async (master, slot) => {
        drops.push(`${master}:${slot}`);
        return `slot ${slot} dropped on ${master}`;
      },
    });
  }
  it('with slots: the clone failed (master unreachable) → this node\'s slot dropped on the master', async () => {
    const drops: string[] = [];
    await runner(true, drops).step();
    assert.deepEqual(drops, ['paul:handyrep_john']);
  });
  it('without slots: nothing to drop', async () => {
    const drops: string[] = [];
    await runner(false, drops).step();
    assert.deepEqual(drops, []);
  });
});
