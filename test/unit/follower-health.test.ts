/** When a follower's statuses may answer a load balancer (src/daemon/health.ts followerDataProblem), row by row. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { followerDataProblem } from '../../src/daemon/health.js';
import type { LeadershipReport } from '../../src/runtime/leadership/etcd-control.js';

const follower: LeadershipReport = { method: 'etcd_lease', leading: false, leader: 'ctl-a', leader_url: 'http://a:8080/', term: '7', data_age_ms: 500, stale_reason: null };
const rows: [string, { report: LeadershipReport; ttlMs: number } | null, RegExp | null][] = [
  ['no etcd at all', null, null],
  ['the leader itself', { report: { ...follower, leading: true, data_age_ms: 0 }, ttlMs: 4000 }, null],
  ['a fresh follower', { report: follower, ttlMs: 4000 }, null],
  ['data older than the ttl', { report: { ...follower, data_age_ms: 4001 }, ttlMs: 4000 }, /4001 ms old, more than the lease ttl \(4000 ms\)/],
  ['etcd unreadable', { report: { ...follower, stale_reason: 'etcd cannot be read: no quorum' }, ttlMs: 4000 }, /no quorum/],
  ['nobody leads', { report: { ...follower, leader: null }, ttlMs: 4000 }, /no controller leads/],
  ['never read', { report: { ...follower, data_age_ms: null }, ttlMs: 4000 }, /not read yet/],
];
for (const [name, input, pattern] of rows) {
  test(`follower data: ${name}`, () => {
    const problem = followerDataProblem(input);
    if (pattern === null) assert.equal(problem, null);
    else assert.match(problem ?? '', pattern);
  });
}
