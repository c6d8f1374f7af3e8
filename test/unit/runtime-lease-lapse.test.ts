/**
 * The judgement the lapse of the master's agent lease starts (runtime/lease-lapse-judgement.ts),
 * over fakes: it reuses the facts of the episode's failed check (no probe waits again), asks the
 * agents' records and the lease again, and fails over only as decideFailover says; without kept
 * facts (or with facts older than one lease TTL) it probes anew.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import type { MasterLeaseState } from '../../src/engine/failover-decision.js';
import type { AgentVantageRecord } from '../../src/engine/agent-vantage.js';
import { failure, success } from '../../src/model/rd.js';
import { makeServerStatus } from '../../src/model/status.js';
import { failoverCheck, RecentMasterFacts, type FailoverCheckDeps } from '../../src/runtime/failover-check.js';
import { judgeLapsedMaster } from '../../src/runtime/lease-lapse-judgement.js';
import { serversFromConfig } from '../../src/runtime/state-sync.js';
import type { TopologyEnv } from '../../src/runtime/topology/env.js';
import { fakeCheckDeps, fakeJudgementCtx } from '../fixtures/fake-judgement-ctx.js';
import { fakeTopologyBase } from '../fixtures/fake-topology-env.js';

const CONFIG = parseConfig(
  [
    'handyrep: {store: etcd}',
    'etcd: {endpoints: ["http://127.0.0.1:2379"], ttl: 4}',
    'failover: {auto_failover: true, agent_vantage: true, unreachable_master: agent_lease, fail_retries: 1, fail_retry_interval: 0.2}',
    'servers: {john: {hostname: h-john, role: master}, paul: {hostname: h-paul, role: replica}, george: {hostname: h-george, role: replica}}',
    '',
  ].join('\n'),
  'test.yaml',
);

interface Bed {
  deps: FailoverCheckDeps;
  events: string[];
  failovers: string[];
  lease: { state: MasterLeaseState };
  records: AgentVantageRecord[];
  clock: { ms: number };
  done: () => void;
}

function bed(): Bed {
  const now = new Date().toISOString();
  const servers = serversFromConfig(CONFIG, now);
  for (const s of Object.values(servers)) Object.assign(s, makeServerStatus('healthy', 'test', now));
  const { base, done } = fakeTopologyBase(servers);
  const events: string[] = [];
  const failovers: string[] = [];
  const lease = { state: 'held' as MasterLeaseState };
  const records: AgentVantageRecord[] = [];
  const clock = { ms: 0 };
  const ctx = fakeJudgementCtx(CONFIG, events);
  // No control channel to john's host (reach: none).
  const restart = { control: async () => (events.push('control channel'), { ok: false, details: 'ssh: connect timed out' }) };
  const env = {
    ...base,
    sleep: async () => undefined,
    ctx: () => ctx,
    plugins: { get: () => restart },
    masterLease: { state: async () => lease.state, noteHealthy: async () => undefined },
    agentVantage: async () => (events.push('agent records'), { records, revision: '10' }),
    checks: {
      pollAll: async () => failure('master john failed its check: no answer', { failover_ok: true, servers: {} }),
      pollServer: async () => failure('no answer', { status: 'unavailable' }),
    },
  } as unknown as TopologyEnv;
  const deps = fakeCheckDeps(env, {
    topology: async () => (failovers.push('failover'), success('failed over from john to george')),
    recentFacts: new RecentMasterFacts(() => clock.ms),
  });
  return { deps, events, failovers, lease, records, clock, done };
}

test("after a check found the master unanswering, the lapse fails over on its facts: the replica hosts' probes are not waited out again", async () => {
  const b = bed();
  try {
    const first = await failoverCheck(b.deps, false);
    assert.equal(first.reason_code, 'master_lease_held', first.details);
    assert.deepEqual(b.failovers, []);
    b.events.length = 0;
    b.lease.state = 'released';
    b.clock.ms += 2000;
    const rd = await judgeLapsedMaster(b.deps, 'john');
    assert.equal(rd.result, 'SUCCESS', rd.details);
    assert.deepEqual(b.failovers, ['failover']);
    assert.deepEqual(b.events, ['agent records'], `only the agents' records are read again: ${b.events.join(' | ')}`);
  } finally {
    b.done();
  }
});

test('a gathering still running is awaited, not started again; its control channel question is asked again (short deadline)', async () => {
  const b = bed();
  try {
    let answer: () => void = () => undefined;
    const probing = new Promise<void>((r) => (answer = r));
    const env = b.deps.env();
    const shells = env.ctx() as unknown as { shellFor: (s: { name: string }) => { run: () => Promise<unknown> } };
    const shellFor = shells.shellFor;
    // The replica hosts' probes hang until `answer` (a connect timeout being waited out).
    shells.shellFor = (s) => ({ run: async () => (await probing, shellFor(s).run()) });
    const check = failoverCheck(b.deps, false);
    await new Promise((r) => setTimeout(r, 20));
    b.events.length = 0;
    b.lease.state = 'released';
    const lapse = judgeLapsedMaster(b.deps, 'john');
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(b.failovers, [], 'waits for the probes already running');
    answer();
    const rd = await lapse;
    await check;
    assert.equal(rd.result, 'SUCCESS', rd.details);
    assert.ok(b.failovers.length >= 1);
    assert.equal(b.events.filter((e) => e === 'control channel').length >= 1, true, b.events.join(' | '));
    assert.equal(b.events.filter((e) => e.startsWith('probe')).length, 2, `the running probes answered once each, none started again: ${b.events.join(' | ')}`);
  } finally {
    b.done();
  }
});

test('the lease still held at the judgement (a put came back): no failover', async () => {
  const b = bed();
  try {
    await failoverCheck(b.deps, false);
    const rd = await judgeLapsedMaster(b.deps, 'john');
    assert.equal(rd.reason_code, 'master_lease_held', rd.details);
    assert.deepEqual(b.failovers, []);
  } finally {
    b.done();
  }
});

test("an agent that sees the master now holds the failover (the late read of the agents' records)", async () => {
  const b = bed();
  try {
    await failoverCheck(b.deps, false);
    b.lease.state = 'released';
    b.records.push({ name: 'paul', master_probed: 'john', sees_master: true, sees_master_detail: 'answers', probe_revision: '9' });
    const rd = await judgeLapsedMaster(b.deps, 'john');
    assert.notEqual(rd.reason_code, 'master_failed_lease_released', rd.details);
    assert.deepEqual(b.failovers, []);
  } finally {
    b.done();
  }
});

test('no facts kept (a crash: the lease went before any check failed) → the vantage points are asked now', async () => {
  const b = bed();
  try {
    b.lease.state = 'released';
    const rd = await judgeLapsedMaster(b.deps, 'john');
    assert.equal(rd.result, 'SUCCESS', rd.details);
    assert.equal(b.events.filter((e) => e.startsWith('probe')).length, 2, b.events.join(' | '));
    assert.deepEqual(b.failovers, ['failover']);
  } finally {
    b.done();
  }
});

test('facts older than one lease TTL are not reused', async () => {
  const b = bed();
  try {
    await failoverCheck(b.deps, false);
    b.events.length = 0;
    b.lease.state = 'released';
    b.clock.ms += 4001;
    await judgeLapsedMaster(b.deps, 'john');
    assert.equal(b.events.filter((e) => e.startsWith('probe')).length, 2, b.events.join(' | '));
  } finally {
    b.done();
  }
});

test('a master that answered since forgets the kept facts', async () => {
  const b = bed();
  try {
    await failoverCheck(b.deps, false);
    const env = b.deps.env();
    (env.checks as { pollAll: () => Promise<unknown> }).pollAll = async () => success('all answer', { failover_ok: true, servers: {} });
    await failoverCheck(b.deps, false);
    assert.equal(b.deps.recentFacts?.get('john', 10_000, b.deps.env().book.topologyRevision), undefined);
  } finally {
    b.done();
  }
});

test('facts kept under other server definitions are not reused: the replicas enabled now are asked', async () => {
  const b = bed();
  try {
    await failoverCheck(b.deps, false);
    const { book } = b.deps.env();
    book.putServer('george', { ...book.get('george'), failover_priority: 5 }, 'test: definitions changed');
    b.events.length = 0;
    b.lease.state = 'released';
    await judgeLapsedMaster(b.deps, 'john');
    assert.equal(b.events.filter((e) => e.startsWith('probe')).length, 2, b.events.join(' | '));
  } finally {
    b.done();
  }
});

test('no failed check kept and the master answers the controller\'s own check (an agent revoke after a stop outside HandyRep): no judgement', async () => {
  const b = bed();
  try {
    const env = b.deps.env();
    (env.checks as unknown as { pollServer: () => Promise<unknown> }).pollServer = async () => success('john responds to polling', { status: 'healthy' });
    b.lease.state = 'released';
    const rd = await judgeLapsedMaster(b.deps, 'john');
    assert.match(rd.details, /answers its check/);
    assert.deepEqual(b.failovers, []);
    assert.equal(b.events.filter((e) => e.startsWith('probe')).length, 0, b.events.join(' | '));
  } finally {
    b.done();
  }
});

test('a master that answers on a retry forgets the kept facts', async () => {
  const b = bed();
  try {
    const env = b.deps.env();
    (env.checks as unknown as { pollServer: () => Promise<unknown> }).pollServer = async () => success('john responds to polling', { status: 'healthy' });
    const rd = await failoverCheck(b.deps, false);
    assert.match(rd.details, /answered on retry/);
    assert.equal(b.deps.recentFacts?.get('john', 10_000, env.book.topologyRevision), undefined);
  } finally {
    b.done();
  }
});

test('a second judgement of the episode whose failover is queued behind the first is called off without a topology change', async () => {
  const b = bed();
  try {
    await failoverCheck(b.deps, false);
    b.lease.state = 'released';
    const { book } = b.deps.env();
    // The other judgement's failover ran while this one waited in the action queue: john is no longer the master.
    b.deps.mutate = async (run) => {
      book.putServer('john', { ...book.get('john'), enabled: false, fenced: true }, 'test: failed over meanwhile');
      return run();
    };
    const rd = await judgeLapsedMaster(b.deps, 'john');
    assert.equal(rd.reason_code, 'stale_verdict', rd.details);
    assert.deepEqual(b.failovers, [], 'no topology change (no failover event) for the no-op');
  } finally {
    b.done();
  }
});

/**
 * The crash statement (engine/crash-statement.ts): with no failed check kept, the check retries are
 * skipped only when the master's member record as of the lapse says `crashed` and was written at
 * the lapse's own revision (the agent's release transaction); the check itself and the judgement stay.
 */
