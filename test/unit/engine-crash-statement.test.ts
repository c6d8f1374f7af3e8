/**
 * engine/crash-statement.ts, row by row: only a record saying `crashed`, written at the very
 * revision the master's lease was deleted (the agent's release transaction), states the crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crashStated, type CrashStatementFacts } from '../../src/engine/crash-statement.js';

const rows: [label: string, facts: CrashStatementFacts, stated: boolean, reason: RegExp][] = [
  ['crashed, written with the release', { lapseRevision: '41', record: { postgres: 'crashed', modRevision: '41' } }, true, /in the transaction that released the lease \(revision 41\)/],
  ['crashed, written before the lease went (an older statement)', { lapseRevision: '41', record: { postgres: 'crashed', modRevision: '40' } }, false, /written at revision 40, not with the lease's release \(revision 41\)/],
  ['crashed, written after (not as of the lapse: never read so, refused all the same)', { lapseRevision: '41', record: { postgres: 'crashed', modRevision: '42' } }, false, /revision 42/],
  ['running', { lapseRevision: '41', record: { postgres: 'running', modRevision: '41' } }, false, /says PostgreSQL running, not crashed/],
  ['stopped (a stop outside HandyRep, may be undone)', { lapseRevision: '41', record: { postgres: 'stopped', modRevision: '41' } }, false, /stopped/],
  ['a record that is not a member record (postgres unknown)', { lapseRevision: '41', record: { postgres: null, modRevision: '41' } }, false, /unknown/],
  ['no record (a lost host whose member key expired, an agent without one)', { lapseRevision: '41', record: null }, false, /no member record of the master as of revision 41/],
  ['lapse revision unknown', { lapseRevision: null, record: { postgres: 'crashed', modRevision: '41' } }, false, /revision of the lapse is unknown/],
];

for (const [label, facts, stated, reason] of rows) {
  test(`crashStated: ${label} → ${stated ? 'stated' : 'not stated'}`, () => {
    const verdict = crashStated(facts);
    assert.equal(verdict.stated, stated);
    assert.match(verdict.reason, reason);
  });
}
