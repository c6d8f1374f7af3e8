/**
 * adoptAgentsMaster over a real book (fakes for etcd and the database ports): what an adoption
 * records (book as after a failover, an `adoption` history entry naming the agents' own entry),
 * that a refusal changes nothing and is alerted once while it lasts, and that nothing is probed
 * when the key names the book's master.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { AdoptionVerdict, PortAnswer } from '../../src/engine/agents-master-adoption.js';
import { syncPromotionRule } from '../../src/engine/sync-promotion.js';
import type { FailoverRecord } from '../../src/model/failover-record.js';
import { serversFromConfig } from '../../src/runtime/state-sync.js';
import { adoptAgentsMaster, type AdoptionMemory, type AgentsMasterReads, type LeaseRead } from '../../src/runtime/topology/adopt-agents-master.js';
import type { TopologyEnv } from '../../src/runtime/topology/env.js';
import type { MasterRecord } from '../../src/store/etcd/master-record.js';
import { fakeTopologyBase } from '../fixtures/fake-topology-env.js';

const CONFIG = parseConfig('servers: {john: {hostname: h-john, role: master}, paul: {hostname: h-paul, role: replica}, ringo: {hostname: h-ringo, role: replica}}\n', 'test.yaml');
const NOW = '2026-12-04T20:00:00.000Z';
const ELECTED: MasterRecord = { name: 'paul', term: '812', timeline: 2, promoted_lsn: '0/5000060', sync_set: [], since: NOW, written_by: 'agent:paul' };
const AGENTS_ENTRY: FailoverRecord = {
  id: 'e812-paul', kind: 'failover', reason: "agents' election: the master lease of john expired", started: NOW, finished: NOW, duration_ms: 900,
  from: 'john', to: 'paul', outcome: 'SUCCESS', details: "paul promoted by the agents' election", steps: [], fence: 'confirmed',
};

/** What the fake proxies and commands did (`ran`, in order), and whether they fail. */
interface Effects {
  ran: string[];
  proxyFails: boolean;
  commandFails: boolean;
  /** When set, the command notes whether this journal file exists while it runs. */
  journalFile?: string;
}

/** The plugins and checks an adoption's steps after the book change use: a proxy repoint and a post-failover command. */
function effectsEnv(effects: Effects): Pick<TopologyEnv, 'plugins' | 'checks'> {
  const connection = {
    kind: 'connection',
    proxyRoles: ['pgbouncer'],
    run: async (_ctx: unknown, routing: { master: { name: string } }, proxy: { name: string }) => {
      effects.ran.push(`repoint ${proxy.name} → ${routing.master.name}`);
      return effects.proxyFails ? { ok: false, details: `${proxy.name}: connection refused` } : { ok: true, details: `${proxy.name} routes to ${routing.master.name}` };
    },
  };
  const command = {
    kind: 'command',
    run: async (_ctx: unknown, failover: { newMaster: { name: string }; oldMaster: string | null }, parameters: readonly string[]) => {
      effects.ran.push(`command ${parameters.join(' ')} (${failover.newMaster.name}, from ${failover.oldMaster ?? 'none'})`);
      if (effects.journalFile !== undefined) effects.ran.push(`journal ${existsSync(effects.journalFile) ? 'written' : 'absent'}`);
      return effects.commandFails ? { ok: false, details: 'exit 3' } : { ok: true, details: 'exit 0' };
    },
  };
  const plugins = { get: (kind: string) => (kind === 'connection' ? connection : command) };
  const checks = { verifyServer: async (name: string) => void effects.ran.push(`verify ${name}`) };
  return { plugins, checks } as unknown as Pick<TopologyEnv, 'plugins' | 'checks'>;
}

interface Setup {
  env: TopologyEnv;
  asked: string[];
  adopt: () => Promise<AdoptionVerdict>;
  alerts: () => string[];
  done: () => void;
}

function leaseRead(held: boolean | null): LeaseRead {
  return held === null ? 'unknown' : held ? 'held' : 'absent';
}

/** The other-writable-servers probe over `answers`. */
function writableFrom(answers: Record<string, PortAnswer>): (except: readonly string[]) => Promise<string[]> {
  return async (except) => Object.entries(answers).filter(([n, a]) => a === 'writable' && !except.includes(n)).map(([n]) => n);
}