const crashRows: [label: string, lapse: { revision: string | null; record: { postgres: string | null; modRevision: string } | null | Error } | undefined, polls: number][] = [
  ['record says crashed, written with the release (same revision) → no retries', { revision: '41', record: { postgres: 'crashed', modRevision: '41' } }, 1],
  ['record says crashed, written at an older revision → retries run', { revision: '41', record: { postgres: 'crashed', modRevision: '37' } }, 2],
  ['record says running at the lapse → retries run', { revision: '41', record: { postgres: 'running', modRevision: '41' } }, 2],
  ['record says stopped (a stop outside HandyRep) → retries run', { revision: '41', record: { postgres: 'stopped', modRevision: '41' } }, 2],
  ['no record at the lapse → retries run', { revision: '41', record: null }, 2],
  ['record unreadable (compacted, etcd error) → retries run', { revision: '41', record: new Error('mvcc: required revision has been compacted') }, 2],
  ['lapse revision unknown → retries run', { revision: null, record: { postgres: 'crashed', modRevision: '41' } }, 2],
  ['no lapse facts at all → retries run', undefined, 2],
];

for (const [label, lapse, polls] of crashRows) {
  test(`crash statement: ${label}`, async () => {
    const b = bed();
    try {
      const env = b.deps.env();
      const seen: string[] = [];
      (env.checks as unknown as { pollServer: () => Promise<unknown> }).pollServer = async () => (seen.push('poll'), failure('refused', { status: 'down' }));
      (env as unknown as { sleep: () => Promise<void> }).sleep = async () => void seen.push('sleep');
      b.lease.state = 'released';
      const read = lapse?.record;
      const facts =
        lapse === undefined
          ? undefined
          : {
              revision: lapse.revision,
              recordAt: async (at: string) => {
                assert.equal(at, lapse.revision, 'read as of the lapse');
                if (read instanceof Error) throw read;
                return read ?? null;
              },
            };
      const rd = await judgeLapsedMaster(b.deps, 'john', facts);
      assert.equal(rd.result, 'SUCCESS', rd.details);
      assert.deepEqual(b.failovers, ['failover'], 'the judgement and its failover are the same either way');
      assert.equal(seen.filter((e) => e === 'poll').length, polls, seen.join(' | '));
      assert.equal(seen.filter((e) => e === 'sleep').length, polls - 1, seen.join(' | '));
    } finally {
      b.done();
    }
  });
}

