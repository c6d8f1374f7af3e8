/**
 * The failover executor over fakes (no PostgreSQL), Patroni test_ha-style: each row sets what the
 * servers answer and how the plugins behave, runs one failover, and checks what was done and what
 * the book says. Remastering and post-failover commands are off (they have real-cluster tests).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { expectedPath, forwardPath } from '../../src/engine/failover-steps.js';
import { failure, success } from '../../src/model/rd.js';
import { makeServerStatus } from '../../src/model/status.js';
import { selectReplicaFurthestAhead } from '../../src/plugins/select/select_replica_furthest_ahead.js';
import type { ServerBook } from '../../src/runtime/server-book.js';
import { fakeTopologyBase } from '../fixtures/fake-topology-env.js';
import { oneShotSessions } from '../../src/nodes/monitor-sessions.js';
import type { SqlClient } from '../../src/nodes/ports.js';
import { serversFromConfig } from '../../src/runtime/state-sync.js';
import type { TopologyEnv } from '../../src/runtime/topology/env.js';
import { failoverPlan, runFailover, type TopologyRd } from '../../src/runtime/topology/failover.js';
import { failoverEventOf } from '../../src/api/failover-event.js';
import { RefusalEpisodes } from '../../src/runtime/refusal-episodes.js';
import { runPromote } from '../../src/runtime/topology/manual.js';
import { runSwitchover } from '../../src/runtime/topology/switchover.js';

/** One fake node: what its database and its control channel do. */
interface FakeNode {
  /** null: no answer at all (down or cut off). */
  inRecovery: boolean | null;
  /** The control channel: null when it does not answer. */
  running: boolean | null;
  receiveLsn: string;
  /** What pg_promote does: 'ok' promotes, 'lost' cuts the node off right after it is asked. */
  promote: 'ok' | 'fails' | 'lost';
  /** What a stop does: 'ok' stops it, 'ignored' leaves it running. */
  stop: 'ok' | 'ignored';
  /** Runs when it is stopped (what the others received meanwhile changes). */
  onStop?: (nodes: Record<string, FakeNode>) => void;
}

const CONFIG = parseConfig(
  'failover: {remaster: false, auto_rejoin: false, promote_timeout_seconds: 1}\nservers: {john: {hostname: h-john, role: master}, paul: {hostname: h-paul, role: replica}, george: {hostname: h-george, role: replica}}\n',
  'test.yaml',
);

interface Bed {
  env: TopologyEnv;
  book: ServerBook;
  nodes: Record<string, FakeNode>;
  actions: string[];
  done: () => void;
}

