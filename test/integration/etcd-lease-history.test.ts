/**
 * The lease-history proof over a real etcd (store/etcd/lease-history.ts + engine/lease-history-proof.ts):
 * a reader that never saw `master_lease/<master>` held (a controller that starts leading after the
 * lease lapsed) proves from etcd's revision history that it was held under the current master key
 * and has ended; a key deleted by hand while its lease lives stays held; no key since the master
 * key's revision, or a history compacted past the delete, proves nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { leaseHistoryVerdict } from '../../src/engine/lease-history-proof.js';
import { createEtcdContext, type EtcdContext } from '../../src/store/etcd/client.js';
import { readLeaseHistory } from '../../src/store/etcd/lease-history.js';
import { encodeMasterRecord } from '../../src/store/etcd/master-record.js';
import { EtcdClusterStore } from '../../src/store/etcd/etcd-cluster-store.js';
import { EtcdLeadership } from '../../src/store/etcd/leadership.js';
import { EtcdControl } from '../../src/runtime/leadership/etcd-control.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';

let etcd: EtcdCluster;
const contexts: EtcdContext[] = [];

function context(prefix: string): EtcdContext {
  const ctx = createEtcdContext(parseConfig(JSON.stringify({ handyrep: { store: 'etcd' }, etcd: { endpoints: etcd.endpoints, prefix, ttl: 2, retry_timeout: 2 } }), 'test'));
  contexts.push(ctx);
  return ctx;
}

async function recordMaster(ctx: EtcdContext, name: string): Promise<string> {
  const record = { name, term: '1', timeline: 1, promoted_lsn: null, sync_set: [], since: new Date().toISOString(), written_by: 'test' };
  const reply = await ctx.client.kv.put({ key: Buffer.from(ctx.keys.master), value: Buffer.from(encodeMasterRecord(record)) });
  return reply.header.revision;
}

/** An agent's master lease: granted, the key put under it. */
async function holdLease(ctx: EtcdContext, node: string): Promise<string> {
  const grant = await ctx.client.leaseClient.leaseGrant({ TTL: 30 });
  await ctx.client.kv.put({ key: Buffer.from(ctx.keys.masterLease(node)), value: Buffer.from('{}'), lease: grant.ID });
  return grant.ID;
}

const judge = async (ctx: EtcdContext, master: string) => leaseHistoryVerdict(await readLeaseHistory(ctx, master, 3000));

before(async () => {
  etcd = await startEtcdCluster({ members: 1 });
});
after(async () => {
  for (const ctx of contexts) ctx.close();
  await etcd?.stop();
});

