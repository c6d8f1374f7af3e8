/**
 * Recovery of an interrupted failover over fakes (no PostgreSQL): what the servers answer is a
 * table, the judgement of the old master a stub. Rows from a review that broke earlier versions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import type { FailoverRecord, StepRecord } from '../../src/model/failover-record.js';
import { success } from '../../src/model/rd.js';
import type { ServerMap } from '../../src/model/server.js';
import type { ServerBook } from '../../src/runtime/server-book.js';
import { fakeTopologyBase } from '../fixtures/fake-topology-env.js';
import { oneShotSessions } from '../../src/nodes/monitor-sessions.js';
import type { SqlClient } from '../../src/nodes/ports.js';
import { SqlConnectError } from '../../src/nodes/sql-errors.js';
import { serversFromConfig } from '../../src/runtime/state-sync.js';
import type { TopologyEnv } from '../../src/runtime/topology/env.js';
import { recoverInterrupted, type JudgeMaster } from '../../src/runtime/topology/recovery.js';

/** Per host: writable, read-only, refusing connections, or no answer at all (null); running as the control channel says. */
type Answers = Record<string, { writable: boolean | null | 'refused'; running: boolean | null }>;

const CONFIG = parseConfig(
  'failover: {remaster: false}\nservers: {a: {hostname: ha, role: replica}, b: {hostname: hb, role: master}, c: {hostname: hc, role: replica}}\n',
  'test.yaml',
);

function fakeEnv(servers: ServerMap, answers: Answers, config = CONFIG): { env: TopologyEnv; book: ServerBook; done: () => void; fenced: string[] } {
  const { base, book, done } = fakeTopologyBase(servers);
  const fenced: string[] = [];
  const answer = (host: string): Answers[string] => answers[host] ?? { writable: null, running: null };
  const ctx = {
    config,
    sqlTarget: (s: { hostname: string }) => ({ host: s.hostname }),
    sql: {
      connect: async (target: { host: string }) => {
        const w = answer(target.host).writable;
        if (w === null) throw new Error(`${target.host}: no answer`);
        if (w === 'refused') throw new SqlConnectError('refused', `${target.host}: connection refused`);
        return { query: async () => [{ r: !w }], end: async () => undefined };
      },
    },
    timeouts: { connectMs: 100, commandMs: 100 },
  };
  const restartPlugin = {
    control: async (_ctx: unknown, server: { hostname: string }, action: string) => {
      const a = answer(server.hostname);
      if (a.running === null) return { ok: false, details: 'no control channel' };
      if (action === 'status') return { ok: true, running: a.running, details: '' };
      fenced.push(server.hostname);
      a.running = false;
      a.writable = null;
      return { ok: true, details: `${action} done` };
    },
  };
  const env = {
    ...base,
    // The runtime's short queries go through the monitoring-session port: here one fake session each.
    ctx: () => ({ ...ctx, monitorSessions: oneShotSessions(ctx.sql as unknown as SqlClient) }),
    plugins: { get: () => restartPlugin },
    checks: { verifyAll: async () => success('verified'), pollServer: async () => ({ result: 'FAIL', details: 'down' }) },
    nodeControl: { startup: async () => success('started') },
  } as unknown as TopologyEnv;
  return { env, book, done, fenced };
}

function servers(over: Partial<Record<'a' | 'b' | 'c', Record<string, unknown>>>): ServerMap {
  const base = serversFromConfig(CONFIG, new Date().toISOString());
  for (const [name, props] of Object.entries(over)) base[name] = { ...(base[name] as ServerMap[string]), ...props };
  return base;
}

function interrupted(steps: [string, string | null, StepRecord['outcome']][]): FailoverRecord {
  const ts = new Date().toISOString();
  return {
    id: 'interrupted-1',
    kind: 'failover',
    reason: 'b is down',
    started: ts,
    finished: null,
    duration_ms: null,
    from: 'b',
    to: null,
    outcome: 'RUNNING',
    details: '',
    steps: steps.map(([name, server, outcome]) => ({ name, server, started: ts, finished: ts, outcome, details: '' })),
  };
}

const neverJudged: JudgeMaster = async () => {
  throw new Error('the old master must not be judged here');
};