function bed(over: Partial<Record<'john' | 'paul' | 'george', Partial<FakeNode>>>, config = CONFIG): Bed {
  const now = new Date().toISOString();
  const servers = serversFromConfig(config, now);
  for (const s of Object.values(servers)) Object.assign(s, makeServerStatus('healthy', 'test', now), { wal_position: '0/5000000' });
  const { base: envBase, book, done } = fakeTopologyBase(servers);
  const base = (inRecovery: boolean): FakeNode => ({ inRecovery, running: true, receiveLsn: '0/5000000', promote: 'ok', stop: 'ok' });
  const nodes: Record<string, FakeNode> = {
    john: { ...base(false), ...over.john },
    paul: { ...base(true), receiveLsn: '0/4F00000', ...over.paul },
    george: { ...base(true), ...over.george },
  };
  const byHost = (host: string): [string, FakeNode] => {
    const name = host.replace(/^h-/, '');
    return [name, nodes[name] as FakeNode];
  };
  const actions: string[] = [];
  const ctx = {
    config,
    sqlTarget: (s: { hostname: string }) => ({ host: s.hostname }),
    timeouts: { connectMs: 100, commandMs: 100 },
    sql: {
      connect: async (target: { host: string }) => {
        const [, node] = byHost(target.host);
        if (node.inRecovery === null) throw new Error(`${target.host}: connect timed out`);
        return {
          query: async (sql: string) => {
            if (node.inRecovery === null) throw new Error('connection lost');
            if (sql.includes('pg_last_wal_receive_lsn')) {
              return [{ in_recovery: node.inRecovery, receive_lsn: node.receiveLsn, replay_lsn: node.receiveLsn, receiver_status: null, last_msg_age: null }];
            }
            return [{ r: node.inRecovery }];
          },
          end: async () => undefined,
        };
      },
    },
  };
  const restart = {
    control: async (_ctx: unknown, server: { hostname: string }, action: string) => {
      const [name, node] = byHost(server.hostname);
      if (node.running === null) return { ok: false, details: 'no control channel' };
      if (action === 'status') return { ok: true, running: node.running, details: '' };
      actions.push(`${action} ${name}`);
      if (node.stop === 'ignored' && action !== 'kill') return { ok: false, details: 'did not stop' };
      if (node.stop === 'ignored') return { ok: false, details: 'still alive' };
      node.running = false;
      node.inRecovery = null;
      node.onStop?.(nodes);
      return { ok: true, details: `${action} done` };
    },
  };
  const promote = {
    promote: async (_ctx: unknown, server: { hostname: string }) => {
      const [name, node] = byHost(server.hostname);
      actions.push(`promote ${name}`);
      if (node.promote === 'fails') return { ok: false, details: 'pg_promote failed' };
      if (node.promote === 'lost') {
        node.inRecovery = null;
        node.running = null;
        return { ok: false, details: 'connection lost during pg_promote' };
      }
      node.inRecovery = false;
      return { ok: true, details: 'promoted' };
    },
  };
  const plugins = {
    get: (kind: string) => (kind === 'restart' ? restart : kind === 'promote' ? promote : kind === 'select' ? selectReplicaFurthestAhead : null),
  };
  const env = {
    ...envBase,
    // The runtime's short queries go through the monitoring-session port: here one fake session each.
    ctx: () => ({ ...ctx, monitorSessions: oneShotSessions(ctx.sql as unknown as SqlClient) }),
    plugins,
    checks: {
      pollServer: async (name: string) => ((nodes[name]?.inRecovery ?? null) === null ? failure('no answer') : success('answers')),
      verifyServer: async () => success('verified'),
    },
    nodeControl: { startup: async (name: string) => (actions.push(`startup ${name}`), success('started')), restart: async (name: string) => (actions.push(`restart ${name}`), success('restarted')) },
  } as unknown as TopologyEnv;
  return { env, book, nodes, actions, done };
}

const writable = (b: Bed): string[] => Object.entries(b.nodes).filter(([, n]) => n.inRecovery === false).map(([name]) => name);

test('crashed master: fenced, the furthest-ahead replica promoted, exactly the plan run', async () => {
  const b = bed({ john: { inRecovery: null, running: false } });
  try {
    const plan = expectedPath(failoverPlan(b.env, 'john', ['george', 'paul'], { remaster: false, proxiesFirst: false }));
    const rd = await runFailover(b.env, 'test', { preferred: null, remaster: false });
    assert.equal(rd.result, 'SUCCESS', rd.details);
    assert.equal(b.book.masterName(), 'george');
    assert.deepEqual(writable(b), ['george']);
    const record = b.book.recentHistory(1)[0];
    assert.deepEqual(forwardPath(record?.steps ?? []), plan);
    assert.equal(record?.fence, 'confirmed');
    // Its control channel says it is not running: fenced without a stop command (one round trip less).
    assert.deepEqual(b.actions, ['promote george']);
  } finally {
    b.done();
  }
});

test('a running master is stopped to fence it, then the candidate is promoted', async () => {
  const b = bed({ john: { inRecovery: null, running: true } });
  try {
    const rd = await runFailover(b.env, 'test', { preferred: null, remaster: false });
    assert.equal(rd.result, 'SUCCESS', rd.details);
    assert.deepEqual(b.actions, ['stop john', 'promote george']);
  } finally {
    b.done();
  }
});

