/**
 * Issue 14, clone through an agent — the remaining safety gaps, row by row:
 *   1. a copy an agent did not finish is marked (copy-marker.ts): the next attempt copies again,
 *      keeps what the first attempt kept, and nothing starts on it (boot.ts, the start command);
 *   2. the controller stops waiting for a command whose agent is gone (agent-gone.ts, agent-shell.ts);
 *   3. a clone or rewind is refused while the node is or may be a master (command-guard.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decideBoot, type BootSnapshot } from '../../src/agent/boot.js';
import { BootRunner } from '../../src/agent/boot-runner.js';
import type { LocalPostgres } from '../../src/agent/local-postgres.js';
import { parseConfig } from '../../src/config/load.js';
import { encodeMasterRecord } from '../../src/store/etcd/master-record.js';
import { checkCopy, copyLooksComplete, copyMarkerFile, partialCopyVerdict, readPartialCopy, removeCopyMarker, writeCopyMarker, type CopyMarker } from '../../src/agent/copy-marker.js';
import { destructiveRefusal, startRefusal, type DestructiveFacts } from '../../src/agent/commands/command-guard.js';
import type { CommandRecord } from '../../src/agent/commands/command-record.js';
import { CommandExecutor } from '../../src/agent/commands/executor.js';
import type { MasterKeyView } from '../../src/agent/decide.js';
import { judgeMember, NO_MEMBER_SEEN } from '../../src/nodes/agent-gone.js';
import type { EtcdContext } from '../../src/store/etcd/client.js';
import { etcdKeys } from '../../src/store/etcd/keys.js';
import { HandyRepError } from '../../src/model/errors.js';
import { config, FakeStore } from '../fixtures/agent-commands.js';
import { FAKE_PREFIX, fakeAgentShell } from '../fixtures/fake-agent-shell.js';

const PGDATA = '/data/john/pgdata';
const FILE = '/data/john/.handyrep-agent-john.copying';
const marker = (more: Partial<CopyMarker> = {}): CopyMarker => ({
  node: 'john',
  pgdata: PGDATA,
  phase: 'copying',
  started_at: '2026-12-04T21:00:00.000Z',
  source: 'paul',
  old_data: 'none',
  kept_at: null,
  config_saved_at: '/tmp/handyrep-clone-conf-abc',
  ...more,
});
const facts = (m: CopyMarker | string | null, existing: string[] = ['/tmp/handyrep-clone-conf-abc']) => ({
  text: m === null ? null : typeof m === 'string' ? m : JSON.stringify(m),
  file: FILE,
  node: 'john',
  pgdata: PGDATA,
  exists: (path: string) => existing.includes(path),
});
const KEPT = `${PGDATA}.handyrep-old-20261204T210000Z`;

describe('partialCopyVerdict: what a copy marker left by a killed agent means', () => {
  const rows: [string, ReturnType<typeof facts>, 'none' | 'redo' | 'forget' | 'blocked', RegExp?][] = [
    ['no marker → nothing to do', facts(null), 'none'],
    ['a new node\'s copy killed midway → copied again', facts(marker()), 'redo', /holds a partial copy, never started; copying again/],
    ['old data emptied (keep_old_data false), killed while emptying → emptied and copied again', facts(marker({ phase: 'prepared', old_data: 'delete' })), 'redo'],
    ['old data moved aside, copy killed → copied again, the kept folder stays', facts(marker({ old_data: 'move', kept_at: KEPT }), ['/tmp/handyrep-clone-conf-abc', KEPT]), 'redo', /the old data stays at .*handyrep-old-/],
    ['killed after the rename but before the marker said so → the kept folder exists: copied again', facts(marker({ phase: 'prepared', old_data: 'move', kept_at: KEPT }), ['/tmp/handyrep-clone-conf-abc', KEPT]), 'redo'],
    ['killed before the rename → the folder is still the data to keep: marker dropped, folder untouched', facts(marker({ phase: 'prepared', old_data: 'move', kept_at: KEPT })), 'forget', /before its old data folder was moved aside/],
    ['moved aside, but the kept folder is gone → blocked (never guess about data to keep)', facts(marker({ old_data: 'move', kept_at: KEPT })), 'blocked', /is gone/],
    ['the saved configuration files are gone (host rebooted) → blocked', facts(marker(), []), 'blocked', /configuration files saved at .* are gone/],
    ['no configuration files were saved → copied again', facts(marker({ config_saved_at: null }), []), 'redo'],
    ['killed while writing the standby settings (files back in the folder) → copied again, the files saved from the folder', facts(marker({ phase: 'configuring', config_saved_at: null }), []), 'redo'],
    ['unreadable marker → blocked, never started', facts('{"node":'), 'blocked', /unreadable \(not JSON\)/],
    ['a marker of another phase → blocked', facts(JSON.stringify({ ...marker(), phase: 'done' })), 'blocked', /phase "done" unknown/],
    ['a marker for another folder → blocked', facts(marker({ pgdata: '/elsewhere' })), 'blocked', /not john at \/data\/john\/pgdata/],
  ];
  for (const [name, f, kind, said] of rows) {
    it(name, () => {
      const verdict = partialCopyVerdict(f);
      assert.equal(verdict.kind, kind);
      if (said) assert.match('sentence' in verdict ? verdict.sentence : '', said);
      if (verdict.kind === 'blocked') assert.match(verdict.sentence, /remove \/data\/john\/\.handyrep-agent-john\.copying/, 'says how to go on');
    });
  }
});

describe('copyLooksComplete: the end of a copy is checked before its marker goes', () => {
  const whole = ['PG_VERSION', 'base', 'global', 'standby.signal', 'backup_manifest'];
  it('a whole pg_basebackup copy passes', () => assert.equal(copyLooksComplete(whole, ['pg_control'], true), null));
  it('no pg_control (written last) → incomplete', () => assert.match(copyLooksComplete(whole, [], true) ?? '', /global\/pg_control/));
  it('no manifest when one is expected → incomplete', () => assert.match(copyLooksComplete(whole.filter((e) => e !== 'backup_manifest'), ['pg_control'], true) ?? '', /backup_manifest/));
  it('no manifest expected (rsync, --no-manifest) → whole', () => assert.equal(copyLooksComplete(whole.filter((e) => e !== 'backup_manifest'), ['pg_control'], false), null));
  it('no standby.signal → incomplete', () => assert.match(copyLooksComplete(whole.filter((e) => e !== 'standby.signal'), ['pg_control'], true) ?? '', /standby\.signal/));
  it('checkCopy reads the folder (a real one)', () => {
    const root = mkdtempSync(join(tmpdir(), 'handyrep-copy-'));
    try {
      const pgdata = join(root, 'pgdata');
      mkdirSync(join(pgdata, 'global'), { recursive: true });
      writeFileSync(join(pgdata, 'PG_VERSION'), '16\n');
      writeFileSync(join(pgdata, 'standby.signal'), '');
      assert.match(checkCopy(pgdata, true) ?? '', /global\/pg_control, backup_manifest/);
      writeFileSync(join(pgdata, 'global', 'pg_control'), 'x');
      writeFileSync(join(pgdata, 'backup_manifest'), '{}');
      assert.equal(checkCopy(pgdata, true), null);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('the marker file beside the data folder', () => {
  it('is written whole, read back as a redo, and removed', () => {
    const root = mkdtempSync(join(tmpdir(), 'handyrep-marker-'));
    try {
      const pgdata = join(root, 'pgdata');
      assert.equal(copyMarkerFile(pgdata, 'john'), join(root, '.handyrep-agent-john.copying'));
      assert.equal(readPartialCopy(pgdata, 'john').kind, 'none');
      writeCopyMarker({ ...marker(), pgdata, config_saved_at: null });
      assert.equal(JSON.parse(readFileSync(copyMarkerFile(pgdata, 'john'), 'utf8')).pgdata, pgdata);
      assert.equal(readPartialCopy(pgdata, 'john').kind, 'redo');
      removeCopyMarker(pgdata, 'john');
      assert.equal(readPartialCopy(pgdata, 'john').kind, 'none');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
  it('a parent that cannot be written → a clear error naming the marker', () => {
    assert.throws(() => writeCopyMarker({ ...marker(), pgdata: '/proc/no-such/pgdata' }), /cannot write the copy marker \/proc\/no-such\/\.handyrep-agent-john\.copying/);
  });
});

const present = (name: string): MasterKeyView => ({ state: 'present', record: { name, term: '1', timeline: 1, promoted_lsn: null, sync_set: [], since: '2026-01-01T00:00:00Z', written_by: 'test' } });
const boot = (master: MasterKeyView, partialCopy: BootSnapshot['partialCopy'], more: Partial<BootSnapshot> = {}): BootSnapshot => ({
  node: 'john',
  master,
  running: false,
  servers: ['john', 'paul'],
  folder: 'pgdata',
  bootstrap: 'off',
  reclone: false,
  partialCopy,
  ...more,
});
const redo = { redo: true, sentence: 'a copy from paul … did not end: partial copy' };

describe('decideBoot with a partial copy: never started, copied again', () => {
  const rows: [string, BootSnapshot, string, boolean | string][] = [
    ['another node recorded, folder looks like data → copied again (not started, not rewound)', boot(present('paul'), redo), 'clone', 'paul'],
    ['folder looks like something else → copied again all the same (the marker says it is ours)', boot(present('paul'), redo, { folder: 'other' }), 'clone', 'paul'],
    ['folder cannot be inspected → copied again (the marker decides)', boot(present('paul'), redo, { folder: null }), 'clone', 'paul'],
    ['this node recorded → never started as master on a partial copy', boot(present('john'), redo), 'leave', true],
    ['nothing recorded, even as bootstrap_node → waits (never initdb over it)', boot({ state: 'absent' }, redo, { folder: 'empty', bootstrap: 'initdb' }), 'leave', true],
    ['master key unreadable → waits', boot({ state: 'unreadable', reason: 'x' }, redo), 'leave', true],
    ['recorded master not under servers → waits', boot(present('ringo'), redo), 'leave', true],
    ['marker blocked → waits for an operator', boot(present('paul'), { redo: false, sentence: 'the copy marker … is unreadable' }), 'leave', true],
    ['PostgreSQL runs (started by hand) → adopted as before', boot(present('paul'), redo, { running: true }), 'leave', false],
  ];
  for (const [name, s, kind, detail] of rows) {
    it(name, () => {
      const plan = decideBoot(s);
      assert.equal(plan.kind, kind, plan.sentence);
      if (typeof detail === 'string') assert.equal(plan.kind === 'clone' ? plan.master : null, detail);
      else assert.equal(plan.kind === 'leave' ? plan.retry : null, detail);
      if (!s.running) assert.match(plan.sentence, /partial copy|copy marker/);
    });
  }
});

describe('destructiveRefusal: no clone or rewind on a node that is or may be a master', () => {
  const calm: DestructiveFacts = { node: 'john', recordedMaster: 'paul', leaseHeld: false, leaseKeyPresent: false, postgres: 'stopped' };
  const rows: [string, Partial<DestructiveFacts>, string | null][] = [
    ['a stopped replica → allowed', {}, null],
    ['a read-only replica → allowed here (the clone step refuses a running postmaster itself)', { postgres: 'read_only' }, null],
    ['nothing recorded, stopped → allowed', { recordedMaster: null }, null],
    ['the master key names it', { recordedMaster: 'john' }, 'master_key_names_node'],
    ['it holds its master lease, the key names another node', { leaseHeld: true }, 'master_lease_held'],
    ['it holds its master lease, the key unreadable', { recordedMaster: null, leaseHeld: true, postgres: 'writable' }, 'master_lease_held'],
    ['master_lease/john still in etcd (an earlier agent run)', { leaseKeyPresent: true }, 'master_lease_key_present'],
    ['PostgreSQL runs writable', { postgres: 'writable' }, 'postgres_writable'],
    ['a postmaster whose role is unknown', { postgres: 'unknown' }, 'postgres_role_unknown'],
  ];
  for (const [name, more, code] of rows) {
    it(name, () => {
      for (const action of ['clone', 'rewind'] as const) {
        const refused = destructiveRefusal(action, { ...calm, ...more });
        assert.equal(refused?.code ?? null, code, action);
        if (refused) assert.match(refused.message, new RegExp(`^${action} refused, .*\\(reason ${code}\\); nothing changed$`));
      }
    });
  }
  it('startRefusal: only on a partial copy', () => {
    assert.equal(startRefusal(null), null);
    assert.equal(startRefusal('x holds a partial copy')?.code, 'partial_copy');
  });
});

const request = (id: string, req: Record<string, unknown>): CommandRecord => ({
  command: { id, node: 'john', term: '42', controller: 'ctl', written_at: '2026-01-01T00:00:00Z', timeout_ms: 5000, request: req, stdin: null },
  started: null,
  result: null,
});

describe('CommandExecutor: the guard before a clone, rewind or start', () => {
  const clone = { action: 'clone', source: 'paul', upstream: 'paul', old_data: 'delete', restore_command: false };
  const setup = (local: Pick<DestructiveFacts, 'leaseHeld' | 'postgres'>, leaseKey = false, partial: string | null = null) => {
    const store = new FakeStore();
    store.master = 'paul';
    Object.assign(store, { masterLeasePresent: async () => leaseKey });
    let ran = 0;
    const executor = new CommandExecutor(config, 'john', {
      store,
      processId: 'x',
      log: () => undefined,
      localFacts: async () => local,
      partialCopy: () => partial,
      run: async () => ((ran += 1), { exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1 }),
    });
    return { store, executor, ran: () => ran };
  };
  it('holding its master lease (the key names paul): clone and rewind refused, never started', async () => {
    const { store, executor, ran } = setup({ leaseHeld: true, postgres: 'writable' });
    store.put('g1', request('g1', clone));
    store.put('g2', request('g2', { action: 'rewind', source: 'paul' }));
    await executor.scan();
    assert.equal(ran(), 0);
    for (const id of ['g1', 'g2']) {
      assert.equal(store.record(id)?.started, null, `${id} never taken`);
      assert.match(store.record(id)?.result?.refused?.message ?? '', /\(reason master_lease_held\)/);
    }
  });
  it('the lease key of an earlier run still in etcd: refused', async () => {
    const { store, executor, ran } = setup({ leaseHeld: false, postgres: 'stopped' }, true);
    store.put('g3', request('g3', clone));
    await executor.scan();
    assert.equal(ran(), 0);
    assert.match(store.record('g3')?.result?.refused?.message ?? '', /\(reason master_lease_key_present\)/);
  });
  it('a stopped replica without lease: the clone runs', async () => {
    const { store, executor, ran } = setup({ leaseHeld: false, postgres: 'stopped' });
    store.put('g4', request('g4', clone));
    await executor.scan();
    assert.equal(ran(), 1);
    assert.equal(store.record('g4')?.result?.exit_code, 0);
  });
  it('a partial copy in the folder: pg_ctl start and restart refused, a stop still runs', async () => {
    const { store, executor, ran } = setup({ leaseHeld: false, postgres: 'stopped' }, false, 'pgdata holds a partial copy');
    store.put('s1', request('s1', { action: 'pg_ctl', op: 'start', wait_s: 5 }));
    store.put('s2', request('s2', { action: 'pg_ctl', op: 'restart', wait_s: 5 }));
    store.put('s3', request('s3', { action: 'pg_ctl', op: 'stop', wait_s: 5 }));
    await executor.scan();
    assert.equal(ran(), 1, 'only the stop ran');
    for (const id of ['s1', 's2']) assert.match(store.record(id)?.result?.refused?.message ?? '', /start refused, pgdata holds a partial copy \(reason partial_copy\)/);
    assert.equal(store.record('s3')?.result?.exit_code, 0);
  });
});

describe('judgeMember: a running command\'s agent is gone when its member key expired', () => {
  it('seen, then absent → gone at the first absent read', () => {
    const seen = judgeMember(NO_MEMBER_SEEN, true, 0, 10_000);
    assert.equal(seen.gone, false);
    assert.equal(judgeMember(seen.watch, false, 1000, 10_000).gone, true);
  });
  it('never seen → gone only after the limit without it', () => {
    const first = judgeMember(NO_MEMBER_SEEN, false, 1000, 10_000);
    assert.equal(first.gone, false);
    assert.equal(judgeMember(first.watch, false, 10_999, 10_000).gone, false);
    assert.equal(judgeMember(first.watch, false, 11_000, 10_000).gone, true);
  });
  it('present again → the absence count starts over', () => {
    const absent = judgeMember(NO_MEMBER_SEEN, false, 0, 10_000);
    const back = judgeMember(absent.watch, true, 5000, 10_000);
    assert.deepEqual(back.watch, { seen: true, absentSinceMs: null });
  });
  it('no limit known (NaN) → never gone without having been seen', () => {
    assert.equal(judgeMember(judgeMember(NO_MEMBER_SEEN, false, 0, Number.NaN).watch, false, 1e9, Number.NaN).gone, false);
  });
});

describe('AgentShell: a command whose agent dies is answered "interrupted: agent gone", not at its time limit', () => {
  it('the member key expires while the clone runs → CONTROL_CHANNEL within about a second; the record is deleted', async () => {
    const keys = etcdKeys(FAKE_PREFIX);
    const { shell, kv } = fakeAgentShell('john', [[keys.member('john'), '{"role":"replica"}']], (store, key, record) => {
      // The agent takes it at once, then dies 300 ms later: its member key expires.
      store.set(key, JSON.stringify({ ...record, started: { by: 'agent-1', at: 'x' } }));
      setTimeout(() => store.delete(keys.member('john')), 300);
    });
    const t0 = performance.now();
    await assert.rejects(
      shell.runAction({ action: 'clone', source: 'paul', upstream: 'paul', old_data: 'delete', restore_command: false }, 3_600_000),
      (err: unknown) => err instanceof HandyRepError && err.code === 'CONTROL_CHANNEL' && /clone interrupted: agent gone \(its member key members\/john expired/.test(err.message),
    );
    const tookMs = performance.now() - t0;
    assert.ok(tookMs < 5000, `answered after ${Math.round(tookMs)} ms, not at the hour's limit`);
    assert.equal([...kv.keys()].some((k) => k.includes('/commands/')), false, 'the record is deleted (a live agent would stop its copy)');
  });
});

describe("BootRunner: no rewind or copy while this agent holds its master lease", () => {
  it('another node recorded, the lease still held → refused with master_lease_held, nothing run, retried later', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'handyrep-boot-guard-'));
    try {
      const pgdata = join(dir, 'data');
      mkdirSync(pgdata, { recursive: true });
      writeFileSync(join(pgdata, 'PG_VERSION'), '16\n');
      const config = parseConfig(`servers: {john: {hostname: 127.0.0.1, role: master, pgdata: ${pgdata}}, paul: {hostname: 127.0.0.2}}`, 'test');
      const record = encodeMasterRecord({ name: 'paul', term: '2', timeline: 2, promoted_lsn: null, sync_set: [], since: '2026-01-01T00:00:00Z', written_by: 'test' });
      const etcd = { keys: etcdKeys('/t/'), deadlineMs: 1000, client: { kv: { range: async () => ({ kvs: [{ value: Buffer.from(record), mod_revision: '7' }] }) } } } as unknown as EtcdContext;
      const effects: string[] = [];
      const pg = {
        settings: { socketDir: dir, port: 5432 },
        observe: async () => ({ observation: { pidFilePid: null, pidAlive: false, writable: null }, facts: null }),
        start: async () => (effects.push('start'), true),
      } as unknown as LocalPostgres;
      const lines: string[] = [];
      const lease = { take: async () => null, renew: async () => undefined, fresh: () => true, held: () => true, release: async () => undefined };
      const log = (line: string): number => lines.push(line);
      const runner = new BootRunner({ config, node: 'john', pg, etcd, callMs: 1000, loopMs: 500, lease, log, now: () => 0, dropSlot: async () => (effects.push('drop slot'), 'slot dropped') });
      await runner.step();
      assert.equal(runner.done, false, 'tried again later');
      assert.ok(!effects.includes('start'), 'not started');
      assert.match(lines.join('\n'), /not made a standby of paul: rewind refused, this agent holds master_lease\/john.*\(reason master_lease_held\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