test('a stale fenced old master that is writable again is fenced, never adopted as the master', async () => {
  const { env, book, done, fenced } = fakeEnv(servers({ a: { enabled: false, fenced: true, fence_unconfirmed: true } }), {
    ha: { writable: true, running: true },
    hb: { writable: null, running: false },
    hc: { writable: false, running: true },
  });
  try {
    const judged: string[] = [];
    await recoverInterrupted(env, interrupted([['revalidate', 'b', 'ok'], ['select', null, 'ok'], ['fence', 'b', 'ok']]), async (master) => {
      judged.push(master);
      return { reachable: true, details: 'pretend it answers' };
    });
    assert.notEqual(book.masterName(), 'a');
    assert.ok(fenced.includes('ha'), 'a was fenced again');
    assert.deepEqual(judged, ['b'], 'nobody else writable: the old master is judged as failover_check would');
  } finally {
    done();
  }
});

test('a promotion the journal confirmed is rolled forward to even when that server does not answer now', async () => {
  const { env, book, done } = fakeEnv(servers({}), {
    ha: { writable: false, running: true },
    hb: { writable: null, running: false },
    hc: { writable: null, running: null },
  });
  try {
    const rd = await recoverInterrupted(env, interrupted([['revalidate', 'b', 'ok'], ['select', null, 'ok'], ['fence', 'b', 'ok'], ['promote', 'c', 'ok']]), neverJudged);
    assert.equal(rd.result, 'SUCCESS', rd.details);
    assert.equal(book.masterName(), 'c');
    assert.equal(book.get('b').fenced, true);
  } finally {
    done();
  }
});

test('a writable server besides the journal-confirmed one: FAIL, nobody chosen', async () => {
  const { env, book, done } = fakeEnv(servers({}), {
    ha: { writable: true, running: true },
    hb: { writable: null, running: false },
    hc: { writable: true, running: true },
  });
  try {
    const rd = await recoverInterrupted(env, interrupted([['fence', 'b', 'ok'], ['promote', 'c', 'ok']]), neverJudged);
    assert.equal(rd.result, 'FAIL');
    assert.equal(rd.reason_code, 'split_brain');
    assert.equal(book.clusterStatus.status, 'down');
  } finally {
    done();
  }
});

test('an old master that does not answer at all is fenced unconfirmed when rolling forward', async () => {
  const { env, book, done } = fakeEnv(servers({}), {
    ha: { writable: false, running: true },
    hb: { writable: null, running: null },
    hc: { writable: true, running: true },
  });
  try {
    const rd = await recoverInterrupted(env, interrupted([['fence', 'b', 'running']]), neverJudged);
    assert.equal(rd.result, 'SUCCESS', rd.details);
    assert.equal(book.masterName(), 'c');
    assert.equal(book.get('b').fence_unconfirmed, true);
    assert.equal(book.recentHistory(1)[0]?.fence, 'unconfirmed', 'the recovery record says so');
  } finally {
    done();
  }
});

test('sync: a promotion interrupted before it ran leaves no candidate\'s set behind: the old master\'s set is in force again', async () => {
  const config = parseConfig(
    'failover: {remaster: false, promote_timeout_seconds: 1, synchronous_mode: on}\nservers: {a: {hostname: ha, role: replica}, b: {hostname: hb, role: master}, c: {hostname: hc, role: replica}}\n',
    'test.yaml',
  );
  const { env, book, done } = fakeEnv(servers({}), { ha: { writable: false, running: true }, hb: { writable: null, running: false }, hc: { writable: false, running: true } }, config);
  try {
    const old = { members: ['a', 'c'], quorum: 1, master: 'b', at: '2026-01-01T00:00:00.000Z', reason: 'ANY 1 of a, c' };
    book.setSync(old);
    // What the promotion of c recorded right before the controller died.
    book.setSync({ members: ['a'], quorum: 0, master: 'c', at: '2026-01-01T00:00:01.000Z', reason: "promoting c: 'ANY 1 (\"a\")', counted once its replicas caught up" });
    await recoverInterrupted(env, interrupted([['revalidate', 'b', 'ok'], ['select', null, 'ok'], ['fence', 'b', 'ok'], ['promote', 'c', 'running']]), async () => ({ reachable: true, details: 'pretend it answers' }));
    const now = book.syncRecord();
    assert.deepEqual({ members: now?.members, quorum: now?.quorum, master: now?.master }, { members: old.members, quorum: old.quorum, master: old.master });
    assert.match(now?.reason ?? '', /promotion of c failed: the set in force before it is restored/);
  } finally {
    done();
  }
});