test('a master that cannot be stopped is not fenced: nobody is promoted', async () => {
  const b = bed({ john: { inRecovery: null, running: true, stop: 'ignored' } });
  try {
    const rd = await runFailover(b.env, 'test', { preferred: null, remaster: false });
    assert.equal(rd.result, 'FAIL');
    assert.equal(rd.reason_code, 'fence_failed');
    assert.ok(!b.actions.some((a) => a.startsWith('promote')), b.actions.join(', '));
    assert.equal(b.book.masterName(), 'john');
  } finally {
    b.done();
  }
});

test('an unreachable master without proxies-first is not fenced: nobody is promoted', async () => {
  const b = bed({ john: { inRecovery: null, running: null } });
  try {
    const rd = await runFailover(b.env, 'test', { preferred: null, remaster: false });
    assert.equal(rd.reason_code, 'fence_failed');
    assert.ok(!b.actions.some((a) => a.startsWith('promote')));
  } finally {
    b.done();
  }
});

test('the candidate lost during pg_promote is fenced and nobody else is promoted', async () => {
  const b = bed({ john: { inRecovery: null, running: false }, george: { promote: 'lost' } });
  try {
    const rd = await runFailover(b.env, 'test', { preferred: null, remaster: false });
    assert.equal(rd.result, 'FAIL');
    assert.equal(rd.reason_code, 'promotion_uncertain');
    assert.deepEqual(b.actions.filter((a) => a.startsWith('promote')), ['promote george']);
    assert.equal(b.book.get('george').fenced, true);
    assert.equal(b.book.get('george').fence_unconfirmed, true);
  } finally {
    b.done();
  }
});

test('a failed promotion is cancelled (stopped) before the next candidate is promoted', async () => {
  const b = bed({ john: { inRecovery: null, running: false }, george: { promote: 'fails' } });
  try {
    const rd = await runFailover(b.env, 'test', { preferred: null, remaster: false });
    assert.equal(rd.result, 'SUCCESS', rd.details);
    assert.equal(b.book.masterName(), 'paul');
    const order = b.actions.filter((a) => /^(promote|stop|faststop|kill) /.test(a));
    assert.ok(order.indexOf('promote paul') > order.lastIndexOf('stop george'), order.join(', '));
    assert.deepEqual(writable(b), ['paul']);
  } finally {
    b.done();
  }
});

test('another writable server stops the failover before any promotion', async () => {
  const b = bed({ john: { inRecovery: null, running: false }, paul: { inRecovery: false } });
  try {
    const rd = await runFailover(b.env, 'test', { preferred: null, remaster: false });
    assert.equal(rd.result, 'FAIL');
    assert.ok(!b.actions.includes('promote george'), b.actions.join(', '));
  } finally {
    b.done();
  }
});

test('a verdict gone stale in the queue (the master answers again) is called off before fencing', async () => {
  const b = bed({});
  try {
    const rd = await runFailover(b.env, 'test', { preferred: null, remaster: false });
    assert.equal(rd.reason_code, 'stale_verdict');
    assert.deepEqual(b.actions, []);
  } finally {
    b.done();
  }
});

test('a verdict about another master (a failover already ran) is called off', async () => {
  const b = bed({ john: { inRecovery: null, running: false } });
  try {
    const rd = await runFailover(b.env, 'test', { preferred: null, remaster: false, expect: { master: 'paul', topologyRevision: b.book.topologyRevision } });
    assert.equal(rd.reason_code, 'stale_verdict');
    assert.deepEqual(b.actions, []);
  } finally {
    b.done();
  }
});

