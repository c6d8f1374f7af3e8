/** `handyrep agents` for people (src/cli/format-agents.ts), row by row. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatResult, type Style } from '../../src/cli/format.js';
import { agentsReport } from '../../src/engine/agents-report.js';

const plain: Style = { color: false, columns: null };
const PREFIX = '/hr/members/';
const NOW = Date.parse('2026-12-05T10:00:10.000Z');
const base = { postgres: 'running', timeline: 2, observed_at: '2026-12-05T10:00:09.000Z', agent_version: 1, server_version: '15.8', recorded_master: 'john' };
const records = {
  [`${PREFIX}john`]: JSON.stringify({ ...base, name: 'john', role: 'master', wal_position: '0/3000000' }),
  [`${PREFIX}paul`]: JSON.stringify({ ...base, name: 'paul', role: 'replica', received_lsn: '0/2F00000', replayed_lsn: '0/2F00000', master_probed: 'john', sees_master: false, sees_master_detail: 'connection refused' }),
  [`${PREFIX}george`]: JSON.stringify({ ...base, name: 'george', role: null, postgres: 'stopped', boot_step: { step: 'copy', since: '2026-12-05T09:58:00.000Z', source: 'john', reclone: true } }),
  [`${PREFIX}ringo`]: JSON.stringify({ ...base, name: 'ringo', role: 'replica', observed_at: '2026-12-05T09:59:00.000Z' }),
};
const report = agentsReport({ records, membersPrefix: PREFIX, servers: ['john', 'paul', 'george', 'pete'], nowMs: NOW, staleAfterMs: 4000, revision: '77' });
const text = formatResult('get_agents', report, plain);
const line = (name: string): string => text.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';

const rows: [string, string, RegExp][] = [
  ['the header', 'NAME', /^NAME\s+AGENT\s+ROLE\s+POSTGRES\s+TL\s+LAG \(MB\)\s+SEES MASTER\s+BOOT STEP\s+NOTE$/],
  ['a reporting master with its record age', 'john', /^john\s+ok 1\.0 s\s+master\s+running\s+2\s+-\s+-\s+-\s*$/],
  ['a replica that does not see the master: its lag and the reason', 'paul', /^paul\s+ok 1\.0 s\s+replica\s+running\s+2\s+1\.0\s+NO \(john\)\s+-\s+connection refused$/],
  ['a boot step in its column', 'george', /^george\s+ok 1\.0 s\s+-\s+stopped\s+2\s+-\s+-\s+copy from john since 09:58:00Z \(reclone\)\s*$/],
  ['no record: MISSING and why', 'pete', /^pete\s+MISSING\s+-\s+-\s+-\s+-\s+-\s+-\s+no member record: the agent is not running/],
  ['a stale record under an unknown name', 'ringo', /^ringo \(not configured\)\s+STALE 70\.0 s\s+replica\s+running\s+2\s+-\s+-\s+-\s+stale record, 70\.0 s old/],
];
for (const [label, name, expected] of rows) {
  test(`agents table: ${label}`, () => assert.match(line(name), expected, text));
}

test('agents table: the footer says when the records were read and the staleness bound', () => {
  assert.match(text, /^member records read at 2026-12-05 10:00:10Z \(etcd revision 77\); stale after 4\.0 s$/m);
});

test('agents table: nothing configured and no records', () => {
  const empty = formatResult('get_agents', agentsReport({ records: {}, membersPrefix: PREFIX, servers: [], nowMs: NOW, staleAfterMs: 4000, revision: '1' }), plain);
  assert.match(empty, /^\(no servers and no member records\)$/m);
});

test('agents table: an answer of another shape is said so, not thrown on', () => {
  assert.equal(formatResult('get_agents', { agents: 3 }, plain), '(not an answer of get_agents)');
});

test('agents table: integer-like node names keep the configured order, also through JSON', () => {
  const numbered = agentsReport({ records: { [`${PREFIX}42`]: JSON.stringify({ ...base, name: '42', role: 'replica' }), [`${PREFIX}7`]: JSON.stringify({ ...base, name: '7', role: 'replica' }) }, membersPrefix: PREFIX, servers: ['john', '42', '1'], nowMs: NOW, staleAfterMs: 4000, revision: '3' });
  const names = (answer: unknown): string[] => formatResult('get_agents', answer, plain).split('\n').slice(1, -1).map((l) => l.split(' ')[0] as string);
  assert.deepEqual(names(numbered), ['john', '42', '1', '7']);
  assert.deepEqual(names(JSON.parse(JSON.stringify(numbered))), ['john', '42', '1', '7'], 'as the REST answer arrives');
  const { order: _order, ...older } = numbered;
  assert.deepEqual(names(older), ['1', '7', '42', 'john'], "an older daemon's answer (no order): the object's order");
});

test('agents table: colours only when asked for', () => {
  assert.doesNotMatch(text, /\x1b\[/);
  assert.match(formatResult('get_agents', report, { color: true, columns: null }), /\x1b\[31mMISSING/);
});
