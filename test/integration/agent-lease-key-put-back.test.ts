/**
 * LeaseKeyKeeper's put-back transaction on a real etcd (agent/lease-key-keeper.ts): a missing
 * `master_lease/<node>`, or one put over by hand (without a lease, or under another lease), comes
 * back under the agent's live lease only while the `master` key is at the revision the round
 * judged on; a changed master key, or a lease that ended, leave it as it is.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { LeaseKeyKeeper } from '../../src/agent/lease-key-keeper.js';
import { parseConfig } from '../../src/config/load.js';
import { createEtcdContext, type EtcdContext } from '../../src/store/etcd/client.js';
import { encodeMasterRecord } from '../../src/store/etcd/master-record.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';

let etcd: EtcdCluster;
let ctx: EtcdContext;

before(async () => {
  etcd = await startEtcdCluster({ members: 1 });
  ctx = createEtcdContext(parseConfig(JSON.stringify({ etcd: { endpoints: etcd.endpoints, prefix: '/handyrep/putback/', ttl: 5, retry_timeout: 2 } }), 'test'));
});
after(async () => {
  ctx?.close();
  await etcd?.stop();
});

it('put back while the master key is as judged and the lease lives; not when the key moved or the lease ended', async () => {
  const record = (name: string): Buffer => Buffer.from(encodeMasterRecord({ name, term: '1', timeline: 1, promoted_lsn: null, sync_set: [], since: new Date().toISOString(), written_by: 'test' }));
  const judged = (await ctx.client.kv.put({ key: Buffer.from(ctx.keys.master), value: record('john') })).header.revision;
  const lease = (await ctx.client.leaseClient.leaseGrant({ TTL: 30 })).ID;
  const key = Buffer.from(ctx.keys.masterLease('john'));
  const leaseOf = async (): Promise<string | null> => (await ctx.client.kv.range({ key })).kvs[0]?.lease ?? null;
  await ctx.client.kv.put({ key, value: Buffer.from('{}'), lease });
  const log: string[] = [];
  const keeper = new LeaseKeyKeeper(ctx, 'john', (line) => log.push(line));
  try {
    // No watch started: every call checks (as after a reconnection).
    assert.equal(await keeper.keep(lease, judged, 2000), '', 'present under our lease: nothing to do');
    assert.equal(keeper.mustCheck, false);
    keeper.start();
    await ctx.client.kv.deleteRange({ key });
    const deadline = Date.now() + 5000;
    while (!keeper.mustCheck) {
      assert.ok(Date.now() < deadline, 'the watch reported the delete within 5 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.match(await keeper.keep(lease, judged, 2000), new RegExp(`master_lease/john was missing while this agent holds lease ${lease}: put back at revision \\d+`));
    assert.equal(await leaseOf(), lease, 'back under the same lease');
    assert.equal(log.length, 1);

    // The master key moved on after the round's judgement: not put back.
    await ctx.client.kv.deleteRange({ key });
    await ctx.client.kv.put({ key: Buffer.from(ctx.keys.master), value: record('paul') });
    while (!keeper.mustCheck) await new Promise((r) => setTimeout(r, 20));
    assert.match(await keeper.keep(lease, judged, 2000), /missing but was not put back: the master key \(or the lease key\) changed/);
    assert.equal(await leaseOf(), null);

    // Put over by hand without a lease: the watch reports the put, the key goes back under our lease.
    const judgedAgain = (await ctx.client.kv.put({ key: Buffer.from(ctx.keys.master), value: record('john') })).header.revision;
    assert.match(await keeper.keep(lease, judgedAgain, 2000), /was missing while this agent holds lease/);
    while (keeper.mustCheck) assert.equal(await keeper.keep(lease, judgedAgain, 2000), '', 'our own put-back: one read, nothing to do');
    await ctx.client.kv.put({ key, value: Buffer.from('by hand') });
    while (!keeper.mustCheck) await new Promise((r) => setTimeout(r, 20));
    assert.match(await keeper.keep(lease, judgedAgain, 2000), new RegExp(`master_lease/john was under no lease \\(put by hand\\) while this agent holds lease ${lease}: put back at revision \\d+`));
    assert.equal(await leaseOf(), lease, 'back under our lease');
    // Put over under another live lease: put back too (that lease loses the key).
    const other = (await ctx.client.leaseClient.leaseGrant({ TTL: 30 })).ID;
    await ctx.client.kv.put({ key, value: Buffer.from('by hand'), lease: other });
    while (!keeper.mustCheck) await new Promise((r) => setTimeout(r, 20));
    while (keeper.mustCheck) await keeper.keep(lease, judgedAgain, 2000);
    assert.equal(await leaseOf(), lease, 'back under our lease, not the other one');
    assert.ok(log.some((line) => line.includes(`was under lease ${other} while this agent holds lease ${lease}: put back`)), log.join('\n'));
    const otherKeys = await ctx.client.leaseClient.leaseTimeToLive({ ID: other, keys: true });
    assert.equal(otherKeys.keys.length, 0, 'the other lease carries the key no more');
    await ctx.client.leaseClient.leaseRevoke({ ID: other });
    // Put over by hand, then the master key moves on: the overwritten key is left as it is.
    await ctx.client.kv.put({ key, value: Buffer.from('by hand') });
    await ctx.client.kv.put({ key: Buffer.from(ctx.keys.master), value: record('john') });
    while (!keeper.mustCheck) await new Promise((r) => setTimeout(r, 20));
    assert.match(await keeper.keep(lease, judgedAgain, 2000), /is under no lease \(put by hand\) but was not put back: the master key \(or the lease key\) changed/);
    assert.equal(await leaseOf(), '0', 'left as the operator put it');
    await ctx.client.kv.deleteRange({ key });

    // The lease ended: etcd refuses the put.
    const now = (await ctx.client.kv.put({ key: Buffer.from(ctx.keys.master), value: record('john') })).header.revision;
    await ctx.client.leaseClient.leaseRevoke({ ID: lease });
    // etcd answers "lease not found"; the client's retries of that answer open its circuit breaker for 1 s.
    assert.match(await keeper.keep(lease, now, 2000), /master_lease\/john not checked or put back: /);
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(await leaseOf(), null);
  } finally {
    keeper.close();
  }
});
