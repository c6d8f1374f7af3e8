/** get_agents' entries from raw member records (src/engine/agents-report.ts), row by row. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentsReport, type AgentsReportInput } from '../../src/engine/agents-report.js';
import { memberRecord } from '../../src/agent/member-record.js';
import { agentNamesInOrder, type AgentEntry } from '../../src/model/agent-report.js';
import { HandyRepError } from '../../src/model/errors.js';
import { SimWorld } from '../fixtures/simulated-handyrep.js';

const PREFIX = '/hr/members/';
const NOW = Date.parse('2026-12-05T10:00:10.000Z');
const AT = '2026-12-05T10:00:08.000Z';

/** A record as an agent writes it (member-record.ts), with fields changed. */
function record(name: string, over: Record<string, unknown> = {}): string {
  const master = name === 'john';
  const facts = {
    in_recovery: !master, timeline: 3, wal_position: master ? '0/5000000' : '0/4F00000', received_lsn: master ? null : '0/4FF0000', replayed_lsn: master ? null : '0/4F00000',
    wal_receiver: master ? null : 'streaming', sender_host: master ? null : '10.0.0.1', replay_lag_bytes: null, server_version: '15.8',
  };
  const base = memberRecord(name, { state: 'running', writable: master }, facts, { state: 'present', record: { name: 'john' } } as never, null, AT);
  return JSON.stringify({ ...base, ...over });
}

function report(records: Record<string, string>, servers = ['john', 'paul', 'george'], nowMs = NOW): Record<string, AgentEntry> {
  const input: AgentsReportInput = { records: Object.fromEntries(Object.entries(records).map(([node, text]) => [`${PREFIX}${node}`, text])), membersPrefix: PREFIX, servers, nowMs, staleAfterMs: 4000, revision: '42' };
  return agentsReport(input).agents;
}

const all = (): Record<string, string> => ({ john: record('john'), paul: record('paul'), george: record('george') });

test('every agent reporting: role, PostgreSQL, timeline, positions, versions and the age from observed_at', () => {
  const agents = report(all());
  assert.deepEqual(Object.keys(agents), ['john', 'paul', 'george'], 'configuration order');
  const john = agents['john'] as AgentEntry;
  assert.deepEqual([john.state, john.problem, john.configured, john.role, john.postgres, john.timeline, john.age_ms, john.server_version, john.agent_version], ['reporting', null, true, 'master', 'running', 3, 2000, '15.8', 1]);
  const paul = agents['paul'] as AgentEntry;
  assert.deepEqual([paul.role, paul.in_recovery, paul.wal_receiver, paul.recorded_master, paul.received_lsn], ['replica', true, 'streaming', 'john', '0/4FF0000']);
  assert.equal(paul.lag_bytes, 0x5000000 - 0x4ff0000, "from the replica's furthest position to the master's published one");
  assert.equal(john.lag_bytes, null, 'a master has no lag');
});

test('the report carries the read time, the revision and the staleness bound', () => {
  const whole = agentsReport({ records: {}, membersPrefix: PREFIX, servers: [], nowMs: NOW, staleAfterMs: 4000, revision: '42' });
  assert.deepEqual(whole, { read_at: '2026-12-05T10:00:10.000Z', revision: '42', stale_after_ms: 4000, agents: {}, order: [] });
});