test('an automatic failover on hold (paused) is called off; an operator\'s is not', async () => {
  const held = bed({ john: { inRecovery: null, running: false } });
  const manual = bed({ john: { inRecovery: null, running: false } });
  try {
    (held.env as { hold: () => string | null }).hold = () => 'paused by alice';
    (manual.env as { hold: () => string | null }).hold = () => 'paused by alice';
    assert.equal((await runFailover(held.env, 'test', { preferred: null, remaster: false, automatic: true })).reason_code, 'stale_verdict');
    assert.equal((await runFailover(manual.env, 'test', { preferred: null, remaster: false })).result, 'SUCCESS');
  } finally {
    held.done();
    manual.done();
  }
});

// Synchronous mode (issue 15): the recorded set decides who may be promoted.
const SYNC_CONFIG = parseConfig(
  'failover: {remaster: false, auto_rejoin: false, promote_timeout_seconds: 1, synchronous_mode: on, synchronous_method: any, synchronous_node_count: 1}\nservers: {john: {hostname: h-john, role: master}, paul: {hostname: h-paul, role: replica}, george: {hostname: h-george, role: replica}}\n',
  'test.yaml',
);

/** A bed under synchronous_mode on whose recorded set is `members` with quorum 1 (paul behind george unless told). */
function syncBed(members: string[], over: Parameters<typeof bed>[0]): Bed {
  const b = bed(over, SYNC_CONFIG);
  b.book.setSync({ members, quorum: 1, master: 'john', at: '2026-01-01T00:00:00.000Z', reason: `ANY 1 of ${members.join(', ')}` });
  return b;
}

test('sync: a failed promotion leaves the recorded set as it was (not the candidate\'s quorum-0 set)', async () => {
  const b = syncBed(['george', 'paul'], { john: { inRecovery: null, running: false }, george: { promote: 'fails' } });
  try {
    const before = b.book.syncRecord();
    const rd = await runFailover(b.env, 'test', { preferred: null, remaster: false });
    assert.equal(rd.reason_code, 'promotion_failed', rd.details);
    assert.deepEqual(b.actions.filter((a) => a.startsWith('promote')), ['promote george'], 'paul is behind the furthest member: not a candidate');
    const after = b.book.syncRecord();
    assert.deepEqual({ members: after?.members, quorum: after?.quorum, master: after?.master }, { members: before?.members, quorum: before?.quorum, master: before?.master });
    assert.match(after?.reason ?? '', /promotion of george failed: the set in force before it is restored/);
  } finally {
    b.done();
  }
});

test('sync: a successful promotion records the new master\'s set (quorum 0 until its replicas caught up)', async () => {
  const b = syncBed(['george', 'paul'], { john: { inRecovery: null, running: false } });
  try {
    const rd = await runFailover(b.env, 'test', { preferred: null, remaster: false });
    assert.equal(rd.result, 'SUCCESS', rd.details);
    const after = b.book.syncRecord();
    assert.deepEqual({ members: after?.members, quorum: after?.quorum, master: after?.master }, { members: ['paul'], quorum: 0, master: 'george' });
  } finally {
    b.done();
  }
});

test('sync: the candidates are judged again after the fence (the old master acknowledged more, received by another member)', async () => {
  // Before the fence george is furthest ahead; while john is being stopped paul receives its last commits.
  const b = syncBed(['george', 'paul'], {
    john: { inRecovery: null, running: true, onStop: (nodes) => Object.assign(nodes['paul'] as FakeNode, { receiveLsn: '0/5100000' }) },
  });
  try {
    const rd = await runFailover(b.env, 'test', { preferred: null, remaster: false });
    assert.equal(rd.result, 'SUCCESS', rd.details);
    assert.deepEqual(b.actions, ['stop john', 'promote paul']);
    assert.equal(b.book.masterName(), 'paul');
    const fence = b.book.recentHistory(1)[0]?.steps.find((s) => s.name === 'fence');
    assert.match(fence?.details ?? '', /judged again from positions read after the fence: candidates now paul/);
  } finally {
    b.done();
  }
});

