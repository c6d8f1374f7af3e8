/**
 * Review s8 M1 / S1: a keeper statement dropped at its deadline may still land (ALTER SYSTEM after
 * a stalled fsync; an ALTER whose reload timed out), leaving postgresql.auto.conf different from
 * the loaded synchronous_standby_names. The keeper then treats the names as unsettled (applies the
 * decided value again before any record, no catch-up started or finished), and writes nothing at
 * all while an earlier keeper backend is still alive (asked to end).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memberRecord, type MemberRecord } from '../../src/agent/member-record.js';
import { decideKeeper, type KeeperInput, type KeeperStep } from '../../src/agent/sync/keeper-decide.js';
import { statementTimeoutMs } from '../../src/agent/sync/keeper-session.js';
import { SyncKeeper } from '../../src/agent/sync/sync-keeper.js';
import type { SyncPolicy } from '../../src/engine/sync-set.js';
import { parseLsn, type Lsn } from '../../src/model/lsn.js';
import type { SyncRecord } from '../../src/model/sync-record.js';
import type { SqlRow, SqlSession } from '../../src/nodes/ports.js';
import type { MasterReplication } from '../../src/runtime/sync/master-replication.js';
import type { EtcdContext } from '../../src/store/etcd/client.js';
import { etcdKeys } from '../../src/store/etcd/keys.js';
import { replicaFacts } from '../fixtures/member-facts.js';
import { candidateSettings, masterRecord } from './election-snapshot.js';

const lsn = (text: string): Lsn => parseLsn(text) as Lsn;
const john = { state: 'present' as const, record: masterRecord('john', { written_by: 'agent:john' }) };
const running = (name: string): MemberRecord => memberRecord(name, { state: 'running', writable: false }, replicaFacts('0/3000000'), john, null, '2026-01-01T00:00:00Z');
const seen = (named: string, flushes: Record<string, string>): MasterReplication => ({
  named,
  current: lsn('0/3000000'),
  standbys: Object.entries(flushes).map(([name, flush]) => ({ name, state: 'streaming', flush: lsn(flush) })),
});
const record = (members: string[], quorum: number): SyncRecord => ({ members, quorum, master: 'john', at: '2026-01-01T00:00:00Z', reason: 'test' });
const ON: SyncPolicy = { mode: 'on', count: 1, method: 'any' };
const input = (over: Partial<KeeperInput>): KeeperInput => ({ node: 'john', policy: ON, record: null, seen: seen('', {}), replicas: [{ name: 'paul', settings: candidateSettings, member: running('paul') }], pending: null, newMaster: false, ...over });
const show = (steps: readonly KeeperStep[]): string[] => steps.map((s) => (s.kind === 'apply' ? `apply '${s.value}'` : `record [${s.set.members.join(', ')}] ${s.set.quorum}`));
const caughtUp = { paul: '0/3000000' };
const passedPending = { set: { members: ['paul'], quorum: 1 }, target: lsn('0/2000000') };

describe('decideKeeper: postgresql.auto.conf not what is loaded (a dropped apply that landed) → unsettled', () => {
  const rows: [string, KeeperInput, string[]][] = [
    [
      "scenario A: record [paul] 0, loaded 'ANY 1 (\"paul\")', file '' (a dropped clear landed), paul caught up past a kept target → the value applied again, no quorum raised",
      input({ record: record(['paul'], 0), seen: seen('ANY 1 ("paul")', caughtUp), inFile: '', pending: passedPending }),
      ['apply \'ANY 1 ("paul")\''],
    ],
    ['the same, the file as loaded → the quorum raised (the catch-up held)', input({ record: record(['paul'], 0), seen: seen('ANY 1 ("paul")', caughtUp), inFile: 'ANY 1 ("paul")', pending: passedPending }), ['record [paul] 1']],
    ['the same, no entry in the file (null: the default is loaded) → settled: the quorum raised', input({ record: record(['paul'], 0), seen: seen('ANY 1 ("paul")', caughtUp), inFile: null, pending: passedPending }), ['record [paul] 1']],
    [
      "scenario B: record [paul, ringo] 1, loaded 'ANY 1 (\"paul\")', file still names ringo, ringo gone → the narrowed value applied again, the record keeps ringo",
      input({ record: record(['paul', 'ringo'], 1), seen: seen('ANY 1 ("paul")', caughtUp), inFile: 'ANY 1 ("paul", "ringo")', replicas: [{ name: 'paul', settings: candidateSettings, member: running('paul') }, { name: 'ringo', settings: candidateSettings, member: null }], pending: { set: { members: ['paul'], quorum: 1 }, target: lsn('0/2000000') } }),
      ['apply \'ANY 1 ("paul")\''],
    ],
    ['strict, nobody qualifies, file differs → the loaded value written again, nothing recorded', input({ policy: { ...ON, mode: 'strict' }, record: record(['paul'], 1), seen: seen('ANY 1 ("paul")', {}), inFile: '' }), ['apply \'ANY 1 ("paul")\'']],
    ['off, no record (the names are the operator\'s), file differs → nothing', input({ policy: { ...ON, mode: 'off' }, seen: seen('ANY 1 ("paul")', {}), inFile: '' }), []],
    ['off, a record of a set, loaded \'\' but the file names paul → nothing promised recorded, then cleared', input({ policy: { ...ON, mode: 'off' }, record: record(['paul'], 1), seen: seen('', {}), inFile: 'ANY 1 ("paul")' }), ['record [] 0', "apply ''"]],
  ];
  for (const [what, given, expected] of rows) it(what, () => assert.deepEqual(show(decideKeeper(Object.freeze(given)).steps), expected));

  it('an unsettled pass neither starts nor keeps a catch-up', () => {
    const plan = decideKeeper(input({ record: record(['paul'], 0), seen: seen('ANY 1 ("paul")', caughtUp), inFile: '', pending: passedPending }));
    assert.equal(plan.pending, null);
    assert.match(plan.sentence, /postgresql\.auto\.conf \(''\) is not the loaded 'ANY 1 \("paul"\)'/);
  });
});

/** etcd as the keeper reads it: john holds the master key and its lease L1, `record` is the cluster key's sync. */
function fakeEtcd(sync: SyncRecord) {
  const keys = etcdKeys('/t/');
  const kv = (key: string, value: unknown, lease = '0') => ({ key: Buffer.from(key), value: Buffer.from(JSON.stringify(value)), mod_revision: '7', create_revision: '3', lease });
  let writes = 0;
  const txn = (req: { compare: unknown[] }) => {
    if (req.compare.length > 0) {
      writes += 1;
      return Promise.resolve({ succeeded: true, header: { revision: '8' }, responses: [] });
    }
    const range = (kvs: unknown[]) => ({ response_range: { kvs } });
    return Promise.resolve({
      succeeded: true,
      header: { revision: '7' },
      responses: [
        range([kv(keys.master, masterRecord('john'))]),
        range([kv(keys.masterLease('john'), {}, 'L1')]),
        range([kv(keys.cluster, { format: 'handyrep-state', version: 1, sync })]),
        range([kv(keys.member('paul'), running('paul'))]),
        range([]),
        range([]),
      ],
    });
  };
  return { ctx: { client: { kv: { txn } }, keys } as unknown as EtcdContext, writes: () => writes };
}