test("an adoption interrupted after its book change: rolled forward to the adopted (writable) master, the post-failover command it had not run is run", async () => {
  const config = parseConfig(
    'failover: {remaster: false}\nextra_failover_commands: {note: {command: local_command, parameters: [/bin/true]}, page: {command: local_command, parameters: [/bin/true]}}\nservers: {a: {hostname: ha, role: replica}, b: {hostname: hb, role: master}, c: {hostname: hc, role: replica}}\n',
    'test.yaml',
  );
  const { env, book, done } = fakeEnv(servers({}), {
    ha: { writable: false, running: true },
    hb: { writable: null, running: false },
    hc: { writable: true, running: true },
  }, config);
  const ran: string[] = [];
  const restart = env.plugins.get('restart', 'x');
  const command = { run: async (_ctx: unknown, failover: { newMaster: { name: string } }) => (ran.push(failover.newMaster.name), { ok: true, details: 'exit 0' }) };
  const withCommands = { ...env, plugins: { get: (kind: string) => (kind === 'command' ? command : restart) } } as unknown as TopologyEnv;
  try {
    const journal = { ...interrupted([['adopt', 'c', 'ok'], ['extra_command:note', null, 'ok'], ['extra_command:page', null, 'running']]), kind: 'adoption' as const, to: 'c' };
    const rd = await recoverInterrupted(withCommands, journal, neverJudged);
    assert.equal(rd.result, 'SUCCESS', rd.details);
    assert.equal(book.masterName(), 'c');
    assert.deepEqual(ran, ['c'], 'page only: note had run');
    assert.deepEqual(book.recentHistory(1)[0]?.steps.map((s) => s.name), ['extra_command:page']);
  } finally {
    done();
  }
});

/** An adoption of c (b the book's master) interrupted while its connection_failover ran, recovered under `head` settings. */
async function recoverAdoption(head: string, oldMaster: Answers[string]): Promise<{ steps: string[]; b: { role: string; enabled: boolean; fenced: boolean }; master: string | null }> {
  const config = parseConfig(`${head}servers: {a: {hostname: ha, role: replica}, b: {hostname: hb, role: master}, c: {hostname: hc, role: replica}}\n`, 'test.yaml');
  const { env, book, done } = fakeEnv(servers({}), { ha: { writable: false, running: true }, hb: oldMaster, hc: { writable: true, running: true } }, config);
  try {
    const journal = { ...interrupted([['adopt', 'c', 'ok'], ['connection_failover', 'c', 'running']]), kind: 'adoption' as const, to: 'c' };
    const rd = await recoverInterrupted(env, journal, neverJudged);
    assert.equal(rd.result, 'SUCCESS', rd.details);
    const b = book.get('b');
    return { steps: book.recentHistory(1)[0]?.steps.map((s) => `${s.name}${s.server === null ? '' : ` ${s.server}`}`) ?? [], b: { role: b.role, enabled: b.enabled, fenced: b.fenced === true }, master: book.masterName() };
  } finally {
    done();
  }
}

test('an interrupted adoption rolls forward without remastering anyone (the agents re-point the replicas), failover.remaster on', async () => {
  const r = await recoverAdoption('', { writable: null, running: false });
  assert.equal(r.master, 'c');
  assert.deepEqual(r.steps, [], 'no remaster a');
  assert.deepEqual(r.b, { role: 'replica', enabled: false, fenced: true }, 'a stopped old master is fenced, as the adoption fences it');
});

test('an interrupted adoption whose old master already answers read-only keeps it an enabled replica (its agent rejoined it), as the adoption does', async () => {
  const r = await recoverAdoption('', { writable: false, running: true });
  assert.equal(r.master, 'c');
  assert.deepEqual(r.b, { role: 'replica', enabled: true, fenced: false });
});

