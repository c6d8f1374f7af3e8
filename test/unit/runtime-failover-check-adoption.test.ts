/**
 * The failover check adopting an agents' master (issue 14), over fakes: when the master fails its
 * check and the `master` key names another master an agents' election made (verified), the check
 * adopts it instead of judging the book's master; the key's read starts before the state save, not
 * after it; a read that fails (a slow etcd past its bound) adopts nothing and the judgement goes on.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { PortAnswer } from '../../src/engine/agents-master-adoption.js';
import { failure } from '../../src/model/rd.js';
import { makeServerStatus } from '../../src/model/status.js';
import { failoverCheck } from '../../src/runtime/failover-check.js';
import { serversFromConfig } from '../../src/runtime/state-sync.js';
import { EtcdControl } from '../../src/runtime/leadership/etcd-control.js';
import { ADOPTION_CHECK_READ_MS, adoptAgentsMaster, startedReads } from '../../src/runtime/topology/adopt-agents-master.js';
import type { TopologyEnv } from '../../src/runtime/topology/env.js';
import type { EtcdContext } from '../../src/store/etcd/client.js';
import type { EtcdClusterStore } from '../../src/store/etcd/etcd-cluster-store.js';
import type { EtcdLeadership } from '../../src/store/etcd/leadership.js';
import type { MasterRecord } from '../../src/store/etcd/master-record.js';
import { fakeCheckDeps, fakeJudgementCtx } from '../fixtures/fake-judgement-ctx.js';
import { fakeTopologyBase } from '../fixtures/fake-topology-env.js';

const CONFIG = parseConfig(
  'failover: {auto_failover: false, fail_retries: 1, fail_retry_interval: 0.2}\nservers: {john: {hostname: h-john, role: master}, paul: {hostname: h-paul, role: replica}, george: {hostname: h-george, role: replica}}\n',
  'test.yaml',
);
const ELECTED: MasterRecord = { name: 'george', term: '33', timeline: 2, promoted_lsn: '0/5000060', sync_set: [], since: '2026-12-04T20:00:00.000Z', written_by: 'agent:george' };
const ANSWERS: Record<string, PortAnswer> = { george: 'writable', john: 'refused' };

/** One check cycle where john fails its poll; `key` is what the `master` key read gives (or how it fails). */
async function cycle(key: () => Promise<MasterRecord | null>, queueBusy = false): Promise<{ events: string[]; details: string; master: string | null; done: () => void }> {
  const now = new Date().toISOString();
  const servers = serversFromConfig(CONFIG, now);
  for (const s of Object.values(servers)) Object.assign(s, makeServerStatus('healthy', 'test', now));
  const { base, book, done } = fakeTopologyBase(servers);
  const events: string[] = [];
  const ctx = fakeJudgementCtx(CONFIG, events);
  const env = {
    ...base,
    mayAct: () => null,
    sleep: async () => {
      events.push('retry wait');
      await new Promise((r) => setImmediate(r));
    },
    ctx: () => ctx,
    plugins: { get: () => ({ control: async () => ({ ok: true, running: false, details: 'not running' }) }) },
    checks: {
      pollAll: async () => failure('master john failed its check: refused', { failover_ok: true, servers: {} }),
      pollServer: async () => failure('refused', { status: 'down' }),
      verifyServer: async () => failure('refused', { status: 'down' }),
    },
  } as unknown as TopologyEnv;
  // A busy action queue (an operator's call, the sync maintenance) that does not free during the check.
  const alone = queueBusy ? <T>(): Promise<T> => new Promise<T>(() => undefined) : <T>(run: () => Promise<T>): Promise<T> => run();
  const deps = fakeCheckDeps(env, {
    mutate: alone,
    flush: async () => {
      events.push('state saved');
    },
    startAdoption: () => {
      events.push('key read started');
      const reads = startedReads({ masterRecord: key, lease: async () => 'held' });
      const ask = async (name: string): Promise<PortAnswer> => ANSWERS[name] ?? 'no_answer';
      return () => adoptAgentsMaster(env, reads, { lastRefusal: null }, { ask, otherWritable: async () => [], alone });
    },
  });
  const rd = await failoverCheck(deps, false);
  return { events, details: rd.details, master: book.masterName(), done };
}