/** A book with john master and the agents' own entry; `answers` are the database ports' answers. */
function setup(
  record: MasterRecord | null,
  answers: Record<string, PortAnswer>,
  leaseHeld: boolean | null = true,
  more: { config?: typeof CONFIG; leases?: Record<string, LeaseRead>; adopted?: string[]; effects?: Effects } = {},
): Setup {
  const config = more.config ?? CONFIG;
  const base = fakeTopologyBase(serversFromConfig(config, NOW), { clock: () => new Date(NOW) });
  base.book.addHistory(AGENTS_ENTRY);
  const ctx = { config };
  const env = { ...base.base, ...effectsEnv(more.effects ?? { ran: [], proxyFails: false, commandFails: false }), mayAct: () => null, ctx: () => ctx } as unknown as TopologyEnv;
  const asked: string[] = [];
  const ask = async (name: string): Promise<PortAnswer> => (asked.push(name), answers[name] ?? 'no_answer');
  const reads: AgentsMasterReads = {
    masterRecord: async () => record,
    lease: async (node) => more.leases?.[node] ?? leaseRead(leaseHeld),
    adopted: async (node) => void more.adopted?.push(node),
  };
  const memory: AdoptionMemory = { lastRefusal: null };
  return {
    env,
    asked,
    adopt: () => adoptAgentsMaster(env, reads, memory, { ask, otherWritable: writableFrom(answers) }),
    alerts: () => base.log.recent(300).filter((e) => e.alert !== undefined && /not adopting/.test(e.message)).map((e) => e.message),
    done: base.done,
  };
}

test("adoption: the agents' master becomes the book's master, john fenced (refused: confirmed), an adoption entry names the agents' own", async () => {
  const s = setup(ELECTED, { paul: 'writable', john: 'refused' });
  try {
    const verdict = await s.adopt();
    assert.equal(verdict.action, 'adopt', verdict.why);
    const book = s.env.book;
    assert.equal(book.masterName(), 'paul');
    assert.deepEqual([book.get('john').role, book.get('john').enabled, book.get('john').fenced, book.get('john').fence_unconfirmed], ['replica', false, true, false]);
    assert.equal(book.get('ringo').role, 'replica');
    const [entry] = book.recentHistory(1);
    assert.equal(entry?.kind, 'adoption');
    assert.deepEqual([entry?.from, entry?.to, entry?.outcome, entry?.fence], ['john', 'paul', 'SUCCESS', 'confirmed']);
    assert.match(entry?.details ?? '', /^adopted after the agents' election: paul .*the agents' own entry: e812-paul$/);
    assert.deepEqual(s.asked.sort(), ['john', 'paul']);
  } finally {
    s.done();
  }
});

test('adoption: an old master that answers read-only stays an enabled replica', async () => {
  const s = setup(ELECTED, { paul: 'writable', john: 'read_only' });
  try {
    const verdict = await s.adopt();
    assert.equal(verdict.action, 'adopt');
    assert.deepEqual([s.env.book.get('john').role, s.env.book.get('john').enabled, s.env.book.get('john').fenced], ['replica', true, false]);
  } finally {
    s.done();
  }
});

test('adoption refused (lease not held): the book is unchanged, one alert while the same refusal lasts', async () => {
  const s = setup(ELECTED, { paul: 'writable', john: 'no_answer' }, false);
  try {
    const adopt = s.adopt;
    const revision = s.env.book.topologyRevision;
    assert.equal((await adopt()).action, 'refuse');
    assert.equal((await adopt()).action, 'refuse');
    assert.equal(s.env.book.masterName(), 'john');
    assert.equal(s.env.book.topologyRevision, revision, 'no server definition changed');
    assert.equal(s.env.book.recentHistory(5).length, 1, 'no history entry added');
    assert.equal(s.alerts().length, 1, s.alerts().join('\n'));
  } finally {
    s.done();
  }
});

test("adoption: a key naming the book's master probes nothing and changes nothing", async () => {
  const s = setup({ ...ELECTED, name: 'john', written_by: 'agent:john' }, {});
  try {
    const verdict = await s.adopt();
    assert.deepEqual([verdict.action, 'code' in verdict ? verdict.code : null], ['none', 'same_master']);
    assert.deepEqual(s.asked, []);
  } finally {
    s.done();
  }
});

const SYNC_CONFIG = parseConfig(
  'failover: {synchronous_mode: "on", synchronous_node_count: 1}\nservers: {john: {hostname: h-john, role: master}, paul: {hostname: h-paul, role: replica}, ringo: {hostname: h-ringo, role: replica}}\n',
  'test.yaml',
);
/** The set the last controller kept for john: paul and ringo, one of them has every acknowledged commit. */
const JOHNS_SET = { members: ['paul', 'ringo'], quorum: 1, master: 'john', at: NOW, reason: 'ANY 1 of paul, ringo' };

