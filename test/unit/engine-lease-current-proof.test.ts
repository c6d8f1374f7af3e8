/**
 * currentLeaseVerdict, row by row: with etcd's history compacted away, the current leases prove
 * that no lease of the master's agent lives only when the key is absent at the read, the listing
 * and every time to live are at least as new as that read, and no live lease is keyless or carries
 * the key; each other outcome, and each race the rule must not miss, has its code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { currentLeaseVerdict, type CurrentLeases, type CurrentLeaseVerdict, type ListedLease } from '../../src/engine/lease-current-proof.js';
import type { EtcdContext } from '../../src/store/etcd/client.js';
import { readCurrentLeases } from '../../src/store/etcd/current-leases.js';
import { etcdKeys } from '../../src/store/etcd/keys.js';
import { encodeMasterRecord } from '../../src/store/etcd/master-record.js';

const KEY = '/handyrep/master_lease/john';
const lease = (id: string, keys: string[], ttl = 5, revision = '20'): ListedLease => ({ id, ttl, keys, revision });
const read = (leases: ListedLease[], listingRevision = '20', readRevision = '20'): CurrentLeases => ({ kind: 'read', master: 'john', leaseKey: KEY, readRevision, listingRevision, leases });

const rows: [label: string, facts: CurrentLeases, state: CurrentLeaseVerdict['state'], code: CurrentLeaseVerdict['code'], reason: RegExp][] = [
  ['no live lease at all → released', read([]), 'released', 'released', /none of the 0 live lease/],
  ['live leases all carry other keys (members, leader, another application\'s) → released', read([lease('1', ['/handyrep/members/paul']), lease('2', ['/handyrep/leader']), lease('3', ['/other-app/lock'])]), 'released', 'released', /none of the 3 live lease/],
  ['the master\'s lease with its key deleted by hand (alive, keyless) → not proven', read([lease('7', []), lease('1', ['/handyrep/members/paul'])]), 'not_proven', 'keyless_lease', /live lease 7 carries no key: it may be john's master lease/],
  ['the key put over by hand (lease 0 or another lease): the agent\'s lease lost its only key → keyless → not proven', read([lease('7', []), lease('9', ['/handyrep/x', KEY.replace('john', 'paul')])]), 'not_proven', 'keyless_lease', /lease 7/],
  ['race: a lease granted before the listing whose put has not landed (keyless) → not proven', read([lease('8', [])]), 'not_proven', 'keyless_lease', /one just granted/],
  ['another application\'s session lease kept alive without keys → not proven (it cannot be told from the master\'s)', read([lease('42', []), lease('1', ['/a'])]), 'not_proven', 'keyless_lease', /lease 42/],
  ['many keyless leases: the reason names five and counts the rest', read(['1', '2', '3', '4', '5', '6', '7'].map((id) => lease(id, []))), 'not_proven', 'keyless_lease', /lease 1, 2, 3, 4, 5 and 2 more/],
  ['race: the agent put the key back after the read (its lease carries it) → held', read([lease('7', [KEY])]), 'held', 'lease_carries_key', /live lease 7 carries \/handyrep\/master_lease\/john again/],
  ['a lease that ended between the listing and its time to live (ttl -1) does not count', read([lease('7', [], -1), lease('1', ['/a'])]), 'released', 'released', /2 live lease/],
  ['a lease about to expire (ttl 0) still counts as alive', read([lease('7', [], 0)]), 'not_proven', 'keyless_lease', /lease 7/],
  ['race: the listing served by a member behind the read (a lease granted and used may be missing) → not proven', read([lease('1', ['/a'])], '19', '20'), 'not_proven', 'listing_behind', /listed its leases at revision 19, older than the read at 20/],
  ['race: a time to live answered at a revision older than the read (it may not know a lease granted then) → not proven', read([lease('7', [], -1, '19')]), 'not_proven', 'lease_behind', /answered at revision 19/],
  ['a time to live that could not be read → not proven', read([{ id: '7', unread: 'deadline exceeded' }]), 'not_proven', 'lease_unread', /lease 7 could not be read: deadline exceeded/],
  ['not read (the key exists, the master key names another node, etcd failed, too many leases) → not proven', { kind: 'unread', master: 'john', why: 'master_lease/john exists now' }, 'not_proven', 'not_read', /not read whole: master_lease\/john exists now/],
];

for (const [label, facts, state, code, reason] of rows) {
  test(`current leases: ${label}`, () => {
    const v = currentLeaseVerdict(Object.freeze(facts));
    assert.equal(v.state, state);
    assert.equal(v.code, code);
    assert.match(v.reason, reason);
  });
}

test('current leases: revisions compare as numbers, not strings ("100" is newer than "99")', () => {
  assert.equal(currentLeaseVerdict(read([lease('1', ['/a'], 5, '100')], '100', '99')).state, 'released');
});

test('current leases reader: stops at the first batch holding a live keyless lease (the verdict cannot change after it)', async () => {
  const ttlCalls: string[] = [];
  const ids = Array.from({ length: 40 }, (_, i) => String(i + 1));
  const ctx = {
    keys: etcdKeys('/handyrep/t/'),
    deadlineMs: 2000,
    client: {
      kv: { txn: async () => ({ header: { revision: '20' }, responses: [{ response_range: { kvs: [{ value: Buffer.from(encodeMasterRecord({ name: 'john', term: '1', timeline: 1, promoted_lsn: null, sync_set: [], since: '2026-12-05T00:00:00.000Z', written_by: 't' })), mod_revision: '5' }] } }, { response_range: { kvs: [] } }] }) },
      leaseClient: {
        leaseLeases: async () => ({ header: { revision: '20' }, leases: ids.map((ID) => ({ ID })) }),
        leaseTimeToLive: async ({ ID }: { ID: string }) => {
          ttlCalls.push(ID);
          return { header: { revision: '20' }, ID, TTL: '5', grantedTTL: '5', keys: ID === '1' ? [] : [Buffer.from(`/other/${ID}`)] };
        },
      },
    },
  } as unknown as EtcdContext;
  const verdict = currentLeaseVerdict(await readCurrentLeases(ctx, 'john', 2000));
  assert.equal(verdict.code, 'keyless_lease');
  assert.equal(ttlCalls.length, 16, 'one batch, not 40 calls');
});
