/**
 * Which way a recovery goes (engine/roll-forward.ts), row by row: the book never keeps two enabled
 * masters, an adoption rolls forward only to what it verified, a recovery's own journal keeps the
 * target it chose and the kind it recovered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FailoverRecord } from '../../src/model/failover-record.js';
import { decideRollForward, journalProvenTarget, recoveredKind, type RollForwardFacts } from '../../src/engine/roll-forward.js';

const base: RollForwardFacts = Object.freeze({ kind: 'failover', to: null, from: 'b', confirmed: null, promoted: [], bookMasters: ['b'] });

const rows: [string, Partial<RollForwardFacts>, ReturnType<typeof decideRollForward>][] = [
  ['one promoted server, the book still names the old master: forward, nobody else to demote', { promoted: ['c'] }, { way: 'forward', target: 'c', demote: [] }],
  ['confirmed, not answering: forward to it', { confirmed: 'c', bookMasters: ['c'] }, { way: 'forward', target: 'c', demote: [] }],
  ['two promoted: split brain', { promoted: ['a', 'c'] }, { way: 'split_brain', servers: ['a', 'c'] }],
  ['confirmed c, a writable: split brain naming both', { confirmed: 'c', promoted: ['a'] }, { way: 'split_brain', servers: ['a', 'c'] }],
  // The general guard: the book's current master is neither the target nor the old master.
  ['forward to a while the book names c master too: c is demoted', { promoted: ['a'], bookMasters: ['b', 'c'] }, { way: 'forward', target: 'a', demote: ['c'] }],
  ['forward to c while the book names a and c: a is demoted, c kept', { confirmed: 'c', bookMasters: ['a', 'c'] }, { way: 'forward', target: 'c', demote: ['a'] }],
  ['nobody promoted, the book names a beside the old master: back, a demoted', { bookMasters: ['a', 'b'] }, { way: 'back', demote: ['a'] }],
  ['nobody promoted, only the old master in the book: back, nothing demoted', {}, { way: 'back', demote: [] }],
  // Adoptions: only to the server the adoption verified.
  ['adoption of c, adopt step ran, a writable: split brain (the book keeps c)', { kind: 'adoption', to: 'c', confirmed: 'c', promoted: ['a'], bookMasters: ['c'] }, { way: 'split_brain', servers: ['a', 'c'] }],
  ['adoption of c, adopt never ran, a writable: not adopted', { kind: 'adoption', to: 'c', promoted: ['a'] }, { way: 'not_adopted', writable: 'a' }],
  ['adoption of c, adopt never ran, c writable: forward to c', { kind: 'adoption', to: 'c', promoted: ['c'] }, { way: 'forward', target: 'c', demote: [] }],
];

for (const [name, over, expected] of rows) {
  test(`decideRollForward: ${name}`, () => {
    assert.deepEqual(decideRollForward(Object.freeze({ ...base, ...over })), expected);
  });
}

function record(over: Partial<FailoverRecord>): FailoverRecord {
  return { id: 'r', kind: 'failover', reason: '', started: '', finished: null, duration_ms: null, from: 'b', to: null, outcome: 'RUNNING', details: '', steps: [], ...over };
}
const step = (name: string, server: string, outcome: 'ok' | 'running' | 'failed') => ({ name, server, started: '', finished: null, outcome, details: '' });

test('journalProvenTarget: a promote ok, an adopt ok or running; a promote running proves nothing', () => {
  assert.equal(journalProvenTarget(record({ steps: [step('promote', 'c', 'ok')] })), 'c');
  assert.equal(journalProvenTarget(record({ kind: 'adoption', to: 'c', steps: [step('adopt', 'c', 'running')] })), 'c');
  assert.equal(journalProvenTarget(record({ steps: [step('promote', 'c', 'running')] })), null);
  // A failover's `to` is its aim, not a proof.
  assert.equal(journalProvenTarget(record({ to: 'c', steps: [step('promote', 'c', 'failed')] })), null);
});

test("journalProvenTarget: a recovery's own target proves it (a recovery interrupted after choosing it)", () => {
  assert.equal(journalProvenTarget(record({ kind: 'recovery', to: 'c', steps: [step('connection_failover', 'c', 'running')] })), 'c');
  assert.equal(journalProvenTarget(record({ kind: 'recovery', to: null, steps: [] })), null);
});

test('recoveredKind: the change itself, or the kind a recovery recovered (failover for a record without it)', () => {
  assert.equal(recoveredKind({ kind: 'adoption' }), 'adoption');
  assert.equal(recoveredKind({ kind: 'recovery', recovers: 'adoption' }), 'adoption');
  assert.equal(recoveredKind({ kind: 'recovery', recovers: 'switchover' }), 'switchover');
  assert.equal(recoveredKind({ kind: 'recovery' }), 'failover');
});
