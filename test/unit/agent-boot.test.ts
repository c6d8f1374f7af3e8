import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bootRetryDelayMs, bootstrapWriter, decideBoot, rewindCannotJoin, type BootPlan, type BootSnapshot } from '../../src/agent/boot.js';
import { basebackupArgv } from '../../src/plugins/clone/clone_basebackup.js';
import { spaceNeededBytes } from '../../src/agent/copy-checks.js';
import { initdbArgv } from '../../src/agent/bootstrap-initdb.js';
import type { MasterKeyView } from '../../src/agent/decide.js';
import type { TargetFolder } from '../../src/engine/clone-plan.js';

const present = (name: string, writtenBy = 'test', timeline: number | null = null): MasterKeyView => ({
  state: 'present',
  record: { name, term: '1', timeline, promoted_lsn: null, sync_set: [], since: '2026-01-01T00:00:00Z', written_by: writtenBy },
});
const snap = (master: MasterKeyView, running = false, folder: TargetFolder | null = 'pgdata', more: Partial<BootSnapshot> = {}): BootSnapshot => ({
  node: 'john',
  master,
  running,
  servers: ['john', 'paul'],
  folder,
  bootstrap: 'off',
  reclone: true,
  ...more,
});
const initdb = { bootstrap: 'initdb' } as const;

describe('decideBoot (design §9 rule 3)', () => {
  const rows: [string, BootSnapshot, BootPlan['kind'], (boolean | string)?][] = [
    ['running, another node recorded → adopted (the rounds demote)', snap(present('paul'), true), 'leave', false],
    ['running, nothing recorded → adopted', snap({ state: 'absent' }, true), 'leave', false],
    ['running, folder not inspectable → adopted all the same', snap({ state: 'absent' }, true, null), 'leave', false],
    ['stopped, this node recorded → start as master', snap(present('john')), 'start_master'],
    ['stopped, another node recorded → standby of it', snap(present('paul')), 'start_standby', 'paul'],
    ['stopped, nothing recorded → not started', snap({ state: 'absent' }), 'leave', true],
    ['stopped, key unreadable → not started', snap({ state: 'unreadable', reason: 'etcd unreachable' }), 'leave', true],
    ['stopped, recorded master unknown → not started', snap(present('ringo')), 'leave', true],
    ['folder holds something else → left alone, even with bootstrap on', snap({ state: 'absent' }, false, 'other', initdb), 'leave', true],
    ['folder not inspectable → nothing done', snap(present('paul'), false, null), 'leave', true],
    ['new folder, another node recorded → clone it', snap(present('paul'), false, 'empty'), 'clone', 'paul'],
    ['missing folder, another node recorded → clone it', snap(present('paul'), false, 'missing'), 'clone', 'paul'],
    ['configuration files only, another recorded → clone it', snap(present('paul'), false, 'config_only'), 'clone', 'paul'],
    ['new folder, nothing recorded, bootstrap off → waits', snap({ state: 'absent' }, false, 'empty'), 'leave', true],
    ['new folder, nothing recorded, bootstrap initdb → bootstrap', snap({ state: 'absent' }, false, 'config_only', initdb), 'bootstrap'],
    ['data here, nothing recorded, bootstrap initdb → never initdb over it', snap({ state: 'absent' }, false, 'pgdata', initdb), 'leave', true],
    ['key unreadable, bootstrap initdb → nothing', snap({ state: 'unreadable', reason: 'x' }, false, 'empty', initdb), 'leave', true],
    ['own bootstrap claim, no data yet → initdb', snap(present('john', bootstrapWriter('john')), false, 'empty', initdb), 'initdb'],
    ['own confirmed bootstrap (timeline 1), no data → never initdb', snap(present('john', bootstrapWriter('john'), 1), false, 'empty', initdb), 'leave', true],
    ['recorded master by a controller, no data → never initdb', snap(present('john'), false, 'empty', initdb), 'leave', true],
    ['another agent\'s claim → clone it', snap(present('paul', bootstrapWriter('paul')), false, 'config_only', initdb), 'clone', 'paul'],
  ];
  for (const [name, s, kind, detail] of rows) {
    it(name, () => {
      const plan = decideBoot(s);
      assert.equal(plan.kind, kind);
      if (typeof detail === 'string') assert.equal(plan.kind === 'start_standby' || plan.kind === 'clone' ? plan.master : null, detail);
      if (typeof detail === 'boolean') assert.equal(plan.kind === 'leave' ? plan.retry : null, detail, 'asked again next round');
      assert.ok(plan.sentence.length > 0);
    });
  }

  it('a standby boot carries agent.reclone', () => {
    const on = decideBoot(snap(present('paul')));
    const off = decideBoot(snap(present('paul'), false, 'pgdata', { reclone: false }));
    assert.equal(on.kind === 'start_standby' && on.reclone, true);
    assert.equal(off.kind === 'start_standby' && off.reclone, false);
  });
});

