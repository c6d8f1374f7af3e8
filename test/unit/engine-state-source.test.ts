import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../src/config/schema.js';
import { chooseStateSource, newestFirst, type StateCandidate } from '../../src/engine/state-source.js';
import type { SavedState } from '../../src/store/saved-state.js';
import { makeClusterStatus } from '../../src/model/status.js';

const defaults = configSchema.parse({}).server_defaults;
const NOW = '2026-01-01T00:00:00.000Z';
const GOOD = { john: { hostname: '127.0.0.11', role: 'master', enabled: true }, paul: { hostname: '127.0.0.12', role: 'replica', enabled: true } };

function state(version: number, updated_ms: number, servers: unknown = GOOD): SavedState {
  return { format: 'handyrep-state', version, updated_ms, servers: servers as SavedState['servers'], status: makeClusterStatus('unknown', '', 'x') };
}
const file = (version: number, ms: number, servers?: unknown): StateCandidate => ({ from: 'file', where: 'servers.save', state: state(version, ms, servers) });
const table = (where: string, version: number, ms: number, servers?: unknown): StateCandidate => ({ from: 'table', where, state: state(version, ms, servers) });

/** "from:where" of the chosen copy, or "config". */
function chosen(override: boolean, candidates: StateCandidate[]): string {
  const { source } = chooseStateSource(override, candidates, defaults, NOW);
  return source.from === 'config' ? 'config' : `${source.from}:${source.where}`;
}

test('the newest copy wins, whichever was read first; override forces the configuration file', () => {
  const rows: [string, boolean, StateCandidate[], string][] = [
    ['override', true, [file(5, 5), table('john', 6, 6)], 'config'],
    ['newer table', false, [file(5, 5), table('john', 6, 6)], 'table:john'],
    ['higher version beats a later clock', false, [file(7, 5), table('john', 6, 9)], 'file:servers.save'],
    ['same version: later clock', false, [file(6, 5), table('john', 6, 9)], 'table:john'],
    ['full tie: the file', false, [file(6, 9), table('john', 6, 9)], 'file:servers.save'],
    ['only a table', false, [table('john', 1, 1)], 'table:john'],
    ['only the file', false, [file(1, 1)], 'file:servers.save'],
    ['nothing saved', false, [], 'config'],
    ['the newer table answered second', false, [file(3, 3), table('john', 4, 4), table('paul', 9, 9)], 'table:paul'],
    ['a stale master table, newer replica table', false, [table('john', 4, 4), table('paul', 5, 1), table('george', 5, 0)], 'table:paul'],
    ['tables tie: the first asked', false, [table('john', 5, 5), table('paul', 5, 5)], 'table:john'],
  ];
  for (const [what, override, candidates, expected] of rows) assert.equal(chosen(override, candidates), expected, what);
});

test('newestFirst orders by version, then clock, then the order given', () => {
  const order = newestFirst([file(2, 9), table('a', 3, 1), table('b', 3, 2), table('c', 2, 9)]).map((c) => c.where);
  assert.deepEqual(order, ['b', 'a', 'servers.save', 'c']);
});

test('an unusable newest copy is skipped for the next newest, with a note; none usable: the configuration file', () => {
  const garbage = { 'bad name!': { hostname: 'x', role: 'master', enabled: true } };
  const badMaster = { ...GOOD, john: { hostname: '127.0.0.11; rm -rf /', role: 'master', enabled: true } };
  const rows: [string, StateCandidate[], string, RegExp][] = [
    ['no valid record', [table('john', 9, 9, garbage), file(5, 5)], 'file:servers.save', /handyrep table on john \(version 9\): none of its 1 server records is valid/],
    ['master record rejected', [table('paul', 9, 9, badMaster), file(5, 5)], 'file:servers.save', /table on paul .*master record john is invalid/],
    ['not a mapping', [file(9, 9, []), table('john', 5, 5)], 'table:john', /server file servers.save \(version 9\): it holds no mapping/],
    ['empty', [file(9, 9, {}), table('john', 5, 5)], 'table:john', /holds no server records/],
    ['none usable', [file(9, 9, garbage), table('john', 5, 5, {})], 'config', /ignoring/],
  ];
  for (const [what, candidates, expected, note] of rows) {
    const choice = chooseStateSource(false, candidates, defaults, NOW);
    assert.equal(chosen(false, candidates), expected, what);
    assert.match(choice.notes.join('\n'), note, what);
  }
  assert.match(chooseStateSource(false, [file(9, 9, garbage)], defaults, NOW).source.reason, /no usable saved state/);
});

test('a rejected replica record is left out and noted; the rest of the copy is used', () => {
  const servers = { ...GOOD, george: { hostname: '$(reboot)', role: 'replica', enabled: true } };
  const choice = chooseStateSource(false, [table('john', 3, 3, servers)], defaults, NOW);
  assert.deepEqual(Object.keys(choice.servers ?? {}).sort(), ['john', 'paul']);
  assert.match(choice.notes.join('\n'), /ignoring saved server record george from the handyrep table on john \(version 3\): hostname: must be a hostname/);
});
