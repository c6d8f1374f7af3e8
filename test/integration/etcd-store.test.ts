/**
 * Term-guarded writes and the etcd ClusterStore on a real etcd (design §9 rule 2): a deposed
 * leader's write fails with NOT_LEADER and changes nothing (value and mod revision of the key
 * unchanged); the store round-trips the saved state, the journal and the leadership history; a
 * corrupt journal is refused with an error naming the key.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { FailoverRecord } from '../../src/model/failover-record.js';
import { HandyRepError } from '../../src/model/errors.js';
import { createEtcdContext, type EtcdContext } from '../../src/store/etcd/client.js';
import { EtcdClusterStore } from '../../src/store/etcd/etcd-cluster-store.js';
import { termGuardedWrite } from '../../src/store/etcd/guarded-txn.js';
import type { Term } from '../../src/store/etcd/leader-record.js';
import { EtcdLeadership } from '../../src/store/etcd/leadership.js';
import type { SavedState } from '../../src/store/saved-state.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';

let etcd: EtcdCluster;
const contexts: EtcdContext[] = [];

function context(prefix: string, ttl = 2): EtcdContext {
  const ctx = createEtcdContext(
    parseConfig(JSON.stringify({ handyrep: { store: 'etcd' }, etcd: { endpoints: etcd.endpoints, prefix, ttl, retry_timeout: 2 } }), 'test'),
  );
  contexts.push(ctx);
  return ctx;
}

async function readKey(ctx: EtcdContext, key: string): Promise<{ value: string; modRevision: string } | null> {
  const reply = await ctx.client.kv.range({ key: Buffer.from(key) });
  const kv = reply.kvs[0];
  return kv ? { value: kv.value.toString(), modRevision: kv.mod_revision } : null;
}

const isCode = (code: string, message?: RegExp) => (err: unknown): boolean =>
  err instanceof HandyRepError && err.code === code && (message === undefined || message.test(err.message));

function record(id: string, outcome: FailoverRecord['outcome'] = 'SUCCESS'): FailoverRecord {
  return {
    id, kind: 'failover', reason: 'master john is down', started: '2026-12-04T03:00:00.000Z', finished: outcome === 'RUNNING' ? null : '2026-12-04T03:00:05.000Z',
    duration_ms: 5000, from: 'john', to: 'paul', outcome, details: '',
    steps: [{ name: 'promote', server: 'paul', started: '2026-12-04T03:00:01.000Z', finished: null, outcome: 'running', details: '' }],
  };
}

function state(version: number, servers: string[], history: FailoverRecord[]): SavedState {
  return {
    format: 'handyrep-state', version, updated_ms: 1_700_000_000_000 + version,
    servers: Object.fromEntries(servers.map((name) => [name, { hostname: `${name}.test`, role: 'replica', status: 'healthy' }])) as unknown as SavedState['servers'],
    status: { status: 'healthy', status_no: 1, status_ts: '2026-12-04T03:00:00.000Z', status_message: 'ok' } as unknown as SavedState['status'],
    history,
  };
}

before(async () => {
  etcd = await startEtcdCluster({ members: 1 });
});
after(async () => {
  for (const ctx of contexts) ctx.close();
  await etcd?.stop();
});

describe('term-guarded writes', () => {
  it('a deposed leader\'s write fails with NOT_LEADER, reports the loss, and writes nothing', async () => {
    const prefix = '/handyrep/deposed/';
    const ctxA = context(prefix);
    const ctxB = context(prefix);
    const a = new EtcdLeadership(ctxA, { controllerId: 'ctl-a', apiUrl: null });
    const b = new EtcdLeadership(ctxB, { controllerId: 'ctl-b', apiUrl: null });
    const termA = await a.campaign();
    await termGuardedWrite(ctxA, a, 'write the master', [{ kind: 'put', key: ctxA.keys.master, value: '{"name":"john"}' }]);
    const before = await readKey(ctxA, ctxA.keys.master);
    assert.equal(before?.value, '{"name":"john"}', 'the leader\'s write is applied');

    // A stalls (as a frozen process would): it keeps its old term in hand but learns nothing.
    const stale: Term = termA;
    const losses: string[] = [];
    const staleGuard = { current: stale, markLost: (reason: string) => void losses.push(reason) };
    a.release();
    // Its lease is revoked meanwhile (as if it expired) and B takes over.
    await ctxB.client.leaseClient.leaseRevoke({ ID: stale.leaseId });
    const termB = await b.campaign();
    assert.ok(BigInt(termB.term) > BigInt(stale.term));

    await assert.rejects(
      termGuardedWrite(ctxA, staleGuard, 'write the master', [
        { kind: 'put', key: ctxA.keys.master, value: '{"name":"paul"}' },
        { kind: 'delete', key: ctxA.keys.journal },
      ]),
      isCode('NOT_LEADER', /no longer leads \(term \d+\): the leader key was re-created \(term \d+, ours was \d+\); nothing was written/),
    );
    assert.equal(losses.length, 1, 'the loss is reported once, at once');
    assert.deepEqual(await readKey(ctxA, ctxA.keys.master), before, 'value and mod revision unchanged');

    // The same holds when the leader key is simply gone (nobody leads).
    await b.resign();
    await assert.rejects(
      termGuardedWrite(ctxA, staleGuard, 'write the master', [{ kind: 'put', key: ctxA.keys.master, value: '{"name":"ringo"}' }]),
      isCode('NOT_LEADER', /the leader key is gone/),
    );
    assert.deepEqual(await readKey(ctxA, ctxA.keys.master), before);
  });

  it('a leader that learned of its loss refuses to write without asking etcd', async () => {
    const ctx = context('/handyrep/learned/');
    const a = new EtcdLeadership(ctx, { controllerId: 'ctl-a', apiUrl: null });
    const losses: string[] = [];
    a.onLost((loss) => losses.push(loss.reason));
    await a.campaign();
    // Somebody deletes the leader key: the watch tells A.
    await ctx.client.kv.deleteRange({ key: Buffer.from(ctx.keys.leader) });
    const deadline = Date.now() + 2000;
    while (a.current !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(a.current, null, 'the watch reported the loss');
    assert.match(losses[0] ?? '', /the leader key is gone/);
    const store = new EtcdClusterStore(ctx, a);
    await assert.rejects(store.writeJournal(record('j1', 'RUNNING')), isCode('NOT_LEADER', /does not lead/));
    assert.equal(await readKey(ctx, ctx.keys.journal), null);
  });
});

describe('EtcdClusterStore', () => {
  it('round-trips the saved state over cluster, servers/<name> and history/<id>', async () => {
    const ctx = context('/handyrep/roundtrip/');
    const leadership = new EtcdLeadership(ctx, { controllerId: 'ctl-a', apiUrl: null });
    await leadership.campaign();
    const store = new EtcdClusterStore(ctx, leadership);
    // Read through a function: after an assertion on the getter, TypeScript would narrow it for good.
    const lastRead = (): { revision: string; atMs: number } | null => store.lastRead;
    assert.equal(lastRead(), null);
    assert.deepEqual(await store.readState(), { kind: 'missing' });
    const emptyRead = lastRead();
    assert.ok(emptyRead && Date.now() - emptyRead.atMs < 1000, 'a read records its revision and time');

    const first = state(1, ['john', 'paul', 'george'], [record('h1'), record('h2')]);
    await store.writeState(first);
    assert.deepEqual(await store.readState(), { kind: 'ok', state: first });
    assert.ok(BigInt(lastRead()?.revision ?? '0') > BigInt(emptyRead.revision), 'the revision read grows with the writes');
    assert.ok(await readKey(ctx, ctx.keys.server('paul')), 'one key per server');
    assert.ok(await readKey(ctx, ctx.keys.history('h2')), 'one key per history record');

    // A server removed, the oldest record trimmed, a record added: etcd follows.
    const second = state(2, ['john', 'george'], [record('h2'), record('h3')]);
    await store.writeState(second);
    assert.deepEqual(await store.readState(), { kind: 'ok', state: second });
    assert.equal(await readKey(ctx, ctx.keys.server('paul')), null);
    assert.equal(await readKey(ctx, ctx.keys.history('h1')), null);

    // The synchronous standby record and its changes travel with the cluster head.
    const sync = { members: ['george'], quorum: 1, master: 'john', at: '2026-12-04T10:00:00.000Z', reason: 'test' };
    const third = { ...state(3, ['john', 'george'], [record('h2'), record('h3')]), sync, sync_history: [sync] };
    await store.writeState(third);
    assert.deepEqual(await store.readState(), { kind: 'ok', state: third });

    // A corrupt server record makes the state invalid, with the key named.
    await ctx.client.kv.put({ key: Buffer.from(ctx.keys.server('john')), value: Buffer.from('{broken') });
    const read = await store.readState();
    assert.equal(read.kind, 'invalid');
    assert.match(read.kind === 'invalid' ? read.reason : '', /etcd key \/handyrep\/roundtrip\/servers\/john is not a server record/);
    await leadership.resign();
  });

  it('journal: write, read, clear; a corrupt journal is refused with a clear error', async () => {
    const ctx = context('/handyrep/journal/');
    const leadership = new EtcdLeadership(ctx, { controllerId: 'ctl-a', apiUrl: null });
    await leadership.campaign();
    const store = new EtcdClusterStore(ctx, leadership);
    assert.equal(await store.readJournal(), null);
    const running = record('j1', 'RUNNING');
    await store.writeJournal(running);
    assert.deepEqual(await store.readJournal(), running);
    await store.clearJournal();
    assert.equal(await store.readJournal(), null);

    for (const [value, why] of [['{"id": "j1", "kind": "fail', /is not valid JSON/], ['[1, 2]', /is not a failover record/], ['', /is not valid JSON/]] as const) {
      await ctx.client.kv.put({ key: Buffer.from(ctx.keys.journal), value: Buffer.from(value) });
      await assert.rejects(store.readJournal(), isCode('STORE_DATA', new RegExp(`the failover journal \\(etcd key /handyrep/journal/journal\\) ${why.source}.*repair or delete it`)));
    }
    await leadership.resign();
  });

  it('leadership history: entries come back oldest first', async () => {
    const ctx = context('/handyrep/controllers/');
    const leadership = new EtcdLeadership(ctx, { controllerId: 'ctl-a', apiUrl: null });
    const term = await leadership.campaign();
    const store = new EtcdClusterStore(ctx, leadership);
    const first = { at: '2026-12-04T03:00:00.000Z', controller_id: 'ctl-a', event: 'leading' as const, term: term.term, details: 'won' };
    const second = { at: '2026-12-04T03:00:01.000Z', controller_id: 'ctl-a', event: 'resigned' as const, term: term.term, details: 'shutdown' };
    await store.recordControllerEvent(second);
    await store.recordControllerEvent(first);
    assert.deepEqual(await store.readControllerHistory(), [first, second]);
    await leadership.resign();
  });
});
