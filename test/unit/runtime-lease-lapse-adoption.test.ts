/**
 * The lease-lapse judgement asks about an agents' master first (issue 14), over fakes, through the
 * same path as the failover check (runtime/topology/adopt-agents-master.ts agentsMasterFirst): a
 * confirmed agents' take is adopted and the lapsed master is not judged (no check, no failover); a
 * young unconfirmed take is waited on (promotion_in_flight, nothing judged); a stale unconfirmed
 * take, or a key read that fails, leaves the judgement as without agents (and the key was read).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { PortAnswer } from '../../src/engine/agents-master-adoption.js';
import type { MasterLeaseState } from '../../src/engine/failover-decision.js';
import { failure } from '../../src/model/rd.js';
import { makeServerStatus } from '../../src/model/status.js';
import { judgeLapsedMaster } from '../../src/runtime/lease-lapse-judgement.js';
import { serversFromConfig } from '../../src/runtime/state-sync.js';
import { adoptAgentsMaster, startedReads } from '../../src/runtime/topology/adopt-agents-master.js';
import type { TopologyEnv } from '../../src/runtime/topology/env.js';
import type { MasterRecord } from '../../src/store/etcd/master-record.js';
import { fakeCheckDeps, fakeJudgementCtx } from '../fixtures/fake-judgement-ctx.js';
import { fakeTopologyBase } from '../fixtures/fake-topology-env.js';

const CONFIG = parseConfig(
  [
    'handyrep: {store: etcd}',
    'etcd: {endpoints: ["http://127.0.0.1:2379"], ttl: 4}',
    'failover: {auto_failover: true, unreachable_master: agent_lease, fail_retries: 1, fail_retry_interval: 0.2}',
    'servers: {john: {hostname: h-john, role: master}, paul: {hostname: h-paul, role: replica}, george: {hostname: h-george, role: replica}}',
    '',
  ].join('\n'),
  'test.yaml',
);
const ELECTED: MasterRecord = { name: 'george', term: '33', timeline: 2, promoted_lsn: '0/5000060', sync_set: [], since: new Date().toISOString(), written_by: 'agent:george' };
/** george promoted by its agent; john's host lost (no answer); john's lease gone (the take required it). */
const ANSWERS: Record<string, PortAnswer> = { george: 'writable', john: 'no_answer' };
const LEASES: Record<string, 'held' | 'absent'> = { george: 'held', john: 'absent' };

interface Lapse {
  details: string;
  reasonCode: string | undefined;
  master: string | null;
  events: string[];
  failovers: string[];
}

/** john's lease lapsed; `key` is what the `master` key read gives (or how it fails). */
async function lapse(key: () => Promise<MasterRecord | null>): Promise<Lapse> {
  const now = new Date().toISOString();
  const servers = serversFromConfig(CONFIG, now);
  for (const s of Object.values(servers)) Object.assign(s, makeServerStatus('healthy', 'test', now));
  const { base, book, done } = fakeTopologyBase(servers);
  const events: string[] = [];
  const failovers: string[] = [];
  const ctx = fakeJudgementCtx(CONFIG, events);
  const released: MasterLeaseState = 'released';
  const env = {
    ...base,
    mayAct: () => null,
    sleep: async () => undefined,
    ctx: () => ctx,
    plugins: { get: () => ({ control: async () => ({ ok: false, details: 'ssh: connect timed out' }) }) },
    masterLease: { state: async () => released, noteHealthy: async () => undefined },
    agentVantage: async () => ({ records: [], revision: '10' }),
    checks: {
      pollAll: async () => failure('master john failed its check: no answer', { failover_ok: true, servers: {} }),
      pollServer: async (name: string) => (events.push(`check ${name}`), failure('no answer', { status: 'unavailable' })),
      verifyServer: async () => failure('no answer', { status: 'unavailable' }),
    },
  } as unknown as TopologyEnv;
  const deps = fakeCheckDeps(env, {
    topology: async () => (failovers.push('failover'), failure('the master key refused: master_lease/george is held')),
    startAdoption: () => {
      events.push('key read');
      const reads = startedReads({ masterRecord: key, lease: async (n) => LEASES[n] ?? 'absent' });
      const ask = async (name: string): Promise<PortAnswer> => ANSWERS[name] ?? 'no_answer';
      return () => adoptAgentsMaster(env, reads, { lastRefusal: null }, { ask, otherWritable: async () => [] });
    },
  });
  try {
    const rd = await judgeLapsedMaster(deps, 'john');
    return { details: rd.details, reasonCode: rd.reason_code, master: book.masterName(), events, failovers };
  } finally {
    done();
  }
}

test("lapse: a confirmed agents' take is adopted; the lapsed master is not judged (no check, no failover)", async () => {
  const l = await lapse(async () => ELECTED);
  assert.equal(l.master, 'george', l.details);
  assert.match(l.details, /adopted after the agents' election: george/);
  assert.deepEqual(l.failovers, []);
  assert.deepEqual(l.events.filter((e) => e.startsWith('check')), [], l.events.join(' | '));
});

test("lapse: a young unconfirmed take (the agents' promotion in flight) → not judged, reason promotion_in_flight", async () => {
  const l = await lapse(async () => ({ ...ELECTED, timeline: null, promoted_lsn: null, since: new Date(Date.now() - 5000).toISOString() }));
  assert.equal(l.master, 'john', 'nothing adopted yet');
  assert.equal(l.reasonCode, 'promotion_in_flight', l.details);
  assert.match(l.details, /not judging john until it is/);
  assert.deepEqual(l.failovers, []);
  assert.deepEqual(l.events.filter((e) => e.startsWith('check')), [], l.events.join(' | '));
});

test('lapse: an unconfirmed take past its confirm deadline → the key was read, and john is judged as without agents', async () => {
  const l = await lapse(async () => ({ ...ELECTED, timeline: null, promoted_lsn: null, since: new Date(Date.now() - 5 * 60_000).toISOString() }));
  assert.equal(l.master, 'john');
  assert.ok(l.events.includes('key read'), l.events.join(' | '));
  assert.ok(l.events.includes('check john'), `judged: ${l.events.join(' | ')}`);
  assert.notEqual(l.reasonCode, 'promotion_in_flight');
});

test('lapse: a key read that fails (etcd past its bound) adopts nothing; the key was asked, the judgement goes on', async () => {
  const l = await lapse(async () => {
    throw new Error('STORE_UNREACHABLE: etcd did not answer within 1000 ms (read the master key)');
  });
  assert.equal(l.master, 'john');
  assert.ok(l.events.includes('key read'), l.events.join(' | '));
  assert.ok(l.events.includes('check john'), `judged: ${l.events.join(' | ')}`);
});