const rows: [string, Record<string, string>, string, Partial<AgentEntry>][] = [
  ['no record: missing', { john: record('john'), paul: record('paul') }, 'george', { state: 'missing', role: null, age_ms: null }],
  ['older than the ttl: stale, its facts still shown', { ...all(), george: record('george', { observed_at: '2026-12-05T10:00:00.000Z' }) }, 'george', { state: 'stale', age_ms: 10_000, role: 'replica' }],
  ['ahead of the clock by more than the ttl: stale', { ...all(), george: record('george', { observed_at: '2026-12-05T10:01:00.000Z' }) }, 'george', { state: 'stale', age_ms: -50_000 }],
  ['no observation time: stale', { ...all(), george: record('george', { observed_at: null }) }, 'george', { state: 'stale', age_ms: null }],
  ['not JSON: unreadable', { ...all(), george: '{oops' }, 'george', { state: 'unreadable', role: null }],
  ['a JSON array: unreadable', { ...all(), george: '[1]' }, 'george', { state: 'unreadable' }],
  ['no postgres field: unreadable', { ...all(), george: JSON.stringify({ name: 'george' }) }, 'george', { state: 'unreadable' }],
  ["paul's record under george's key: misnamed", { ...all(), george: record('paul') }, 'george', { state: 'misnamed', record_name: 'paul' }],
  ['under a name not configured: flagged', { ...all(), ringo: record('ringo') }, 'ringo', { state: 'reporting', configured: false, problem: 'no server of that name is configured' }],
  ['a clone by the boot', { ...all(), george: record('george', { postgres: 'stopped', role: null, boot_step: { step: 'copy', since: AT, source: 'john', reclone: true } }) }, 'george', { state: 'reporting', postgres: 'stopped', boot_step: { step: 'copy', since: AT, source: 'john', reclone: true } }],
  ["an older agent's boot_copy: a copy", { ...all(), george: record('george', { boot_copy: { source: 'john', since: AT, reclone: false } }) }, 'george', { boot_step: { step: 'copy', since: AT, source: 'john', reclone: false } }],
  ['a boot step of unknown name: none shown', { ...all(), george: record('george', { boot_step: { step: 'dance', since: AT, source: null, reclone: false } }) }, 'george', { boot_step: null }],
  ['a rewind', { ...all(), george: record('george', { boot_step: { step: 'rewind', since: AT, source: 'john', reclone: false } }) }, 'george', { boot_step: { step: 'rewind', since: AT, source: 'john', reclone: false } }],
  ['does not see the master', { ...all(), george: record('george', { master_probed: 'john', sees_master: false, sees_master_detail: 'connection refused', probed_at: AT }) }, 'george', { sees_master: false, sees_master_detail: 'connection refused', master_probed: 'john' }],
  ['terminal escapes in a text: made printable', { ...all(), george: record('george', { sees_master_detail: 'bad\x1b[31m red' }) }, 'george', { sees_master_detail: 'bad?[31m red' }],
  ['positions that are not LSNs: none', { ...all(), george: record('george', { wal_position: 'x', received_lsn: 5 }) }, 'george', { wal_position: null, received_lsn: null }],
  ['a timeline that is not one: none', { ...all(), george: record('george', { timeline: 0 }) }, 'george', { timeline: null }],
  ['master stale: no lag for its replicas', { ...all(), john: record('john', { observed_at: '2026-12-05T09:00:00.000Z' }) }, 'paul', { lag_bytes: null, state: 'reporting' }],
  ['master stopped: no lag', { ...all(), john: record('john', { postgres: 'stopped' }) }, 'paul', { lag_bytes: null }],
  ['replica ahead of the published position: lag 0', { ...all(), paul: record('paul', { received_lsn: '0/6000000' }) }, 'paul', { lag_bytes: 0 }],
];
for (const [label, records, node, expected] of rows) {
  test(`agents report: ${label}`, () => {
    const entry = report(records)[node];
    assert.ok(entry, `an entry for ${node}`);
    for (const [key, value] of Object.entries(expected)) assert.deepEqual(entry[key as keyof AgentEntry], value, `${key} of ${JSON.stringify(entry)}`);
    if (entry.state !== 'reporting') assert.ok(entry.problem !== null && entry.problem.length > 0, 'a problem says why');
  });
}