test('crash statement: facts of a failed check kept → no record read (nothing to skip)', async () => {
  const b = bed();
  try {
    await failoverCheck(b.deps, false);
    b.lease.state = 'released';
    let reads = 0;
    await judgeLapsedMaster(b.deps, 'john', { revision: '41', recordAt: async () => (reads++, { postgres: 'crashed', modRevision: '41' }) });
    assert.equal(reads, 0);
  } finally {
    b.done();
  }
});

test('crash statement: the lease still held at the judgement → no failover although the record says crashed', async () => {
  const b = bed();
  try {
    const rd = await judgeLapsedMaster(b.deps, 'john', { revision: '41', recordAt: async () => ({ postgres: 'crashed', modRevision: '41' }) });
    assert.equal(rd.reason_code, 'master_lease_held', rd.details);
    assert.deepEqual(b.failovers, []);
  } finally {
    b.done();
  }
});

test("the failover's stale check is asked in the action queue without waiting for a state save (queued, not mutate)", async () => {
  const b = bed();
  try {
    b.lease.state = 'released';
    const used: string[] = [];
    const mutate = b.deps.mutate;
    b.deps.mutate = async (run) => (used.push('mutate'), mutate(run));
    b.deps.queued = async (run) => (used.push('queued'), run());
    const rd = await judgeLapsedMaster(b.deps, 'john');
    assert.equal(rd.result, 'SUCCESS', rd.details);
    assert.deepEqual(b.failovers, ['failover']);
    assert.deepEqual(used, ['queued'], 'a save in flight (a table write to the dead master) does not delay the failover');
  } finally {
    b.done();
  }
});
