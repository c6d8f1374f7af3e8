/**
 * The order of effects when the boot starts PostgreSQL as the master (boot-runner.ts), with a fake
 * PostgreSQL, a fake master lease and a fake etcd read: the lease before the start, no start when
 * the lease transaction is refused, and a stop BEFORE the lease is released when the start failed
 * or the lease went stale meanwhile.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BootRunner, type BootMasterLease } from '../../src/agent/boot-runner.js';
import type { LocalPostgres } from '../../src/agent/local-postgres.js';
import { parseConfig } from '../../src/config/load.js';
import type { EtcdContext } from '../../src/store/etcd/client.js';
import { etcdKeys } from '../../src/store/etcd/keys.js';
import { encodeMasterRecord } from '../../src/store/etcd/master-record.js';

const dir = mkdtempSync(join(tmpdir(), 'handyrep-boot-runner-'));
const pgdata = join(dir, 'data');
after(() => rmSync(dir, { recursive: true, force: true }));

function scenario(opts: { take: string | null; start: boolean; fresh: boolean }): { runner: BootRunner; effects: string[] } {
  // A folder holding data (inspectFolder looks for PG_VERSION).
  mkdirSync(pgdata, { recursive: true });
  writeFileSync(join(pgdata, 'PG_VERSION'), '15\n');
  const config = parseConfig(`servers: {john: {hostname: 127.0.0.1, role: master, pgdata: ${pgdata}}, paul: {hostname: 127.0.0.2}}`, 'test');
  const effects: string[] = [];
  const record = encodeMasterRecord({ name: 'john', term: '1', timeline: 1, promoted_lsn: null, sync_set: [], since: '2026-01-01T00:00:00Z', written_by: 'test' });
  const etcd = {
    keys: etcdKeys('/t/'),
    deadlineMs: 1000,
    client: { kv: { range: async () => ({ kvs: [{ value: Buffer.from(record), mod_revision: '7' }] }) } },
  } as unknown as EtcdContext;
  const pg = {
    settings: { socketDir: dir, port: 5432 },
    observe: async () => ({ observation: { pidFilePid: null, pidAlive: false, writable: null }, facts: null }),
    start: async () => {
      effects.push('start');
      return opts.start;
    },
    stopForSure: async () => {
      effects.push('stop');
      return 'immediate' as const;
    },
  } as unknown as LocalPostgres;
  const lease: BootMasterLease = {
    take: async (rev) => {
      effects.push(`take@${rev}`);
      return opts.take;
    },
    renew: async () => undefined,
    fresh: () => opts.fresh,
    release: async () => {
      effects.push('release');
    },
  };
  const runner = new BootRunner({ config, node: 'john', pg, etcd, callMs: 1000, loopMs: 500, lease, log: () => undefined, now: () => 0 });
  return { runner, effects };
}

describe('BootRunner: the master lease around a start as master', () => {
  it('lease taken (on the mod revision read) before the start; kept after a good start', async () => {
    const { runner, effects } = scenario({ take: null, start: true, fresh: true });
    await runner.step();
    assert.deepEqual(effects, ['take@7', 'start']);
    assert.equal(runner.done, true);
  });
  it('lease transaction refused (the master key changed) → never started', async () => {
    const { runner, effects } = scenario({ take: 'the master key changed', start: true, fresh: true });
    await runner.step();
    assert.deepEqual(effects, ['take@7']);
    assert.equal(runner.done, false, 'tried again later');
  });
  it('start failed → stopped BEFORE the lease is released', async () => {
    const { runner, effects } = scenario({ take: null, start: false, fresh: true });
    await runner.step();
    assert.deepEqual(effects, ['take@7', 'start', 'stop', 'release']);
    assert.equal(runner.done, false);
  });
  it('started, but the lease went stale meanwhile → stopped, then released', async () => {
    const { runner, effects } = scenario({ take: null, start: true, fresh: false });
    await runner.step();
    assert.deepEqual(effects, ['take@7', 'start', 'stop', 'release']);
    assert.equal(runner.done, false);
  });
});