describe('lease history proof on a real etcd', () => {
  it('held under the current master key, then expired (revoked) → released; a lease of the same node before the key named it does not count', async () => {
    const ctx = context('/handyrep/hist-released/');
    // An earlier stint: john's lease before the key named paul, then john again.
    const early = await holdLease(ctx, 'john');
    await recordMaster(ctx, 'john');
    await ctx.client.leaseClient.leaseRevoke({ ID: early });
    const revision = await recordMaster(ctx, 'john');
    assert.match((await judge(ctx, 'john')).reason, new RegExp(`never existed since the master key's revision ${revision}`), 'the delete before the key was rewritten is outside the window');
    const id = await holdLease(ctx, 'john');
    assert.deepEqual((await readLeaseHistory(ctx, 'john', 3000)).kind, 'unread', 'the key exists now: nothing to prove');
    await ctx.client.leaseClient.leaseRevoke({ ID: id });
    const verdict = await judge(ctx, 'john');
    assert.equal(verdict.state, 'released', verdict.reason);
    assert.match(verdict.reason, new RegExp(`lease ${id}`));
  });

  it('a controller that never saw the lease held: released by the history (was never_held), with the proof as its note', async () => {
    const ctx = context('/handyrep/hist-control/');
    await recordMaster(ctx, 'john');
    const id = await holdLease(ctx, 'john');
    await ctx.client.leaseClient.leaseRevoke({ ID: id });
    const leadership = new EtcdLeadership(ctx, { controllerId: 'ctl-new', apiUrl: null });
    const control = new EtcdControl(ctx, leadership, new EtcdClusterStore(ctx, leadership), 'ctl-new', 1000);
    assert.equal(await control.masterLeaseState('john'), 'released');
    assert.match(control.masterLeaseNote('john') ?? '', new RegExp(`held under lease ${id}`));
    assert.equal(await control.masterLeaseState('paul'), 'never_held', 'the key names john: nothing proves paul\'s lease');
    assert.match(control.masterLeaseNote('paul') ?? '', /the master key names john/);
  });

  it('a lease that runs out in etcd (TTL) → released', async () => {
    const ctx = context('/handyrep/hist-ttl/');
    await recordMaster(ctx, 'john');
    const grant = await ctx.client.leaseClient.leaseGrant({ TTL: 1 });
    await ctx.client.kv.put({ key: Buffer.from(ctx.keys.masterLease('john')), value: Buffer.from('{}'), lease: grant.ID });
    const deadline = Date.now() + 10_000;
    while ((await ctx.client.kv.range({ key: Buffer.from(ctx.keys.masterLease('john')) })).kvs.length > 0) {
      assert.ok(Date.now() < deadline, 'the lease expired within 10 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    const verdict = await judge(ctx, 'john');
    assert.equal(verdict.state, 'released', verdict.reason);
  });

  it('the key deleted by hand while its lease lives → held', async () => {
    const ctx = context('/handyrep/hist-held/');
    await recordMaster(ctx, 'john');
    const id = await holdLease(ctx, 'john');
    await ctx.client.kv.deleteRange({ key: Buffer.from(ctx.keys.masterLease('john')) });
    const verdict = await judge(ctx, 'john');
    assert.equal(verdict.state, 'held', verdict.reason);
    assert.match(verdict.reason, new RegExp(`lease ${id} still lives`));
    await ctx.client.leaseClient.leaseRevoke({ ID: id });
    assert.equal((await judge(ctx, 'john')).state, 'released', 'once that lease ends, the same history proves it');
  });

  it('never held since the master key named the node (another node\'s lease ended meanwhile) → not proven', async () => {
    const ctx = context('/handyrep/hist-never/');
    await recordMaster(ctx, 'paul');
    const other = await holdLease(ctx, 'john');
    await ctx.client.leaseClient.leaseRevoke({ ID: other });
    const verdict = await judge(ctx, 'paul');
    assert.equal(verdict.state, 'not_proven');
    assert.match(verdict.reason, /master_lease\/paul never existed since the master key's revision/);
    assert.match((await judge(ctx, 'ringo')).reason, /the master key names paul/);
  });

  it('the key put over by hand under another lease, which then ends: the agent\'s lease, keyless and alive, keeps it held', async () => {
    const ctx = context('/handyrep/hist-overwritten/');
    await recordMaster(ctx, 'john');
    const agentLease = await holdLease(ctx, 'john');
    // The master key rewritten (a confirmation): the agent's put is before the window.
    await recordMaster(ctx, 'john');
    const byHand = (await ctx.client.leaseClient.leaseGrant({ TTL: 30 })).ID;
    await ctx.client.kv.put({ key: Buffer.from(ctx.keys.masterLease('john')), value: Buffer.from('x'), lease: byHand });
    await ctx.client.leaseClient.leaseRevoke({ ID: byHand });
    const verdict = await judge(ctx, 'john');
    assert.equal(verdict.state, 'held', verdict.reason);
    assert.match(verdict.reason, new RegExp(`lease ${agentLease} still lives`));
    await ctx.client.leaseClient.leaseRevoke({ ID: agentLease });
    assert.equal((await judge(ctx, 'john')).state, 'released', 'once the agent\'s lease ended too');
  });

  it('a controller that saw the key while put over by hand (under a bare lease) does not take that lease\'s end for the agent\'s', async () => {
    const ctx = context('/handyrep/hist-seen-over/');
    await recordMaster(ctx, 'john');
    const agentLease = await holdLease(ctx, 'john');
    const byHand = (await ctx.client.leaseClient.leaseGrant({ TTL: 30 })).ID;
    await ctx.client.kv.put({ key: Buffer.from(ctx.keys.masterLease('john')), value: Buffer.from('x'), lease: byHand });
    const leadership = new EtcdLeadership(ctx, { controllerId: 'ctl-seen', apiUrl: null });
    const control = new EtcdControl(ctx, leadership, new EtcdClusterStore(ctx, leadership), 'ctl-seen', 1000);
    await control.noteHealthyMaster('john');
    await ctx.client.leaseClient.leaseRevoke({ ID: byHand });
    assert.equal(await control.masterLeaseState('john'), 'held', control.masterLeaseNote('john') ?? '');
    assert.match(control.masterLeaseNote('john') ?? '', new RegExp(`lease ${agentLease} still lives`));
    await ctx.client.leaseClient.leaseRevoke({ ID: agentLease });
    assert.equal(await control.masterLeaseState('john'), 'released');
  });

  it('compaction: past the delete → not proven (says so); between the put and the delete → still released', async () => {
    const ctx = context('/handyrep/hist-compact/');
    await recordMaster(ctx, 'john');
    const id = await holdLease(ctx, 'john');
    const mid = await ctx.client.kv.put({ key: Buffer.from(`${ctx.keys.prefix}filler`), value: Buffer.from('x') });
    await ctx.client.kv.compact({ revision: mid.header.revision, physical: true });
    await ctx.client.leaseClient.leaseRevoke({ ID: id });
    const between = await judge(ctx, 'john');
    assert.equal(between.state, 'released', between.reason);
    assert.match(between.reason, new RegExp(`since revision ${mid.header.revision} \\(etcd compacted`));
    const late = await ctx.client.kv.put({ key: Buffer.from(`${ctx.keys.prefix}filler`), value: Buffer.from('y') });
    await ctx.client.kv.compact({ revision: late.header.revision, physical: true });
    const past = await judge(ctx, 'john');
    assert.equal(past.state, 'not_proven');
    assert.match(past.reason, /etcd compacted its history at revision \d+, past the master key's revision \d+, and no change of .*master_lease\/john since then/);
  });
});
