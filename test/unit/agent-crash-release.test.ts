/**
 * agent/crash-release.ts over a fake etcd client: the crash record and the lease key's delete go in
 * ONE transaction guarded by the master lease's id, the revoke follows in every case, and without
 * a member lease or when etcd refuses, the lease is still revoked (the statement is only dropped).
 * The real transaction against etcd is in test/integration/agent-fencing.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { releaseStatingCrash } from '../../src/agent/crash-release.js';
import { memberRecord } from '../../src/agent/member-record.js';
import type { EtcdContext } from '../../src/store/etcd/client.js';
import { etcdKeys } from '../../src/store/etcd/keys.js';

interface Txn {
  compare: { key: Buffer; target: string; result: string; lease: string }[];
  success: ({ request_put: { key: Buffer; value: Buffer; lease: string } } | { request_delete_range: { key: Buffer } })[];
}

function fakeCtx(answer: () => Promise<{ succeeded: boolean }>): { ctx: EtcdContext; txns: Txn[]; events: string[] } {
  const txns: Txn[] = [];
  const events: string[] = [];
  const ctx = {
    keys: etcdKeys('/hr/'),
    client: {
      kv: {
        txn: async (request: Txn) => {
          txns.push(request);
          events.push('txn');
          return answer();
        },
      },
    },
  } as unknown as EtcdContext;
  return { ctx, txns, events };
}

const record = memberRecord('john', { state: 'crashed' }, null, { state: 'absent' }, null, '2026-12-04T00:00:00.000Z');

test('one transaction: the record saying crashed under the member lease, and the lease key deleted if it is this lease; then the revoke', async () => {
  const { ctx, txns, events } = fakeCtx(async () => ({ succeeded: true }));
  const note = await releaseStatingCrash({ ctx, node: 'john', record, memberLeaseId: '7', masterLeaseId: '9', callMs: 1000, revoke: async () => void events.push('revoke') });
  assert.equal(note, '');
  assert.deepEqual(events, ['txn', 'revoke']);
  const txn = txns[0] as Txn;
  assert.deepEqual(txn.compare.map((c) => [c.key.toString(), c.target, c.result, c.lease]), [['/hr/master_lease/john', 'Lease', 'Equal', '9']]);
  const [put, del] = txn.success;
  assert.ok(put && 'request_put' in put && del && 'request_delete_range' in del);
  assert.equal(put.request_put.key.toString(), '/hr/members/john');
  assert.equal(put.request_put.lease, '7');
  assert.equal((JSON.parse(put.request_put.value.toString()) as { postgres: string }).postgres, 'crashed');
  assert.equal(del.request_delete_range.key.toString(), '/hr/master_lease/john');
});

test('the lease key is no longer this lease (compare failed): revoked all the same, the note says no statement', async () => {
  const { ctx, events } = fakeCtx(async () => ({ succeeded: false }));
  const note = await releaseStatingCrash({ ctx, node: 'john', record, memberLeaseId: '7', masterLeaseId: '9', callMs: 1000, revoke: async () => void events.push('revoke') });
  assert.match(note, /without the crash statement/);
  assert.deepEqual(events, ['txn', 'revoke']);
});

test('etcd refuses the transaction (an expired member lease, an error): revoked all the same', async () => {
  const { ctx, events } = fakeCtx(async () => {
    throw new Error('etcdserver: requested lease not found');
  });
  const note = await releaseStatingCrash({ ctx, node: 'john', record, memberLeaseId: '7', masterLeaseId: '9', callMs: 1000, revoke: async () => void events.push('revoke') });
  assert.match(note, /etcd did not take it/);
  assert.deepEqual(events, ['txn', 'revoke']);
});

test('no member lease: no transaction, the lease revoked; no master lease: nothing stated, nothing noted', async () => {
  const a = fakeCtx(async () => ({ succeeded: true }));
  assert.match(await releaseStatingCrash({ ctx: a.ctx, node: 'john', record, memberLeaseId: null, masterLeaseId: '9', callMs: 1000, revoke: async () => void a.events.push('revoke') }), /no member lease/);
  assert.deepEqual(a.events, ['revoke']);
  const b = fakeCtx(async () => ({ succeeded: true }));
  assert.equal(await releaseStatingCrash({ ctx: b.ctx, node: 'john', record, memberLeaseId: '7', masterLeaseId: null, callMs: 1000, revoke: async () => void b.events.push('revoke') }), '');
  assert.deepEqual(b.events, ['revoke']);
});
