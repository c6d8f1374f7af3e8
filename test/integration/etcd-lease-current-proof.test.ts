/**
 * The current-leases proof on a real 3-member etcd (store/etcd/current-leases.ts +
 * engine/lease-current-proof.ts), for a history compacted past the key's delete: a controller that
 * saw the lease held, and an agent that never did, prove it released when no live lease is keyless
 * or carries the key — asked through every member (a follower forwards the time to live to the
 * leader and answers the listing itself); a live keyless lease (the agent's after a restart, its key
 * deleted by hand; or anyone's) leaves it unknown until it ends; a key put over by hand (no lease,
 * or a lease carrying other keys) counts neither held nor released.
 *
 * Its own etcd: a live lease of any other test would count.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { readLeaseEnd } from '../../src/agent/election/lease-end.js';
import { parseConfig } from '../../src/config/load.js';
import { currentLeaseVerdict } from '../../src/engine/lease-current-proof.js';
import { EtcdControl } from '../../src/runtime/leadership/etcd-control.js';
import { createEtcdContext, type EtcdContext } from '../../src/store/etcd/client.js';
import { readCurrentLeases } from '../../src/store/etcd/current-leases.js';
import { EtcdClusterStore } from '../../src/store/etcd/etcd-cluster-store.js';
import { EtcdLeadership } from '../../src/store/etcd/leadership.js';
import { encodeMasterRecord } from '../../src/store/etcd/master-record.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';

let etcd: EtcdCluster;
const contexts: EtcdContext[] = [];
const PREFIX = '/handyrep/current/';

function context(endpoints: string[]): EtcdContext {
  const ctx = createEtcdContext(parseConfig(JSON.stringify({ handyrep: { store: 'etcd' }, etcd: { endpoints, prefix: PREFIX, ttl: 2, retry_timeout: 2 } }), 'test'));
  contexts.push(ctx);
  return ctx;
}

before(async () => {
  etcd = await startEtcdCluster({ members: 3 });
});
after(async () => {
  for (const ctx of contexts) ctx.close();
  await etcd?.stop();
});

/** A write after everything so far, then a compaction up to it: the history before is gone. */
async function compactAll(ctx: EtcdContext): Promise<void> {
  const filler = await ctx.client.kv.put({ key: Buffer.from(`${PREFIX}filler`), value: Buffer.from(String(Date.now())) });
  await ctx.client.kv.compact({ revision: filler.header.revision, physical: true });
}

it('compacted past the delete: released from the current leases (through every member); a keyless live lease → unknown until it ends', async () => {
  const ctx = context(etcd.endpoints);
  const record = { name: 'john', term: '1', timeline: 1, promoted_lsn: null, sync_set: [], since: new Date().toISOString(), written_by: 'test' };
  await ctx.client.kv.put({ key: Buffer.from(ctx.keys.master), value: Buffer.from(encodeMasterRecord(record)) });
  const leaseKey = Buffer.from(ctx.keys.masterLease('john'));
  // The agents' other leases carry keys: they do not block the proof.
  const member = (await ctx.client.leaseClient.leaseGrant({ TTL: 60 })).ID;
  await ctx.client.kv.put({ key: Buffer.from(ctx.keys.member('paul')), value: Buffer.from('{}'), lease: member });
  const l1 = (await ctx.client.leaseClient.leaseGrant({ TTL: 60 })).ID;
  await ctx.client.kv.put({ key: leaseKey, value: Buffer.from('{}'), lease: l1 });

  const leadership = new EtcdLeadership(ctx, { controllerId: 'ctl-a', apiUrl: null });
  const control = new EtcdControl(ctx, leadership, new EtcdClusterStore(ctx, leadership), 'ctl-a', 1000);
  await control.noteHealthyMaster('john');
  assert.equal(await control.masterLeaseState('john'), 'held');

  // john's agent dies: its lease ends (revoked here: the delete carries it), then etcd compacts past the delete.
  await ctx.client.leaseClient.leaseRevoke({ ID: l1 });
  await compactAll(ctx);
  assert.equal(await control.masterLeaseState('john'), 'released', control.masterLeaseNote('john') ?? '');
  assert.match(control.masterLeaseNote('john') ?? '', /history is gone.*none of the \d+ live lease\(s\) is keyless or carries it/);
  // An agent that never saw the lease (restarted): the same proof, as current_leases.
  const fresh = await readLeaseEnd(ctx, 'john', undefined, 3000);
  assert.deepEqual([fresh.ended, fresh.how], [true, 'current_leases'], fresh.why);
  // The listing is answered by the member asked, the time to live by the leader: each member proves it.
  for (const endpoint of etcd.endpoints) {
    const one = context([endpoint]);
    const verdict = currentLeaseVerdict(await readCurrentLeases(one, 'john', 3000));
    assert.equal(verdict.state, 'released', `${endpoint}: ${verdict.reason}`);
  }

  // A live lease without keys (john's agent restarted under l2, its key then deleted by hand): not proven.
  const l2 = (await ctx.client.leaseClient.leaseGrant({ TTL: 60 })).ID;
  await ctx.client.kv.put({ key: leaseKey, value: Buffer.from('{}'), lease: l2 });
  await ctx.client.kv.deleteRange({ key: leaseKey });
  await compactAll(ctx);
  assert.equal(await control.masterLeaseState('john'), 'unknown', 'the stale seen lease l1 ended, but l2 may be john\'s');
  assert.match(control.masterLeaseNote('john') ?? '', new RegExp(`live lease ${l2} carries no key`));
  const agent = await readLeaseEnd(ctx, 'john', { id: l1, revision: '1' }, 3000);
  assert.equal(agent.ended, null, agent.why);
  assert.match(agent.why, /keyless_lease/);
  assert.equal((await readLeaseEnd(ctx, 'john', undefined, 3000)).ended, null);

  // The key put over by hand under another lease (carrying it): l2 is keyless again; the key's presence stops the proof.
  await ctx.client.kv.put({ key: leaseKey, value: Buffer.from('by hand') });
  assert.equal(await control.masterLeaseState('john'), 'unknown', 'a key without a lease is nobody\'s: not held by itself, not released');
  // Put over under paul's member lease (it carries members/paul): no agent's master lease either.
  await ctx.client.kv.put({ key: leaseKey, value: Buffer.from('by hand'), lease: member });
  assert.equal(await control.masterLeaseState('john'), 'unknown', 'a lease carrying other keys is not a master lease');
  // Under a lease carrying nothing else (l2: john's agent after a restart looks the same) → held.
  await ctx.client.kv.put({ key: leaseKey, value: Buffer.from('{}'), lease: l2 });
  assert.equal(await control.masterLeaseState('john'), 'held');
  await ctx.client.kv.deleteRange({ key: leaseKey });

  // Once l2 ends, nothing keyless remains: released again.
  await ctx.client.leaseClient.leaseRevoke({ ID: l2 });
  await compactAll(ctx);
  assert.equal(await control.masterLeaseState('john'), 'released', control.masterLeaseNote('john') ?? '');
  await ctx.client.leaseClient.leaseRevoke({ ID: member });
});