test("failover check: the agents' master is adopted instead of judging the book's master (no retries, no failover)", async () => {
  const c = await cycle(async () => ELECTED);
  try {
    assert.equal(c.master, 'george');
    assert.match(c.details, /adopted after the agents' election: george/);
    assert.deepEqual(c.events.filter((e) => e === 'retry wait'), [], c.events.join(' | '));
    assert.ok(c.events.indexOf('key read started') < c.events.indexOf('state saved'), `the key read starts before the state save: ${c.events.join(' | ')}`);
  } finally {
    c.done();
  }
});

test('failover check: a key read that fails (etcd past the bound) adopts nothing, and the judgement goes on', async () => {
  const c = await cycle(async () => {
    throw new Error('STORE_UNREACHABLE: etcd did not answer within 1000 ms (read the master key)');
  });
  try {
    assert.equal(c.master, 'john');
    assert.ok(c.events.includes('retry wait'), `the master is judged: ${c.events.join(' | ')}`);
    assert.doesNotMatch(c.details, /adopted/);
  } finally {
    c.done();
  }
});

test("failover check: a key naming the book's master adopts nothing, the judgement goes on", async () => {
  const c = await cycle(async () => ({ ...ELECTED, name: 'john', written_by: 'ctl-a' }));
  try {
    assert.equal(c.master, 'john');
    assert.ok(c.events.includes('retry wait'), c.events.join(' | '));
  } finally {
    c.done();
  }
});

test("failover check: with the action queue busy, a key naming the book's master does not wait for it: the judgement starts", async () => {
  const c = await cycle(async () => ({ ...ELECTED, name: 'john', written_by: 'ctl-a' }), true);
  try {
    assert.ok(c.events.includes('retry wait'), c.events.join(' | '));
  } finally {
    c.done();
  }
});

test("failover check: an agents' promotion in flight (unconfirmed take, 5 s old, lease held) → the book's master is not judged (no retries, no failover), a reason says why", async () => {
  const inFlight = { ...ELECTED, timeline: null, promoted_lsn: null, since: new Date(Date.now() - 5000).toISOString() };
  const c = await cycle(async () => inFlight);
  try {
    assert.equal(c.master, 'john', 'nothing adopted yet');
    assert.deepEqual(c.events.filter((e) => e === 'retry wait'), [], c.events.join(' | '));
    assert.match(c.details, /its take 5 s ago is not confirmed yet .*not judging john until it is/);
  } finally {
    c.done();
  }
});

test("failover check: an unconfirmed take past its confirm deadline (the agent's promote wait + ttl) → the book's master is judged as before", async () => {
  const stale = { ...ELECTED, timeline: null, promoted_lsn: null, since: new Date(Date.now() - 5 * 60_000).toISOString() };
  const c = await cycle(async () => stale);
  try {
    assert.equal(c.master, 'john');
    assert.ok(c.events.includes('retry wait'), `the master is judged: ${c.events.join(' | ')}`);
    assert.doesNotMatch(c.details, /not judging/);
  } finally {
    c.done();
  }
});

test("failover check: the adoption's etcd reads give up after ADOPTION_CHECK_READ_MS, not the etcd deadline", async () => {
  // An etcd that never answers, with a 10 s deadline (retry_timeout's default).
  const silent = { kv: { range: () => new Promise(() => undefined) } };
  const keys = { master: '/t/master', masterLease: (n: string) => `/t/master_lease/${n}` };
  const ctx = { client: silent, keys, deadlineMs: 10_000 } as unknown as EtcdContext;
  const control = new EtcdControl(ctx, { onLost: () => undefined } as unknown as EtcdLeadership, null as unknown as EtcdClusterStore, 'ctl-a', 1000);
  const reads = control.agentsMasterReads(ADOPTION_CHECK_READ_MS);
  const started = Date.now();
  await assert.rejects(reads.masterRecord(), /within 1000 ms/);
  assert.equal(await reads.lease('george'), 'unknown', 'a lease read past the bound is unknown');
  // Generous: two bounded reads on a loaded machine, far below the 10 s deadline.
  assert.ok(Date.now() - started < 6000, `took ${Date.now() - started} ms`);
});