test('problems name what is wrong', () => {
  const agents = report({ john: record('john'), paul: record('paul', { observed_at: '2026-12-05T10:00:00.000Z' }), george: record('john') });
  assert.match(agents['paul']?.problem ?? '', /^stale record, 10\.0 s old \(stale after 4\.0 s\)/);
  assert.match(agents['george']?.problem ?? '', /names john/);
  assert.match(report({})['john']?.problem ?? '', /no member record: the agent is not running/);
});

test('unknown names come after the configured servers, sorted; keys outside the folder are ignored', () => {
  const agents = agentsReport({ records: { [`${PREFIX}zed`]: record('zed'), [`${PREFIX}abe`]: record('abe'), '/hr/master': '{}' }, membersPrefix: PREFIX, servers: ['paul'], nowMs: NOW, staleAfterMs: 4000, revision: '1' }).agents;
  assert.deepEqual(Object.keys(agents), ['paul', 'abe', 'zed']);
});

const orders: [string, string[], string[], string[]][] = [
  ['integer-like configured names keep the configuration order', ['john', '42', '1'], ['john', '42', '1'], ['john', '42', '1']],
  ['integer-like unknown names come after the configured ones, sorted as text', ['john', 'paul'], ['john', 'paul', '10', '9'], ['john', 'paul', '10', '9']],
  ['all integer-like, configured and not', ['3', '2'], ['3', '2', '1'], ['3', '2', '1']],
  ['a name with a leading zero or a sign is not integer-like to JavaScript: kept as well', ['07', '-1', '5'], ['07', '-1', '5'], ['07', '-1', '5']],
];
for (const [label, servers, recorded, expected] of orders) {
  test(`agents report order: ${label}`, () => {
    const records = Object.fromEntries(recorded.map((n) => [`${PREFIX}${n}`, record(n)]));
    const whole = agentsReport({ records, membersPrefix: PREFIX, servers, nowMs: NOW, staleAfterMs: 4000, revision: '1' });
    assert.deepEqual(whole.order, expected);
    const wire = JSON.parse(JSON.stringify(whole)) as typeof whole;
    assert.deepEqual(agentNamesInOrder(wire.agents, wire.order), expected, 'through JSON, as REST and the dashboard read it');
    assert.deepEqual(Object.keys(wire.agents).sort(), [...expected].sort(), 'the object keeps every entry');
  });
}

test("the names' order read leniently: no order (an older daemon), an order with strangers or gaps", () => {
  const agents = { '2': 0, b: 0, '1': 0, a: 0 };
  assert.deepEqual(agentNamesInOrder(agents, undefined), ['1', '2', 'b', 'a']);
  assert.deepEqual(agentNamesInOrder(agents, 'b,a'), ['1', '2', 'b', 'a']);
  assert.deepEqual(agentNamesInOrder(agents, ['a', 'x', 7, 'a', '2']), ['a', '2', '1', 'b'], 'unknown and repeated names dropped, the rest after');
  assert.deepEqual(agentNamesInOrder(agents, ['toString']), ['1', '2', 'b', 'a'], 'only own keys');
});

test('get_agents without etcd: refused, saying there are no agents', async () => {
  const world = new SimWorld();
  try {
    const hr = await world.open(world.configFile('ctl'));
    await assert.rejects(hr.get_agents(), (err: unknown) => err instanceof HandyRepError && err.code === 'REFUSED' && /no etcd .*no node agents/.test(err.message));
  } finally {
    await world.done();
  }
});

test('a record under members/__proto__ is listed as an entry of its own, not dropped', () => {
  const report = agentsReport({ records: { '/h/members/__proto__': '{"name":"__proto__","postgres":"running"}' }, membersPrefix: '/h/members/', servers: ['john'], nowMs: Date.parse('2026-12-05T10:00:00Z'), staleAfterMs: 10_000, revision: '7' });
  assert.ok(Object.hasOwn(report.agents, '__proto__'));
  assert.equal(report.agents['__proto__']?.configured, false);
  assert.equal(Object.getPrototypeOf(report.agents), Object.prototype);
});