test('an interrupted adoption in deployment agents never fences the old master (the agents never elect a fenced server)', async () => {
  const r = await recoverAdoption('handyrep: {store: etcd, deployment: agents}\netcd: {endpoints: ["http://127.0.0.1:2379"]}\n', { writable: null, running: false });
  assert.equal(r.master, 'c');
  assert.deepEqual(r.b, { role: 'replica', enabled: true, fenced: false });
});

// ---- Review s9 (adoption roll-forward): rows that failed before the fixes ----
const AGENT_LEASE = 'handyrep: {store: etcd}\netcd: {endpoints: ["http://127.0.0.1:2379"], ttl: 4}\nfailover: {unreachable_master: agent_lease}\n';
const AGENTS = 'handyrep: {store: etcd, deployment: agents}\netcd: {endpoints: ["http://127.0.0.1:2379"]}\n';
const C_LOST = { writable: null, running: null };
const ADOPTED_BOOK = { b: { role: 'replica', enabled: false, fenced: true }, c: { role: 'master' } };

/** Recovers an adoption of c (b the old master) journaled with `steps`; `lease`: what the master lease of a server says (agent_lease). */
async function recoverAdoptionOf(head: string, over: Parameters<typeof servers>[0], answers: Answers, steps: [string, string | null, StepRecord['outcome']][], lease: Record<string, string> = {}) {
  const config = parseConfig(`${head}servers: {a: {hostname: ha, role: replica}, b: {hostname: hb, role: master}, c: {hostname: hc, role: replica}}\n`, 'test.yaml');
  const { env, book, done, fenced } = fakeEnv(servers(over), answers, config);
  const noted: string[] = [];
  const masterLease = { state: async (m: string) => lease[m] ?? 'unknown', noteHealthy: async (m: string) => void noted.push(m) };
  const judged: string[] = [];
  try {
    const journal = { ...interrupted(steps), kind: 'adoption' as const, to: 'c' };
    const rd = await recoverInterrupted({ ...env, masterLease } as unknown as TopologyEnv, journal, async (m) => {
      judged.push(m);
      return { reachable: true, details: 'pretend' };
    });
    const masters = book.names().filter((n) => book.get(n).role === 'master' && book.get(n).enabled);
    const b = book.get('b');
    return { rd, judged, masters, master: book.masterName(), b: { role: b.role, enabled: b.enabled, fenced: b.fenced === true, unconfirmed: b.fence_unconfirmed === true }, fenced, noted, fence: book.recentHistory(1)[0]?.fence ?? null };
  } finally {
    done();
  }
}

test('F1: an adoption whose adopt step ran is rolled forward to the adopted master even when it does not answer now (book saved)', async () => {
  const r = await recoverAdoptionOf('', ADOPTED_BOOK, { ha: { writable: false, running: true }, hb: { writable: null, running: false }, hc: C_LOST }, [['adopt', 'c', 'ok'], ['connection_failover', 'c', 'running']]);
  assert.equal(r.rd.result, 'SUCCESS', r.rd.details);
  assert.deepEqual(r.judged, [], 'b, replaced by the adoption, is not judged');
  assert.deepEqual(r.masters, ['c']);
  assert.deepEqual(r.b, { role: 'replica', enabled: false, fenced: true, unconfirmed: false });
});

test('F1: same with the book not saved before the crash (b still master in the book): c is the master, b fenced', async () => {
  const r = await recoverAdoptionOf('', {}, { ha: { writable: false, running: true }, hb: { writable: null, running: false }, hc: C_LOST }, [['adopt', 'c', 'ok'], ['connection_failover', 'c', 'running']]);
  assert.equal(r.rd.result, 'SUCCESS', r.rd.details);
  assert.deepEqual(r.judged, []);
  assert.deepEqual(r.masters, ['c']);
  assert.equal(r.b.fenced, true);
});

test('F1: an adopt step still running in the journal (its book change saved) counts as the adoption: c master, b stays fenced', async () => {
  const r = await recoverAdoptionOf('', ADOPTED_BOOK, { ha: { writable: false, running: true }, hb: { writable: null, running: false }, hc: C_LOST }, [['adopt', 'c', 'running']]);
  assert.equal(r.rd.result, 'SUCCESS', r.rd.details);
  assert.deepEqual(r.judged, []);
  assert.deepEqual(r.masters, ['c']);
  assert.equal(r.b.fenced, true);
});