/** The master's PostgreSQL as the keeper's session sees it; every statement is kept. */
function fakeMaster(state: { named: string; inFile: string | null; earlier: string | null }) {
  const said: string[] = [];
  const session: SqlSession = {
    query: <Row extends SqlRow>(text: string, params?: readonly unknown[]): Promise<Row[]> => {
      said.push(text);
      const answer = (rows: SqlRow[]): Promise<Row[]> => Promise.resolve(rows as Row[]);
      if (text.includes('pg_file_settings')) return answer([{ in_file: state.inFile, earlier: state.earlier }]);
      if (text.includes('pg_terminate_backend')) return answer([{ pg_terminate_backend: true }]);
      if (text.includes("current_setting('synchronous_standby_names')")) return answer([{ named: state.named, current: '0/3000000' }]);
      if (text.includes('pg_stat_replication')) return answer([{ name: 'paul', state: 'streaming', flush: '0/3000000' }]);
      if (text.startsWith('SELECT format(')) return answer([{ stmt: `ALTER SYSTEM SET synchronous_standby_names = '${String(params?.[1])}'` }]);
      return answer([]);
    },
    end: () => Promise.resolve(),
  };
  return { session, said };
}

describe('SyncKeeper: no write while the names are not settled', () => {
  const settings = { node: 'john', policy: ON, fileServers: { paul: candidateSettings }, callMs: 1000, newMasterMs: 0 };
  const hands = (session: SqlSession) => ({ lease: () => ({ id: 'L1', freshLeftMs: 60_000 }), sql: () => Promise.resolve(session), now: () => performance.now() });

  it('an earlier keeper backend still alive → it is asked to end; no ALTER, no record; said once', async () => {
    const etcd = fakeEtcd(record(['paul'], 0));
    const pg = fakeMaster({ named: 'ANY 1 ("paul")', inFile: '', earlier: '4242' });
    const lines: string[] = [];
    const keeper = new SyncKeeper(etcd.ctx, settings, hands(pg.session), (line) => lines.push(line));
    assert.equal(await keeper.step(), '');
    assert.equal(await keeper.step(), '');
    assert.equal(etcd.writes(), 0, 'nothing recorded');
    assert.equal(pg.said.filter((t) => t.includes('ALTER SYSTEM') || t.includes('pg_reload_conf')).length, 0, 'nothing applied');
    assert.equal(pg.said.filter((t) => t.includes('pg_terminate_backend')).length, 2, 'asked to end at each pass');
    assert.deepEqual(lines, ["agent john: synchronous set: an earlier keeper session's backend (pid 4242) is still alive on the master: asked to end, nothing written until it is gone"]);
  });

  it('a late ALTER landed in the file (file \'\' ≠ loaded) → the decided value applied again and reloaded, the quorum not raised; settled → raised after the catch-up', async () => {
    const etcd = fakeEtcd(record(['paul'], 0));
    const state = { named: 'ANY 1 ("paul")', inFile: '' as string | null, earlier: null };
    const pg = fakeMaster(state);
    const keeper = new SyncKeeper(etcd.ctx, settings, hands(pg.session), () => undefined);
    const first = await keeper.step();
    assert.match(first, /synchronous_standby_names = 'ANY 1 \("paul"\)'/);
    assert.ok(pg.said.some((t) => t.includes('pg_reload_conf')), 'reloaded');
    assert.equal(etcd.writes(), 0, 'no record in the unsettled pass');
    // The apply rewrote the file: settled. The catch-up starts now (not in the unsettled pass) and holds at once here.
    state.inFile = 'ANY 1 ("paul")';
    assert.equal(await keeper.step(), '');
    assert.equal(etcd.writes(), 0, 'the catch-up is started, not finished, in its first settled pass');
    assert.match(await keeper.step(), /recorded \[paul\] quorum 1/);
    assert.equal(etcd.writes(), 1);
  });
});

describe('SyncKeeper: a pass skipped for lease freshness says so once (review s8 N5)', () => {
  it('logged once while it lasts, nothing read', async () => {
    let fresh = 150;
    const lines: string[] = [];
    const ctx = { client: { kv: { txn: () => Promise.reject(new Error('not reached')) } }, keys: etcdKeys('/t/') } as unknown as EtcdContext;
    const keeper = new SyncKeeper(ctx, { node: 'john', policy: ON, fileServers: {}, callMs: 100, newMasterMs: 0 }, { lease: () => ({ id: 'L1', freshLeftMs: (fresh -= 10) }), sql: () => Promise.reject(new Error('not reached')), now: () => 0 }, (line) => lines.push(line));
    assert.equal(await keeper.step(), '');
    assert.equal(await keeper.step(), '');
    assert.deepEqual(lines, ['agent john: synchronous set: passes skipped: the master lease is fresh for less than the 200 ms a pass needs (what was pending is kept)']);
  });
});

describe('keeper session: the server-side bound is below the client deadline', () => {
  it('80 % of it (the server cancels first and the session is kept), at least 1 ms', () => {
    assert.equal(statementTimeoutMs(2000), 1600);
    assert.equal(statementTimeoutMs(1), 1);
  });
});
