/**
 * Issue 14 (the clone's review): a copy onto this node is checked (no postmaster on the folder, room
 * for the copy) before the master is asked, again after the master's CHECKPOINT, and right before
 * the copy program starts, with the same reason codes:
 *   - copyRefusal (src/agent/copy-checks.ts): the decision, row by row;
 *   - cloneFromMaster (src/agent/boot-clone.ts) over fake ports: the checks after the CHECKPOINT and
 *     before the copy refuse what appeared meanwhile.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cloneFromMaster } from '../../src/agent/boot-clone.js';
import { agentNodeEnv } from '../../src/agent/agent-plugin-context.js';
import { copyRefusal, spaceNeededBytes, type CopyCheckFacts, type CopyCheckPort } from '../../src/agent/copy-checks.js';
import { copyMarkerFile } from '../../src/agent/copy-marker.js';
import { parseConfig } from '../../src/config/load.js';

const MB = 1048576;

describe('copyRefusal', () => {
  const base: CopyCheckFacts = { node: 'paul', source: 'john', pgdata: '/srv/pg/paul', postmasterPid: null, space: { freeBytes: 2000 * MB, neededBytes: 1000 * MB }, folderTouched: false };
  const rows: [string, Partial<CopyCheckFacts>, string | null][] = [
    ['nothing runs, room enough', {}, null],
    ['a postmaster runs', { postmasterPid: 4242 }, 'not cloned: PostgreSQL runs on paul (postmaster 4242); stop it first. Nothing changed (reason postgres_running)'],
    ['a postmaster runs and no room: the postmaster is named', { postmasterPid: 4242, space: { freeBytes: 0, neededBytes: MB } }, 'not cloned: PostgreSQL runs on paul (postmaster 4242); stop it first. Nothing changed (reason postgres_running)'],
    ['no room', { space: { freeBytes: 500 * MB + 1, neededBytes: 1000 * MB + 1 } }, 'not enough free space for a copy of john next to the data kept: 500 MB free under /srv/pg, 1001 MB needed. Nothing changed (reason free_space)'],
    ['room not checked (the data is emptied first)', { space: null }, null],
    ['no room, the folder already emptied (right before the copy)', { space: { freeBytes: 0, neededBytes: MB }, folderTouched: true }, 'not enough free space for a copy of john next to the data kept: 0 MB free under /srv/pg, 1 MB needed (reason free_space)'],
  ];
  for (const [name, change, expected] of rows) it(name, () => assert.equal(copyRefusal({ ...base, ...change })?.message ?? null, expected));
  it('the codes', () => {
    assert.equal(copyRefusal({ ...base, postmasterPid: 1 })?.code, 'postgres_running');
    assert.equal(copyRefusal({ ...base, space: { freeBytes: 0, neededBytes: 1 } })?.code, 'free_space');
  });
});

describe('cloneFromMaster: the checks after the master\'s CHECKPOINT and right before the copy', () => {
  const setup = () => {
    const dir = mkdtempSync(join(tmpdir(), 'handyrep-copy-checks-'));
    const pgdata = join(dir, 'paul');
    mkdirSync(pgdata, { recursive: true, mode: 0o700 });
    writeFileSync(join(pgdata, 'postgresql.conf'), "port = 5999\n");
    // john at a port nothing listens on: a copy program that ran would fail with pg_basebackup's words.
    const config = parseConfig(`servers: {john: {hostname: 127.0.0.1, port: 1, role: master}, paul: {hostname: 127.0.0.1, pgdata: ${pgdata}}}`, 'test');
    const events: string[] = [];
    const prepareMaster = async () => {
      events.push('checkpoint');
      return { databaseBytes: 100 * MB, systemIdentifier: '1' };
    };
    return { dir, pgdata, config, events, prepareMaster, env: agentNodeEnv(config, () => undefined) };
  };

  it('PostgreSQL started during the CHECKPOINT: refused postgres_running, the folder untouched', async () => {
    const { dir, pgdata, config, events, prepareMaster, env } = setup();
    try {
      const checks: CopyCheckPort = {
        postmaster: () => (events.includes('checkpoint') ? 4242 : null),
        freeBytes: async () => 10_000 * MB,
      };
      const result = await cloneFromMaster(env, config, 'paul', 'john', false, undefined, { ports: { checks, prepareMaster } });
      assert.equal(result.ok, false);
      assert.equal(result.touched, false);
      assert.match(result.details, /^not cloned: PostgreSQL runs on paul \(postmaster 4242\); stop it first\. Nothing changed \(reason postgres_running\)$/);
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
      const checks: CopyCheckPort = { postmaster: () => null, freeBytes: async () => free.shift() ?? 0 };
      const result = await cloneFromMaster(env, config, 'paul', 'john', false, undefined, { ports: { checks, prepareMaster } });
      assert.equal(result.ok, false);
      assert.match(result.details, /copy from john failed, partial copy removed: not started: not enough free space for a copy of john next to the data kept: \d+ MB free under .*, 175 MB needed \(reason free_space\)$/);
      assert.equal(free.length, 0, 'measured twice: after the CHECKPOINT and right before the copy');
      assert.deepEqual(readdirSync(pgdata), ['postgresql.conf']);
      assert.equal(existsSync(copyMarkerFile(pgdata, 'paul')), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
