/** When `handyrep store migrate` may copy, row by row (src/store/admin/migration-verdict.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { migrationVerdict, type MigrationFacts } from '../../src/store/admin/migration-verdict.js';
import type { FailoverRecord } from '../../src/model/failover-record.js';
import type { SavedState } from '../../src/store/saved-state.js';

const state = { format: 'handyrep-state', version: 7, updated_ms: Date.UTC(2026, 11, 4), servers: { john: {}, paul: {} }, status: {} } as unknown as SavedState;
const journal = { id: 'f-1', kind: 'failover', started: '2026-12-04T10:00:00.000Z' } as unknown as FailoverRecord;
const base: MigrationFacts = { from: 'local', to: 'etcd', source: { kind: 'ok', state }, sourceJournal: null, target: { kind: 'missing' }, targetJournal: null, overwrite: false };

const rows: [string, Partial<MigrationFacts>, RegExp | { replacing: boolean }][] = [
  ['an empty target gets the copy', {}, { replacing: false }],
  ['the same store on both sides', { from: 'etcd', to: 'etcd' }, /already in the etcd store/],
  ['nothing to copy', { source: { kind: 'missing' } }, /local store holds no state/],
  ['a synchronous standby record, to etcd (the etcd store keeps it with the cluster head)', { source: { kind: 'ok', state: { ...state, sync: { members: ['paul'], quorum: 1, master: 'john', at: '2026-12-04T10:00:00.000Z', reason: 'test' } } as unknown as SavedState } }, { replacing: false }],
  ['an unreadable source', { source: { kind: 'invalid', reason: 'not JSON' } }, /cannot be read: not JSON/],
  ['an interrupted change in the source', { sourceJournal: journal }, /local store records an interrupted failover \(f-1, started 2026-12-04T10:00:00.000Z\): start a daemon on the local store/],
  ['an interrupted change in the target, even with --overwrite', { targetJournal: journal, target: { kind: 'ok', state }, overwrite: true }, /etcd store records an interrupted failover/],
  ['a target that holds a state', { target: { kind: 'ok', state } }, /etcd store already holds a state \(version 7, 2 servers, written 2026-12-04T00:00:00.000Z\); pass --overwrite/],
  ['a target that holds a state, with --overwrite', { target: { kind: 'ok', state }, overwrite: true }, { replacing: true }],
  ['a target with an unreadable state', { target: { kind: 'invalid', reason: 'bad key' } }, /cannot be read \(bad key\); pass --overwrite/],
  ['a target with an unreadable state, with --overwrite', { target: { kind: 'invalid', reason: 'bad key' }, overwrite: true }, { replacing: true }],
];

for (const [name, change, expected] of rows) {
  test(`migration verdict: ${name}`, () => {
    const verdict = migrationVerdict({ ...base, ...change });
    if (expected instanceof RegExp) {
      assert.equal(verdict.ok, false);
      assert.match(verdict.ok ? '' : verdict.reason, expected);
    } else {
      assert.deepEqual(verdict, { ok: true, ...expected });
    }
  });
}