describe('rewindCannotJoin: only a rewind that cannot join the timelines is recloned', () => {
  const rows: [string, string, boolean][] = [
    ['WAL since the fork recycled', 'john: rewind failed, reclone needed: pg_rewind: servers diverged at WAL location 0/151A7F8 on timeline 1 | pg_rewind: error: could not open file "/d/pg_wal/000000010000000000000001": No such file or directory | pg_rewind: error: could not find previous WAL record at 0/151A7F8', true],
    ['no common ancestor', 'pg_rewind: error: could not find common ancestor of the source and target cluster\'s timelines', true],
    ['another cluster', 'pg_rewind: error: source and target clusters are from different systems', false],
    ['timed out', 'pg_rewind: timed out: pg_rewind: reading source file list', false],
    ['master unreachable', 'pg_rewind: error: connection to server at "10.0.0.12", port 5432 failed: Connection refused', false],
    ['not shut down cleanly', 'pg_rewind: error: target server must be shut down cleanly', false],
    ['no wal_log_hints', 'pg_rewind: error: target server needs to use either data checksums or "wal_log_hints = on"', false],
  ];
  for (const [name, output, reclone] of rows) it(name, () => assert.equal(rewindCannotJoin(output), reclone));
});

describe('the agent\'s copy leaves standby.signal (pg_basebackup -R)', () => {
  const server = { name: 'john', hostname: 'h', port: 5432, pgdata: '/d', pg_bin_dir: '/b' } as unknown as Parameters<typeof basebackupArgv>[0]['target'];
  it('-R when asked, not otherwise (the controller writes its own standby configuration)', () => {
    assert.ok(basebackupArgv({ target: server, source: server, writeStandbySignal: true }, 'replicator', []).includes('-R'));
    assert.ok(!basebackupArgv({ target: server, source: server }, 'replicator', []).includes('-R'));
  });
});

describe('bootRetryDelayMs', () => {
  it('2 s after the first failure, doubling, at most 60 s', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 50].map((n) => bootRetryDelayMs(n, 1000)), [2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  });
  it('never below one round', () => {
    assert.equal(bootRetryDelayMs(1, 5000), 5000);
  });
});

describe('spaceNeededBytes', () => {
  it('the data, 10 % and 64 MB', () => {
    assert.equal(spaceNeededBytes(0), 64 * 1024 * 1024);
    assert.equal(spaceNeededBytes(1000 * 1024 * 1024), 1100 * 1024 * 1024 + 64 * 1024 * 1024);
  });
});

describe('initdbArgv', () => {
  const server = { pgdata: '/var/lib/pg/data', pg_bin_dir: '/usr/lib/postgresql/15/bin' };
  it('locale, encoding, checksums as configured; superuser postgres', () => {
    assert.deepEqual(initdbArgv(server, { bootstrap_locale: 'en_US.UTF-8', bootstrap_encoding: 'UTF8', bootstrap_data_checksums: true }), [
      '/usr/lib/postgresql/15/bin/initdb',
      '-D',
      '/var/lib/pg/data',
      '-U',
      'postgres',
      '--locale=en_US.UTF-8',
      '--encoding=UTF8',
      '--data-checksums',
      '--auth-local=peer',
      '--auth-host=scram-sha-256',
    ]);
  });
  it('no checksums when off', () => {
    assert.ok(!initdbArgv(server, { bootstrap_locale: 'C', bootstrap_encoding: 'UTF8', bootstrap_data_checksums: false }).includes('--data-checksums'));
  });
});
