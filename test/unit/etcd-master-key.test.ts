/** The master key's write rules, row by row (src/store/etcd/master-key.ts), and the leader URL check. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fencedByLease, masterWriteRefusal, type MasterKeyRead } from '../../src/store/etcd/master-key.js';
import { checkLeaderUrl } from '../../src/runtime/leadership/leader-url.js';
import type { MasterRecord } from '../../src/store/etcd/master-record.js';

const record = (name: string): MasterRecord => ({ name, term: '5', timeline: 1, promoted_lsn: null, sync_set: [], since: '2026-12-04T10:00:00.000Z', written_by: 'c' });
const absent: MasterKeyRead = { record: null, modRevision: '0' };

const fencedRows: [string, MasterKeyRead, string, string | null, string[]][] = [
  ['no key, no known master: nothing to wait for', absent, 'paul', null, []],
  ['no key, the book knows the old master', absent, 'paul', 'john', ['john']],
  ['the key names the old master', { record: record('john'), modRevision: '9' }, 'paul', 'john', ['john']],
  ['the key and the book disagree: both must be released', { record: record('ringo'), modRevision: '9' }, 'paul', 'john', ['john', 'ringo']],
  ['re-recording the same master waits for nobody', { record: record('paul'), modRevision: '9' }, 'paul', 'paul', []],
];
for (const [name, read, next, known, expected] of fencedRows) {
  test(`master key: leases to be absent: ${name}`, () => assert.deepEqual(fencedByLease(read, next, known), expected));
}

const refusalRows: [string, string, Parameters<typeof masterWriteRefusal>[1], RegExp][] = [
  ['leadership gone', '9', { leaderHeld: false, leaderReason: 'the leader key is gone', masterModRevisionNow: '9', leasesHeld: [] }, /no longer leads: the leader key is gone/],
  ['key changed', '9', { leaderHeld: true, leaderReason: '', masterModRevisionNow: '12', leasesHeld: [] }, /changed since it was read \(mod revision 9 → 12\)/],
  ['old master still holds its lease', '9', { leaderHeld: true, leaderReason: '', masterModRevisionNow: '9', leasesHeld: ['john'] }, /agent of john still holds its master lease/],
  ['both', '0', { leaderHeld: true, leaderReason: '', masterModRevisionNow: '3', leasesHeld: ['john'] }, /changed .*; the agent of john/],
];
for (const [name, expected, failure, pattern] of refusalRows) {
  test(`master key: refusal: ${name}`, () => assert.match(masterWriteRefusal(expected, failure), pattern));
}

const urlRows: [string, string, RegExp | null][] = [
  ['http with a port', 'http://10.0.0.5:8080', null],
  ['https hostname', 'https://ctl-1.example.net/', null],
  ['IPv6', 'http://[::1]:8080', null],
  ['user and password', 'http://u:p@10.0.0.5:8080', /user or password/],
  ['other scheme', 'file:///etc/passwd', /scheme file: is not http or https/],
  ['a query', 'http://10.0.0.5:8080/?x=1', /query or fragment/],
  ['not a URL', 'ctl-1:8080', /scheme ctl-1: is not http/],
  ['garbage', '::', /is not a URL/],
];
for (const [name, text, pattern] of urlRows) {
  test(`leader URL: ${name}`, () => {
    const check = checkLeaderUrl(text);
    if (pattern === null) assert.equal(check.ok, true, JSON.stringify(check));
    else assert.match(check.ok ? '' : check.reason, pattern);
  });
}