function syncSetup(persist: () => boolean): { env: TopologyEnv; adopt: () => Promise<AdoptionVerdict>; done: () => void } {
  const base = fakeTopologyBase(serversFromConfig(SYNC_CONFIG, NOW), { clock: () => new Date(NOW), persist });
  base.book.setSync(JOHNS_SET);
  const ctx = { config: SYNC_CONFIG };
  const env = { ...base.base, ...effectsEnv({ ran: [], proxyFails: false, commandFails: false }), mayAct: () => null, ctx: () => ctx } as unknown as TopologyEnv;
  const answers: Record<string, PortAnswer> = { paul: 'writable', john: 'refused' };
  const reads: AgentsMasterReads = { masterRecord: async () => ELECTED, lease: async () => 'held' };
  const ask = async (name: string): Promise<PortAnswer> => answers[name] ?? 'no_answer';
  return { env, adopt: () => adoptAgentsMaster(env, reads, { lastRefusal: null }, { ask, otherWritable: writableFrom(answers) }), done: base.done };
}

test("adoption under synchronous_mode: the set is recorded for the adopted master (the others, quorum 0), the old master is no member; the next failover's rule is the one after a promotion", async () => {
  const s = syncSetup(() => true);
  try {
    assert.equal((await s.adopt()).action, 'adopt');
    const recorded = s.env.book.syncRecord();
    assert.deepEqual([recorded?.master, recorded?.members, recorded?.quorum], ['paul', ['ringo'], 0]);
    assert.match(recorded?.reason ?? '', /adopted paul after the agents' election/);
    assert.match(s.env.book.recentHistory(1)[0]?.details ?? '', /synchronous set: adopted paul/);
    // paul (the adopted master) lost next: john, fenced, is no candidate whatever its position; ringo may be.
    const rule = syncPromotionRule('on', recorded, [
      { name: 'john', reachable: true, receiveLsn: '0/9000000' },
      { name: 'ringo', reachable: true, receiveLsn: '0/5000000' },
    ]);
    assert.equal(rule.kind, 'any_candidate', 'quorum 0: nothing promised until the maintenance records a quorum');
    assert.match(rule.kind === 'any_candidate' ? (rule.warning ?? '') : '', /may lose acknowledged writes/);
    assert.equal(s.env.book.get('john').fenced, true, 'john is excluded from any selection as a fenced server');
  } finally {
    s.done();
  }
});

test('adoption under synchronous_mode: a set that cannot be saved adopts nothing (book and recorded set unchanged)', async () => {
  const s = syncSetup(() => false);
  try {
    const verdict = await s.adopt();
    assert.deepEqual([verdict.action, 'code' in verdict ? verdict.code : null], ['refuse', 'sync_unsaved']);
    assert.equal(s.env.book.masterName(), 'john');
    assert.deepEqual(s.env.book.syncRecord(), JOHNS_SET);
    assert.equal(s.env.book.recentHistory(5).length, 0);
  } finally {
    s.done();
  }
});

test('adoption refused: a third server answers writable too (CRITICAL alert, book unchanged)', async () => {
  const s = setup(ELECTED, { paul: 'writable', john: 'refused', ringo: 'writable' });
  try {
    const verdict = await s.adopt();
    assert.deepEqual([verdict.action, 'code' in verdict ? verdict.code : null], ['refuse', 'other_writable']);
    assert.equal(s.env.book.masterName(), 'john');
    assert.match(s.alerts()[0] ?? '', /ringo ALSO answers writable/);
  } finally {
    s.done();
  }
});

test('adoption refused: a master_lease key put without a lease (lease 0) is no lease held', async () => {
  const s = setup(ELECTED, { paul: 'writable', john: 'refused' }, true, { leases: { paul: 'by_hand' } });
  try {
    const verdict = await s.adopt();
    assert.deepEqual([verdict.action, 'code' in verdict ? verdict.code : null], ['refuse', 'lease_not_held']);
  } finally {
    s.done();
  }
});

test("adoption: the adopted master's lease is noted as seen held (an agent_lease failover of it needs no healthy check first)", async () => {
  const adopted: string[] = [];
  const s = setup(ELECTED, { paul: 'writable', john: 'refused' }, true, { adopted });
  try {
    assert.equal((await s.adopt()).action, 'adopt');
    assert.deepEqual(adopted, ['paul']);
  } finally {
    s.done();
  }
});

const AGENT_LEASE = parseConfig(
  'handyrep: {store: etcd}\netcd: {endpoints: [http://127.0.0.1:2379]}\nfailover: {unreachable_master: agent_lease}\nservers: {john: {hostname: h-john, role: master}, paul: {hostname: h-paul, role: replica}, ringo: {hostname: h-ringo, role: replica}}\n',
  'test.yaml',
);

test("adoption (agent_lease): a silent old master whose lease is gone is fenced confirmed (the agents' take proved it), so it blocks no later failover", async () => {
  const s = setup(ELECTED, { paul: 'writable', john: 'no_answer' }, true, { config: AGENT_LEASE, leases: { paul: 'held', john: 'absent' } });
  try {
    assert.equal((await s.adopt()).action, 'adopt');
    assert.deepEqual([s.env.book.get('john').fenced, s.env.book.get('john').fence_unconfirmed], [true, false]);
    assert.equal(s.env.book.recentHistory(1)[0]?.fence, 'confirmed');
  } finally {
    s.done();
  }
});

test("adoption refused (agent_lease): the old master's lease is still held", async () => {
  const s = setup(ELECTED, { paul: 'writable', john: 'no_answer' }, true, { config: AGENT_LEASE, leases: { paul: 'held', john: 'held' } });
  try {
    const verdict = await s.adopt();
    assert.deepEqual([verdict.action, 'code' in verdict ? verdict.code : null], ['refuse', 'old_master_lease_held']);
    assert.equal(s.env.book.masterName(), 'john');
  } finally {
    s.done();
  }
});

const AGENTS_DEPLOYMENT = parseConfig(
  'handyrep: {deployment: agents, store: etcd}\netcd: {endpoints: [http://127.0.0.1:2379]}\nservers: {john: {hostname: h-john, role: master}, paul: {hostname: h-paul, role: replica}, ringo: {hostname: h-ringo, role: replica}}\n',
  'test.yaml',
);

test('adoption in deployment agents: the old master stays an enabled replica (not fenced: the agents still may elect it later)', async () => {
  const s = setup(ELECTED, { paul: 'writable', john: 'no_answer' }, true, { config: AGENTS_DEPLOYMENT });
  try {
    assert.equal((await s.adopt()).action, 'adopt');
    const john = s.env.book.get('john');
    assert.deepEqual([john.role, john.enabled, john.fenced], ['replica', true, false]);
    assert.equal(s.env.book.masterName(), 'paul');
    assert.equal(s.env.book.recentHistory(1)[0]?.fence, undefined, 'no fence reported: nobody was fenced');
  } finally {
    s.done();
  }
});

test('adoption: facts gathered outside the queue, the book changed before its turn → nothing adopted (looked at again next time)', async () => {
  const s = setup(ELECTED, { paul: 'writable', john: 'refused' });
  try {
    const reads: AgentsMasterReads = { masterRecord: async () => ELECTED, lease: async () => 'held' };
    const verdict = await adoptAgentsMaster(s.env, reads, { lastRefusal: null }, {
      ask: async (name) => (name === 'paul' ? 'writable' : 'refused'),
      otherWritable: async () => [],
      // Another action got in first and disabled ringo.
      alone: async (run) => {
        s.env.book.putServer('ringo', { ...s.env.book.get('ringo'), enabled: false }, 'disabled by an operator');
        return run();
      },
    });
    assert.deepEqual([verdict.action, 'code' in verdict ? verdict.code : null], ['none', 'book_changed']);
    assert.equal(s.env.book.masterName(), 'john');
  } finally {
    s.done();
  }
});

test("adoption: the named node's lease ended while waiting for the queue → nothing adopted", async () => {
  const s = setup(ELECTED, { paul: 'writable', john: 'refused' });
  try {
    let reads = 0;
    const verdict = await adoptAgentsMaster(s.env, { masterRecord: async () => ELECTED, lease: async () => (++reads === 1 ? 'held' : 'absent') }, { lastRefusal: null }, {
      ask: async (name) => (name === 'paul' ? 'writable' : 'refused'),
      otherWritable: async () => [],
    });
    assert.deepEqual([verdict.action, 'code' in verdict ? verdict.code : null], ['none', 'book_changed']);
    assert.equal(s.env.book.masterName(), 'john');
  } finally {
    s.done();
  }
});

const WITH_PROXY_AND_COMMAND = parseConfig(
  [
    'failover: {connection_failover_method: multi_pgbouncer}',
    'extra_failover_commands: {notify: {command: local_command, parameters: [/bin/true, x]}}',
    'servers: {john: {hostname: h-john, role: master}, paul: {hostname: h-paul, role: replica}, ringo: {hostname: h-ringo, role: replica}, bouncer: {hostname: h-bouncer, role: pgbouncer}}',
    '',
  ].join('\n'),
  'test.yaml',
);

test("adoption with proxies and extra_failover_commands: the step table's plan (adopt → connection_failover → extra_command), each step in the adoption entry", async () => {
  const effects: Effects = { ran: [], proxyFails: false, commandFails: false };
  const s = setup(ELECTED, { paul: 'writable', john: 'refused' }, true, { config: WITH_PROXY_AND_COMMAND, effects });
  try {
    // Journaled while it runs (a controller stopped mid-adoption rolls forward from it: recovery.ts), cleared once saved.
    effects.journalFile = `${s.env.serverFile}.journal`;
    assert.equal((await s.adopt()).action, 'adopt');
    assert.deepEqual(effects.ran, ['repoint bouncer → paul', 'command /bin/true x (paul, from john)', 'journal written', 'verify paul']);
    assert.equal(existsSync(effects.journalFile), false, 'the journal is cleared once the entry is saved');
    const [entry] = s.env.book.recentHistory(1);
    assert.equal(entry?.kind, 'adoption');
    assert.deepEqual(entry?.plan, ['adopt paul', 'connection_failover paul', 'extra_command:notify']);
    assert.deepEqual(entry?.steps.map((st) => `${st.name} ${st.outcome}`), ['adopt ok', 'connection_failover ok', 'extra_command:notify ok']);
    assert.equal(entry?.off_plan, undefined);
    assert.deepEqual([entry?.outcome, entry?.from, entry?.to, entry?.fence], ['SUCCESS', 'john', 'paul', 'confirmed']);
    assert.equal(s.env.book.masterName(), 'paul');
    assert.equal(s.env.book.get('bouncer').status, 'healthy');
  } finally {
    s.done();
  }
});

test('adoption: a failed proxy repoint does not undo it (paul stays master, the commands still run), the step is failed in the entry, the cluster in warning, one WARNING alert', async () => {
  const effects: Effects = { ran: [], proxyFails: true, commandFails: true };
  const s = setup(ELECTED, { paul: 'writable', john: 'refused' }, true, { config: WITH_PROXY_AND_COMMAND, effects });
  try {
    assert.equal((await s.adopt()).action, 'adopt');
    assert.equal(s.env.book.masterName(), 'paul');
    assert.equal(s.env.book.get('john').fenced, true);
    assert.deepEqual(effects.ran, ['repoint bouncer → paul', 'command /bin/true x (paul, from john)', 'verify paul']);
    const [entry] = s.env.book.recentHistory(1);
    assert.deepEqual(entry?.steps.map((st) => `${st.name} ${st.outcome}`), ['adopt ok', 'connection_failover failed', 'extra_command:notify failed']);
    assert.equal(entry?.outcome, 'SUCCESS', 'the adoption stands');
    assert.match(entry?.details ?? '', /with problems: connection failover failed .*post-failover command notify failed: exit 3; the agents' own entry: e812-paul$/);
    assert.equal(s.env.book.clusterStatus.status, 'warning');
    const alerts = (s.env.log as unknown as { recent: (n: number) => { message: string; alert?: string }[] }).recent(300).filter((e) => e.alert === 'WARNING' && /^after adopting paul/.test(e.message));
    assert.equal(alerts.length, 1);
    assert.match(alerts[0]?.message ?? '', /the adoption stands: paul is the writable master/);
  } finally {
    s.done();
  }
});

test("adoption: an agents' take not yet confirmed, 5 s old → wait (book unchanged, no alert), logged once while the same take lasts", async () => {
  const inFlight: MasterRecord = { ...ELECTED, timeline: null, promoted_lsn: null, since: new Date(Date.parse(NOW) - 5000).toISOString() };
  const s = setup(inFlight, { paul: 'read_only', john: 'no_answer' });
  try {
    const first = await s.adopt();
    const second = await s.adopt();
    assert.deepEqual([first.action, second.action], ['wait', 'wait']);
    assert.equal(s.env.book.masterName(), 'john');
    assert.equal(s.env.book.recentHistory(5).length, 1, 'no history entry added');
    assert.deepEqual(s.alerts(), []);
    const lines = s.env.log.recent(300).filter((e) => /^waiting for the agents' election/.test(e.message));
    assert.equal(lines.length, 1, lines.map((e) => e.message).join('\n'));
  } finally {
    s.done();
  }
});