test('sync: a member lost between the judgement and the fence leaves too few reachable: rolled back, nobody promoted', async () => {
  const b = syncBed(['george', 'paul'], {
    john: { inRecovery: null, running: true, onStop: (nodes) => Object.assign(nodes['george'] as FakeNode, { inRecovery: null }) },
  });
  try {
    const rd = await runFailover(b.env, 'test', { preferred: null, remaster: false });
    assert.equal(rd.reason_code, 'promotion_failed', rd.details);
    assert.match(rd.details, /no candidate once the old master was fenced: .*1 of 2 members reachable with a WAL position, 2 needed/);
    assert.ok(!b.actions.some((a) => a.startsWith('promote')), b.actions.join(', '));
    assert.ok(b.actions.includes('startup john'), b.actions.join(', '));
  } finally {
    b.done();
  }
});

test('a refused automatic failover repeated (no candidate, a restart would make a second master): one history entry and one alert per episode; a change is recorded', async () => {
  // Case (a) of ha-rollforward-faults: john lost, paul and george both writable by hand.
  const b = bed({ john: { inRecovery: null, running: false }, paul: { inRecovery: false }, george: { inRecovery: false } });
  try {
    let now = Date.parse('2026-12-05T10:00:00.000Z');
    const alerts: string[] = [];
    b.env.log.onAlert((entry) => alerts.push(`${entry.alert ?? ''} ${entry.message}`));
    Object.assign(b.env, { clock: () => new Date(now), refusals: new RefusalEpisodes() });
    const automatic = async (): Promise<string> => {
      const rd = await runFailover(b.env, 'test', { preferred: null, remaster: false, automatic: true });
      assert.equal(rd.reason_code, 'no_candidate', rd.details);
      now += 1000;
      return rd.history_id ?? 'none';
    };
    const failEntries = (): number => b.book.recentHistory(100).filter((h) => h.outcome === 'FAIL').length;
    assert.notEqual(await automatic(), 'none', 'the first refusal is recorded');
    for (let i = 0; i < 9; i += 1) assert.equal(await automatic(), 'none', 'a repeat is not recorded');
    assert.equal(failEntries(), 1);
    assert.equal(alerts.filter((a) => a.startsWith('CRITICAL') && a.includes('no viable replica')).length, 1, alerts.join('\n'));
    assert.deepEqual(b.actions, [], 'nothing restarted or promoted');
    // A reminder once it is due.
    now += 10 * 60 * 1000;
    assert.notEqual(await automatic(), 'none', 'the reminder is recorded');
    assert.match(b.book.recentHistory(1)[0]?.details ?? '', /still refused since 2026-12-05T10:00:00\.000Z \(reminder; 9 identical refusals/);
    // A change: george is a replica again (and the risk of a second master remains: no promotion), another refusal.
    b.nodes.george = { ...(b.nodes.george as FakeNode), inRecovery: true };
    const changed = await runFailover(b.env, 'test', { preferred: null, remaster: false, automatic: true });
    assert.ok(changed.history_id, changed.details);
    assert.equal(failEntries(), 3);
    assert.equal(alerts.filter((a) => a.startsWith('CRITICAL failover FAIL')).length, 3, alerts.join('\n'));
    // An operator's failover is always recorded, and ends the episode.
    const manual = await runFailover(b.env, 'test', { preferred: null, remaster: false });
    assert.ok(manual.history_id, manual.details);
    assert.equal(b.env.refusals?.current, null);
  } finally {
    b.done();
  }
});

test('a repeated refusal (no candidate) writes no journal and tries no restart until its backoff is due; a candidate appearing runs the attempt at once', async () => {
  // john lost (its control channel answers: a restart is tried), paul and george writable by hand: no candidate.
  const b = bed({ john: { inRecovery: null, running: false }, paul: { inRecovery: false }, george: { inRecovery: false } });
  try {
    let now = Date.parse('2026-12-05T10:00:00.000Z');
    let begun = 0;
    let writes = 0;
    let clears = 0;
    const store = {
      writeJournal: async (record: { steps: unknown[] }) => {
        writes += 1;
        if (record.steps.length === 0) begun += 1;
      },
      clearJournal: async () => {
        clears += 1;
      },
    };
    Object.assign(b.env, { clock: () => new Date(now), store, refusals: new RefusalEpisodes(() => ({ reminderMs: 10 * 60 * 1000, pollMs: 1000 })) });
    const restartSteps = (): number => b.env.log.recent(300).filter((e) => e.message.includes('step restart_old_master')).length;
    const attempted: number[] = [];
    // 20 checks a second apart: attempts (journal, restart try) at 0 s, then 1, 3, 7 and 15 s (backoff 1, 2, 4, 8 s).
    for (let second = 0; second < 20; second += 1) {
      const before = begun;
      const rd = await runFailover(b.env, 'test', { preferred: null, remaster: false, automatic: true });
      assert.equal(rd.reason_code, 'no_candidate', rd.details);
      assert.equal(failoverEventOf(rd, 'failover', 0, 1, 'john') === null, begun === before, 'only a quiet repeat goes unreported to the failover listeners (handyrep_failovers_total)');
      if (begun > before) attempted.push(second);
      else assert.match(rd.details, /not restarted this time .*no failover attempted, nothing journaled; the same refusal as since/, rd.details);
      now += 1000;
    }
    assert.deepEqual(attempted, [0, 1, 3, 7, 15]);
    assert.equal(clears, 5, 'each attempt clears its journal; nothing else does');
    assert.ok(writes > 0 && writes % 5 === 0, `${writes} journal writes for 5 attempts`);
    assert.equal(restartSteps(), 5);
    assert.equal(b.book.recentHistory(100).filter((h) => h.outcome === 'FAIL').length, 1, 'one record for the episode');
    assert.equal(b.env.refusals?.current?.restartTries, 5);
    const automatic = (): Promise<TopologyRd> => runFailover(b.env, 'test', { preferred: null, remaster: false, automatic: true });
    // The master answers: the attempt runs (and is called off), never a quiet refusal; the episode ends.
    b.nodes.john = { ...(b.nodes.john as FakeNode), inRecovery: false };
    let before = begun;
    const answered = await automatic();
    assert.equal(answered.reason_code, 'stale_verdict', answered.details);
    assert.equal(begun, before + 1);
    assert.equal(b.env.refusals?.current, null, 'the episode ended: its backoff starts again with the next one');
    // Lost again: a new episode (attempted, recorded), then quiet half a second later.
    b.nodes.john = { ...(b.nodes.john as FakeNode), inRecovery: null };
    before = begun;
    assert.ok((await automatic()).history_id);
    now += 500;
    assert.equal((await automatic()).history_id, undefined);
    assert.equal(begun, before + 1, 'a new episode: attempted once, then quiet half a second later (its restart is due after 1 s)');
    // The refusal changes, still without a candidate (george down instead of writable): attempted and recorded at once.
    b.nodes.george = { ...(b.nodes.george as FakeNode), inRecovery: null };
    const other = await automatic();
    assert.equal(other.reason_code, 'no_candidate', other.details);
    assert.equal(begun, before + 2, `a changed refusal is attempted: ${other.details}`);
    assert.ok(other.history_id, `a changed refusal is recorded: ${other.details}`);
    // A candidate appears (george is a replica again; paul still writable, so no promotion): the attempt runs at once.
    b.nodes.george = { ...(b.nodes.george as FakeNode), inRecovery: true };
    const changed = await automatic();
    assert.equal(begun, before + 3, `a changed snapshot is attempted: ${changed.details}`);
  } finally {
    b.done();
  }
});

test("sync: a set recorded for another master promises nothing about john: no candidate (sync_record_stale), john restarted, nobody promoted", async () => {
  const b = syncBed(['george', 'paul'], { john: { inRecovery: null, running: false } });
  try {
    b.book.setSync({ members: ['george', 'paul'], quorum: 1, master: 'ringo', at: '2026-01-01T00:00:00.000Z', reason: 'ANY 1 of george, paul' });
    const rd = await runFailover(b.env, 'test', { preferred: null, remaster: false });
    assert.equal(rd.reason_code, 'no_candidate', rd.details);
    assert.deepEqual(rd.refusals?.map((r) => r.code), ['sync_record_stale', 'sync_record_stale']);
    assert.match(rd.details, /the recorded synchronous set describes ringo, not john/);
    assert.deepEqual(b.actions, ['restart john'], 'no promotion; the old master restarted as after any failover without a candidate');
    assert.equal(b.book.masterName(), 'john');
  } finally {
    b.done();
  }
});

test("sync: promote by hand refuses over a set recorded for another master (sync_record_stale); nothing is touched", async () => {
  const b = syncBed(['george'], { john: { inRecovery: null, running: false } });
  try {
    b.book.setSync({ members: ['george'], quorum: 1, master: 'paul', at: '2026-01-01T00:00:00.000Z', reason: 'ANY 1 of george' });
    const rd = await runPromote(b.env, 'george');
    assert.equal(rd.reason_code, 'sync_record_stale', rd.details);
    assert.deepEqual(b.actions, []);
  } finally {
    b.done();
  }
});

test('sync: promote refuses a replica outside the recorded set, naming the rule; nothing is touched', async () => {
  const b = syncBed(['george'], { john: { inRecovery: null, running: true } });
  try {
    const rd = await runPromote(b.env, 'paul');
    assert.equal(rd.result, 'FAIL');
    assert.equal(rd.reason_code, 'not_sync_member');
    assert.match(rd.details, /synchronous_mode on: only a member of the recorded synchronous set .* may be promoted; paul is not in the recorded synchronous set \(george\)/);
    assert.deepEqual(b.actions, []);
    assert.equal(b.book.masterName(), 'john');
  } finally {
    b.done();
  }
});

test('sync: promote refuses a member behind the furthest one (quorum), and promotes the furthest', async () => {
  const behind = syncBed(['george', 'paul'], { john: { inRecovery: null, running: false } });
  const furthest = syncBed(['george', 'paul'], { john: { inRecovery: null, running: false } });
  try {
    const refused = await runPromote(behind.env, 'paul');
    assert.equal(refused.reason_code, 'sync_behind', refused.details);
    assert.match(refused.details, /allowed now: george/);
    assert.deepEqual(behind.actions, []);
    const promoted = await runPromote(furthest.env, 'george');
    assert.equal(promoted.result, 'SUCCESS', promoted.details);
    assert.equal(furthest.book.masterName(), 'george');
  } finally {
    behind.done();
    furthest.done();
  }
});

test('sync: promote judges again after the fence and refuses a member no longer furthest ahead', async () => {
  const b = syncBed(['george', 'paul'], {
    john: { inRecovery: null, running: true, onStop: (nodes) => Object.assign(nodes['paul'] as FakeNode, { receiveLsn: '0/5100000' }) },
  });
  try {
    const rd = await runPromote(b.env, 'george');
    assert.equal(rd.result, 'FAIL');
    assert.equal(rd.reason_code, 'sync_behind', rd.details);
    assert.match(rd.details, /george is a synchronous member behind the furthest reachable member.*the old master john is left stopped/);
    assert.deepEqual(b.actions, ['stop john']);
  } finally {
    b.done();
  }
});

/** etcd_lease over the fakes: the master key writes go to `actions` as `record <name>`; `refuse` names who cannot be recorded. */
function withMasterKey(b: Bed, refuse: readonly string[] = []): void {
  b.env.recordMaster = async (name: string) => {
    b.actions.push(`record ${name}`);
    return refuse.includes(name) ? { ok: false, details: 'the agent of george still holds its master lease' } : { ok: true, details: `master key names ${name}` };
  };
}

test('etcd: a failover rollback names the old master in the key again before starting it', async () => {
  const b = bed({ john: { inRecovery: null, running: false }, george: { promote: 'fails' }, paul: { promote: 'fails' } });
  withMasterKey(b);
  try {
    const rd = await runFailover(b.env, 'test', { preferred: null, remaster: false });
    assert.equal(rd.reason_code, 'promotion_failed', rd.details);
    const record = b.actions.lastIndexOf('record john');
    assert.ok(record >= 0 && record < b.actions.indexOf('startup john'), b.actions.join(', '));
  } finally {
    b.done();
  }
});

test('etcd: a failover rollback whose key write fails does not start the old master', async () => {
  const b = bed({ john: { inRecovery: null, running: false }, george: { promote: 'fails' }, paul: { promote: 'fails' } });
  withMasterKey(b, ['john']);
  try {
    const rd = await runFailover(b.env, 'test', { preferred: null, remaster: false });
    assert.equal(rd.reason_code, 'promotion_failed', rd.details);
    assert.ok(b.actions.includes('record john'), b.actions.join(', '));
    assert.ok(!b.actions.includes('startup john'), b.actions.join(', '));
    assert.match(rd.details, /master key cannot name it again/);
  } finally {
    b.done();
  }
});

test('etcd: leadership lost while a switchover waits before stopping the master: no stop is issued', async () => {
  const b = bed({});
  // Allowed at the step boundary only: the next check (right before the stop) refuses.
  let checks = 0;
  b.env.mayAct = () => (++checks <= 1 ? null : 'this controller does not lead (test)');
  try {
    const rd = await runSwitchover(b.env, 'george', false);
    assert.equal(rd.result, 'FAIL', rd.details);
    assert.ok(!b.actions.some((a) => a.startsWith('stop')), b.actions.join(', '));
    assert.equal(b.nodes['john']?.running, true);
  } finally {
    b.done();
  }
});

test('etcd: a switchover rollback names the old master again, then checks leadership right before starting it', async () => {
  // The stop succeeds; pg_controldata cannot run on the fakes, so the switchover rolls back.
  const rollBackWith = async (deposedByKeyWrite: boolean, refuse: readonly string[]): Promise<Bed> => {
    const b = bed({});
    let deposed = false;
    b.env.mayAct = () => (deposed ? 'this controller does not lead (test)' : null);
    b.env.recordMaster = async (name: string) => {
      b.actions.push(`record ${name}`);
      deposed = deposedByKeyWrite;
      return refuse.includes(name) ? { ok: false, details: 'refused (test)' } : { ok: true, details: `master key names ${name}` };
    };
    await runSwitchover(b.env, 'george', false);
    return b;
  };
  const ok = await rollBackWith(false, []);
  try {
    assert.deepEqual(ok.actions, ['stop john', 'record john', 'start john']);
  } finally {
    ok.done();
  }
  const refused = await rollBackWith(false, ['john']);
  try {
    assert.deepEqual(refused.actions, ['stop john', 'record john']);
  } finally {
    refused.done();
  }
  const deposed = await rollBackWith(true, []);
  try {
    assert.deepEqual(deposed.actions, ['stop john', 'record john']);
  } finally {
    deposed.done();
  }
});

test('etcd: a refused master-key write asks nothing of the candidate: it is not stopped to settle, the next one is promoted', async () => {
  const b = bed({ john: { inRecovery: null, running: false } });
  withMasterKey(b, ['george']);
  try {
    const rd = await runFailover(b.env, 'test', { preferred: null, remaster: false });
    assert.equal(rd.result, 'SUCCESS', rd.details);
    assert.equal(b.book.masterName(), 'paul');
    assert.ok(!b.actions.some((a) => / george$/.test(a) && !a.startsWith('record')), b.actions.join(', '));
    assert.equal(b.nodes['george']?.running, true);
    const steps = b.book.recentHistory(1)[0]?.steps.map((s) => `${s.name} ${s.server ?? ''}`) ?? [];
    assert.ok(!steps.includes('settle_promotion george'), steps.join(', '));
  } finally {
    b.done();
  }
});
