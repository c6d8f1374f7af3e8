/** The pure decisions of clone: refusals before anything changes, what happens to old data, and re-copying after a failover. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planClone, shouldRecopy, type CloneFacts } from '../../src/engine/clone-plan.js';
import { basebackupArgv } from '../../src/plugins/clone/clone_basebackup.js';
import { labelStartFile, rsyncDataArgv } from '../../src/plugins/clone/clone_rsync.js';
import { parseBasebackupProgress, parseRsyncProgress } from '../../src/plugins/clone/progress.js';
import { configSchema } from '../../src/config/schema.js';
import { NO_FACTS, NO_FLAGS } from '../../src/model/server.js';
import { makeServerStatus } from '../../src/model/status.js';
import type { ServerRef } from '../../src/plugins/types.js';

const base: CloneFacts = Object.freeze({
  target: 'ringo',
  targetRole: 'replica',
  targetFenced: false,
  master: 'john',
  source: 'john',
  sourceRecord: { enabled: true, role: 'master', fenced: false },
  sourcePollFailure: null,
  targetRunning: false,
  targetRunningDetail: 'not running',
  targetFolder: 'empty',
  targetFolderDetail: '/data is empty',
  reclone: false,
  keepOldData: null,
  busy: false,
});

test('a clone into an empty folder from the master is allowed', () => {
  assert.deepEqual(planClone(base), { ok: true, source: 'john', stopFirst: false, oldData: 'none' });
  assert.deepEqual(planClone({ ...base, targetFolder: 'missing' }), { ok: true, source: 'john', stopFirst: false, oldData: 'none' });
  assert.deepEqual(planClone({ ...base, targetFolder: 'config_only' }), { ok: true, source: 'john', stopFirst: false, oldData: 'none' });
});

test('refusals, each with its code', () => {
  const cases: [Partial<CloneFacts>, string][] = [
    [{ busy: true }, 'busy'],
    [{ target: 'john' }, 'target_is_master'],
    [{ targetRole: 'pgbouncer' }, 'target_not_database'],
    [{ master: null }, 'no_master'],
    [{ source: 'ringo' }, 'source_is_target'],
    [{ sourceRecord: null }, 'source_not_operational'],
    [{ source: 'paul', sourceRecord: { enabled: false, role: 'replica', fenced: false } }, 'source_not_operational'],
    [{ source: 'paul', sourceRecord: { enabled: true, role: 'replica', fenced: true } }, 'source_not_operational'],
    [{ source: 'px', sourceRecord: { enabled: true, role: 'pgbouncer', fenced: false } }, 'source_not_operational'],
    [{ sourcePollFailure: 'connection refused' }, 'source_unreachable'],
    [{ targetFolder: null }, 'target_unknown_state'],
    [{ targetRunning: null }, 'target_unknown_state'],
    [{ targetRunning: true, targetFolder: 'pgdata' }, 'target_running'],
    [{ targetFolder: 'other' }, 'target_not_pgdata'],
    [{ targetFolder: 'other', reclone: true }, 'target_not_pgdata'],
    [{ targetFolder: 'pgdata' }, 'target_has_data'],
  ];
  for (const [change, code] of cases) {
    const plan = planClone({ ...base, ...change });
    assert.equal(plan.ok, false, JSON.stringify(change));
    if (!plan.ok) assert.equal(plan.code, code, JSON.stringify(change));
  }
});

test('reclone: stop first, keep a fenced old master\'s folder aside, delete a replica\'s unless told', () => {
  const running = { ...base, reclone: true, targetRunning: true, targetFolder: 'pgdata' as const };
  assert.deepEqual(planClone(running), { ok: true, source: 'john', stopFirst: true, oldData: 'delete' });
  assert.deepEqual(planClone({ ...running, targetFenced: true, targetRunning: false }), { ok: true, source: 'john', stopFirst: false, oldData: 'move' });
  assert.deepEqual(planClone({ ...running, targetFenced: true, keepOldData: false }), { ok: true, source: 'john', stopFirst: true, oldData: 'delete' });
  assert.deepEqual(planClone({ ...running, keepOldData: true }), { ok: true, source: 'john', stopFirst: true, oldData: 'move' });
  // From a replica.
  assert.deepEqual(planClone({ ...base, source: 'paul', sourceRecord: { enabled: true, role: 'replica', fenced: false } }), { ok: true, source: 'paul', stopFirst: false, oldData: 'none' });
});

test('a copy is redone once, only after the master changed and only when it came from the master by default', () => {
  const input = { sourceWasDefaultMaster: true, masterAtStart: 'john', masterNow: 'paul', attempts: 1, maxAttempts: 2 };
  assert.equal(shouldRecopy(input), true);
  assert.equal(shouldRecopy({ ...input, masterNow: 'john' }), false);
  assert.equal(shouldRecopy({ ...input, masterNow: null }), false);
  assert.equal(shouldRecopy({ ...input, sourceWasDefaultMaster: false }), false);
  assert.equal(shouldRecopy({ ...input, attempts: 2 }), false);
});

const defaults = configSchema.parse({}).server_defaults;
function server(name: string, host: string): ServerRef {
  return { ...defaults, name, hostname: host, role: 'replica', enabled: true, ...makeServerStatus('healthy', '', 'now'), ...NO_FACTS, ...NO_FLAGS, pgdata: `/srv/${name}` };
}

test('copy commands: pg_basebackup and rsync argv never carry a password', () => {
  const request = { target: server('ringo', '10.0.0.4'), source: server('john', '10.0.0.1') };
  const argv = basebackupArgv(request, 'replicator', ['--max-rate=10M']);
  assert.deepEqual(argv.slice(0, 13), ['/usr/lib/postgresql/15/bin/pg_basebackup', '-D', '/srv/ringo', '-h', '10.0.0.1', '-p', '5432', '-U', 'replicator', '-X', 'stream', '-c', 'fast']);
  assert.ok(argv.includes('-P') && argv.includes('-w') && argv.at(-1) === '--max-rate=10M');
  const settings = { rsync_path: 'rsync', ssh_path: 'ssh', ssh_options: ['-o', 'BatchMode=yes'], ssh_user: null, ssh_port: null, compress: false, extra_parameters: [], timeout_seconds: 10, progress_interval_seconds: 1 };
  const rsync = rsyncDataArgv(settings, request);
  assert.equal(rsync.at(-2), '10.0.0.1:/srv/john/');
  assert.equal(rsync.at(-1), '/srv/ringo/');
  assert.equal(rsync[rsync.indexOf('-e') + 1], 'ssh -p 22 -l postgres -o BatchMode=yes');
  assert.ok(rsync.includes('/pg_wal/*') && rsync.includes('/postmaster.pid'));
  assert.equal(labelStartFile('START WAL LOCATION: 0/5000028 (file 000000010000000000000005)\nCHECKPOINT LOCATION: 0/5000060\n'), '000000010000000000000005');
});

test('progress lines of pg_basebackup and rsync', () => {
  assert.deepEqual(parseBasebackupProgress('    1024/102400 kB (1%), 0/1 tablespace\n   31232/102400 kB (30%), 0/1 tablespace\n'), { bytesDone: 31232 * 1024, bytesTotal: 102400 * 1024 });
  assert.equal(parseBasebackupProgress('waiting for checkpoint\n'), null);
  assert.deepEqual(parseRsyncProgress('      1,000,000  10%    1.00MB/s    0:00:01 (xfr#1, to-chk=9/10)\r      3,000,000  30%    1.50MB/s    0:00:02 (xfr#3, to-chk=7/10)\r'), { bytesDone: 3000000, bytesTotal: 10000000 });
  assert.deepEqual(parseRsyncProgress('              0   0%    0.00kB/s    0:00:00 (xfr#0, to-chk=0/10)'), { bytesDone: 0, bytesTotal: null });
  assert.equal(parseRsyncProgress('receiving file list ... done'), null);
});