test('F2: agent_lease, the old master lost with its lease gone: the roll-forward records its fence confirmed, as the adoption does', async () => {
  const r = await recoverAdoptionOf(AGENT_LEASE, {}, { ha: { writable: false, running: true }, hb: { writable: null, running: null }, hc: { writable: true, running: true } }, [['adopt', 'c', 'ok'], ['connection_failover', 'c', 'running']], { b: 'released' });
  assert.equal(r.rd.result, 'SUCCESS', r.rd.details);
  assert.deepEqual(r.b, { role: 'replica', enabled: false, fenced: true, unconfirmed: false });
  assert.equal(r.fence, 'confirmed');
});

test('F2 (the lease proves nothing): agent_lease with the old lease unknown and no control channel stays unconfirmed', async () => {
  const r = await recoverAdoptionOf(AGENT_LEASE, {}, { ha: { writable: false, running: true }, hb: { writable: null, running: null }, hc: { writable: true, running: true } }, [['adopt', 'c', 'ok'], ['connection_failover', 'c', 'running']]);
  assert.equal(r.b.unconfirmed, true);
  assert.equal(r.fence, 'unconfirmed');
});

/** A failover (fence b, promote c) rolled forward under agent_lease; b as given, its lease as `bLease`: b's fence_unconfirmed after. */
async function failoverRollForwardOfB(b: Answers[string], bLease: 'released' | 'unknown'): Promise<boolean> {
  const config = parseConfig(`${AGENT_LEASE}servers: {a: {hostname: ha, role: replica}, b: {hostname: hb, role: master}, c: {hostname: hc, role: replica}}\n`, 'test.yaml');
  const { env, book, done } = fakeEnv(servers({}), { ha: { writable: false, running: true }, hb: b, hc: { writable: true, running: true } }, config);
  const masterLease = { state: async (m: string) => (m === 'b' ? bLease : 'unknown'), noteHealthy: async () => undefined };
  try {
    const rd = await recoverInterrupted({ ...env, masterLease } as unknown as TopologyEnv, interrupted([['fence', 'b', 'ok'], ['promote', 'c', 'ok']]), neverJudged);
    assert.equal(rd.result, 'SUCCESS', rd.details);
    return book.get('b').fence_unconfirmed === true;
  } finally {
    done();
  }
}

test('F2 (related, a failover roll-forward): agent_lease, the lost old master with its lease gone is fenced confirmed', async () => {
  assert.equal(await failoverRollForwardOfB({ writable: null, running: null }, 'released'), false);
});

test('a failover roll-forward: an old master whose port refuses, no control channel, its lease not known gone, stays fence-unconfirmed (a refusal may be a firewall\'s: fence.ts)', async () => {
  assert.equal(await failoverRollForwardOfB({ writable: 'refused', running: null }, 'unknown'), true);
});

test('a failover roll-forward: an old master whose port refuses and whose lease is gone is fenced confirmed (the lease proves it, as in a fence)', async () => {
  assert.equal(await failoverRollForwardOfB({ writable: 'refused', running: null }, 'released'), false);
});

test('F3: the adopted master lost and another server writable: split_brain FAIL, the book keeps one enabled master (c)', async () => {
  const r = await recoverAdoptionOf('', ADOPTED_BOOK, { ha: { writable: true, running: true }, hb: { writable: null, running: false }, hc: C_LOST }, [['adopt', 'c', 'ok'], ['connection_failover', 'c', 'running']]);
  assert.equal(r.rd.result, 'FAIL');
  assert.equal(r.rd.reason_code, 'split_brain');
  assert.deepEqual(r.masters, ['c']);
});

test('F3: an adoption whose adopt step never ran is not rolled forward to another writable server (left to the verified adoption)', async () => {
  const r = await recoverAdoptionOf('', {}, { ha: { writable: true, running: true }, hb: { writable: null, running: false }, hc: C_LOST }, []);
  assert.equal(r.rd.result, 'FAIL', r.rd.details);
  assert.equal(r.rd.reason_code, 'not_adopted');
  assert.deepEqual(r.masters, ['b'], 'the book is unchanged');
  assert.deepEqual(r.judged, []);
});

