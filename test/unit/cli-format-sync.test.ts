/** The status table under synchronous_mode: a SYNC column and a line with the recorded set. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatStatus, type Style } from '../../src/cli/format.js';

const plain: Style = { color: false, columns: null };
const servers = {
  john: { hostname: 'a', role: 'master', enabled: true, status: 'healthy', status_no: 1, status_ts: '', status_message: 'ok' },
  paul: { hostname: 'b', role: 'replica', enabled: true, status: 'healthy', status_no: 1, status_ts: '', status_message: 'ok' },
  george: { hostname: 'c', role: 'replica', enabled: true, status: 'healthy', status_no: 1, status_ts: '', status_message: 'ok' },
};
const cluster = { status: 'healthy', status_no: 1, status_ts: '2026-12-04T09:00:00.000Z', status_message: 'all good' };
const record = (quorum: number, members: string[]) => ({ members, quorum, master: 'john', at: '2026-12-04T09:41:10.000Z', reason: 'ANY 1 of paul' });

type Row = [label: string, sync: unknown, expected: RegExp[], absent: RegExp[]];
const ROWS: Row[] = [
  ['mode off, nothing recorded: no column', { mode: 'off', method: 'any', node_count: 1, recorded: null, changes: [] }, [], [/SYNC/, /synchronous_mode/]],
  ['no sync field (an older daemon): no column', undefined, [], [/SYNC/]],
  [
    'a member with its quorum: sync; others -',
    { mode: 'on', method: 'any', node_count: 1, recorded: record(1, ['paul']), changes: [] },
    [/NAME +ROLE +STATUS +LAG \(MB\) +TIMELINE +SYNC +MESSAGE/, /^paul +replica +healthy +- +- +sync +ok$/m, /^george +replica +healthy +- +- +- +ok$/m, /^synchronous_mode on \(ANY 1\): quorum 1 of paul since .* — ANY 1 of paul$/m],
    [],
  ],
  ['recorded before its quorum counts: pending', { mode: 'strict', method: 'first', node_count: 1, recorded: record(0, ['paul']), changes: [] }, [/^paul +replica +healthy +- +- +pending +ok$/m, /synchronous_mode strict \(FIRST 1\): asynchronous of paul/], []],
  ['mode on, nothing recorded yet', { mode: 'on', method: 'any', node_count: 2, recorded: null, changes: [] }, [/synchronous_mode on \(ANY 2\): no set recorded yet/], []],
];
for (const [label, sync, expected, absent] of ROWS) {
  test(`status table, sync: ${label}`, () => {
    const text = formatStatus({ cluster, servers, ...(sync === undefined ? {} : { sync }) }, null, plain);
    for (const re of expected) assert.match(text, re);
    for (const re of absent) assert.doesNotMatch(text, re);
  });
}
