/** The status table names the leader under etcd_lease (src/cli/format.ts), row by row. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatStatus, type Style } from '../../src/cli/format.js';

const plain: Style = { color: false, columns: null };
const servers = { john: { hostname: 'a', role: 'master', enabled: true, status: 'healthy', status_no: 1, status_ts: '', status_message: 'ok' } };
const cluster = { status: 'healthy', status_no: 1, status_ts: '2026-12-04T09:00:00.000Z', status_message: 'all good' };
const base = { method: 'etcd_lease', leading: false, leader: 'ctl-a', leader_url: 'http://10.0.0.5:8080/', term: '7', data_age_ms: 800, stale_reason: null };

const rows: [string, unknown, RegExp | null][] = [
  ['no etcd: no line', undefined, null],
  ['this controller leads', { ...base, leading: true, leader: 'me', data_age_ms: 0 }, /^leader: this controller \(term 7\)$/m],
  ['a follower names the leader, its URL and the data age', base, /^leader: controller ctl-a at http:\/\/10\.0\.0\.5:8080\/ \(term 7\); statuses as stored 0\.8 s ago$/m],
  ['nobody leads', { ...base, leader: null, leader_url: null, term: null, stale_reason: 'etcd cannot be read: no quorum' }, /^leader: none — etcd cannot be read: no quorum; statuses may be stale$/m],
];
for (const [label, leadership, expected] of rows) {
  test(`status table, leadership: ${label}`, () => {
    const text = formatStatus({ cluster, servers, ...(leadership === undefined ? {} : { leadership }) }, null, plain);
    if (expected === null) assert.doesNotMatch(text, /leader:/);
    else assert.match(text, expected);
  });
}