test('F4: deployment agents, the old master writable beside the adopted one: stopped, but kept an enabled unfenced replica', async () => {
  const r = await recoverAdoptionOf(AGENTS, {}, { ha: { writable: false, running: true }, hb: { writable: true, running: true }, hc: { writable: true, running: true } }, [['adopt', 'c', 'ok'], ['connection_failover', 'c', 'running']]);
  assert.equal(r.rd.result, 'SUCCESS', r.rd.details);
  assert.equal(r.master, 'c');
  assert.ok(r.fenced.includes('hb'), 'b was stopped');
  assert.deepEqual(r.b, { role: 'replica', enabled: true, fenced: false, unconfirmed: false });
});

test('F5: the roll-forward of an adoption notes the adopted master lease as seen held, as the adoption does', async () => {
  const r = await recoverAdoptionOf(AGENT_LEASE, {}, { ha: { writable: false, running: true }, hb: { writable: null, running: false }, hc: { writable: true, running: true } }, [['adopt', 'c', 'ok'], ['connection_failover', 'c', 'running']]);
  assert.equal(r.rd.result, 'SUCCESS', r.rd.details);
  assert.deepEqual(r.noted, ['c']);
});

// ---- Issue 14, roll-forward (review s9 F3/F4): the book never ends with two enabled masters ----

/** Recovers `journal` over a book with `over` and `answers`; the enabled masters after, who was judged, b's record. */
async function recoverWith(head: string, over: Parameters<typeof servers>[0], answers: Answers, journal: FailoverRecord) {
  const config = parseConfig(`${head}servers: {a: {hostname: ha, role: replica}, b: {hostname: hb, role: master}, c: {hostname: hc, role: replica}}\n`, 'test.yaml');
  const { env, book, done, fenced } = fakeEnv(servers(over), answers, config);
  const judged: string[] = [];
  const remastered: string[] = [];
  try {
    const rd = await recoverInterrupted({ ...env, masterLease: { state: async () => 'unknown', noteHealthy: async () => undefined } } as unknown as TopologyEnv, journal, async (m) => {
      judged.push(m);
      return { reachable: true, details: 'pretend' };
    });
    const masters = book.names().filter((n) => book.get(n).role === 'master' && book.get(n).enabled);
    const steps = book.recentHistory(1)[0]?.steps.map((s) => `${s.name}${s.server === null ? '' : ` ${s.server}`}`) ?? [];
    for (const s of steps) if (s.startsWith('remaster ')) remastered.push(s.slice('remaster '.length));
    const rec = (n: string) => ({ role: book.get(n).role, enabled: book.get(n).enabled, fenced: book.get(n).fenced === true });
    return { rd, masters, judged, fenced, remastered, a: rec('a'), b: rec('b'), c: rec('c'), history: book.recentHistory(1)[0] };
  } finally {
    done();
  }
}

/** The journal of a recovery of `recovers` (b the old master) that chose `to` and was interrupted in turn. */
function recoveryJournal(recovers: 'failover' | 'adoption' | undefined, to: string | null, steps: [string, string | null, StepRecord['outcome']][]): FailoverRecord {
  return { ...interrupted(steps), kind: 'recovery', to, ...(recovers !== undefined ? { recovers } : {}) };
}

const REPLACED_BY_C = { b: { role: 'replica', enabled: false, fenced: true }, c: { role: 'master' } };

test('R3 (review s9 F3): the adopted master lost, another server writable: split_brain, the book keeps c its only master, b untouched', async () => {
  const r = await recoverWith('', ADOPTED_BOOK, { ha: { writable: true, running: true }, hb: { writable: null, running: false }, hc: C_LOST }, { ...interrupted([['adopt', 'c', 'ok'], ['connection_failover', 'c', 'running']]), kind: 'adoption', to: 'c' });
  assert.equal(r.rd.reason_code, 'split_brain', r.rd.details);
  assert.deepEqual(r.masters, ['c']);
  assert.deepEqual(r.a, { role: 'replica', enabled: true, fenced: false }, 'a is not recorded master (nothing verified about it)');
  assert.deepEqual(r.judged, []);
});

test('F4 (deployment ha): the old master writable beside the adopted one is stopped and fenced confirmed; c the only master', async () => {
  const r = await recoverWith('', {}, { ha: { writable: false, running: true }, hb: { writable: true, running: true }, hc: { writable: true, running: true } }, { ...interrupted([['adopt', 'c', 'ok'], ['connection_failover', 'c', 'running']]), kind: 'adoption', to: 'c' });
  assert.equal(r.rd.result, 'SUCCESS', r.rd.details);
  assert.deepEqual(r.masters, ['c']);
  assert.ok(r.fenced.includes('hb'), 'b was stopped');
  assert.deepEqual(r.b, { role: 'replica', enabled: false, fenced: true });
  assert.equal(r.history?.fence, 'confirmed');
});

test('a recovery interrupted after writing its target (c) into the book, c not answering now: rolled forward to c again, b not put back beside it', async () => {
  const r = await recoverWith('', REPLACED_BY_C, { ha: { writable: false, running: true }, hb: { writable: null, running: false }, hc: C_LOST }, recoveryJournal('failover', 'c', [['connection_failover', 'c', 'running']]));
  assert.equal(r.rd.result, 'SUCCESS', r.rd.details);
  assert.deepEqual(r.masters, ['c'], 'before: b put back as master beside c');
  assert.deepEqual(r.judged, [], 'b, replaced, is not judged');
  assert.equal(r.b.fenced, true);
});

test('a recovery of an adoption interrupted in turn, another server writable now: split_brain, c stays the only master (not rolled forward to a)', async () => {
  const r = await recoverWith(AGENTS, { b: { role: 'replica' }, c: { role: 'master' } }, { ha: { writable: true, running: true }, hb: { writable: false, running: true }, hc: C_LOST }, recoveryJournal('adoption', 'c', [['connection_failover', 'c', 'running']]));
  assert.equal(r.rd.reason_code, 'split_brain', r.rd.details);
  assert.deepEqual(r.masters, ['c'], 'before: a rolled forward to beside c');
});

test('a recovery of an adoption interrupted in turn, deployment agents: still an adoption (nobody remastered, the old master not fenced)', async () => {
  const r = await recoverWith(AGENTS, { b: { role: 'replica' }, c: { role: 'master' } }, { ha: { writable: false, running: true }, hb: { writable: null, running: false }, hc: { writable: true, running: true } }, recoveryJournal('adoption', 'c', [['connection_failover', 'c', 'running']]));
  assert.equal(r.rd.result, 'SUCCESS', r.rd.details);
  assert.deepEqual(r.masters, ['c']);
  assert.deepEqual(r.remastered, [], 'the agents re-point the replicas');
  assert.deepEqual(r.b, { role: 'replica', enabled: true, fenced: false });
  assert.equal(r.history?.recovers, 'adoption', 'the new recovery carries the kind on');
});

test('the roll-forward target differs from another master the book names: that master is demoted in the same write (failover)', async () => {
  const r = await recoverWith('', { a: { role: 'master' } }, { ha: C_LOST, hb: { writable: null, running: false }, hc: { writable: true, running: true } }, interrupted([['fence', 'b', 'ok'], ['promote', 'c', 'ok']]));
  assert.equal(r.rd.result, 'SUCCESS', r.rd.details);
  assert.deepEqual(r.masters, ['c'], 'before: a and c');
  assert.deepEqual(r.a, { role: 'replica', enabled: false, fenced: true });
});

test('the roll-forward of an adoption demotes another master the book names by the adoption\'s rule (deployment agents: enabled, not fenced)', async () => {
  const r = await recoverWith(AGENTS, { a: { role: 'master' } }, { ha: { writable: null, running: false }, hb: { writable: null, running: false }, hc: { writable: true, running: true } }, { ...interrupted([['adopt', 'c', 'ok']]), kind: 'adoption', to: 'c' });
  assert.equal(r.rd.result, 'SUCCESS', r.rd.details);
  assert.deepEqual(r.masters, ['c']);
  assert.deepEqual(r.a, { role: 'replica', enabled: true, fenced: false });
});

test('nobody writable, the book names another master beside the old one: the old master is kept and judged alone', async () => {
  const r = await recoverWith('', { a: { role: 'master' } }, { ha: { writable: null, running: false }, hb: C_LOST, hc: { writable: false, running: true } }, interrupted([['revalidate', 'b', 'ok']]));
  assert.deepEqual(r.masters, ['b'], 'before: a and b');
  assert.deepEqual(r.judged, ['b']);
});
