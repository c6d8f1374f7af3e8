/**
 * On a real etcd: a call that etcd refuses for an application reason (a put or revoke naming a
 * lease that has ended: "requested lease not found") does not make the client's following calls
 * fail. Before fault-handling.ts, the client counted every error: the refused call was retried on
 * the one member three times, which opened that member's circuit breaker, and for a second every
 * call (the agent's lease renewal, a member write, a controller's guarded write) failed at once
 * with "the circuit breaker is open" without reaching etcd.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EtcdLeaseInvalidError } from 'etcd3';
import { AgentLease, KeepaliveChannel } from '../../src/agent/agent-lease.js';
import { parseConfig } from '../../src/config/load.js';
import { createEtcdContext, type EtcdContext } from '../../src/store/etcd/client.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';

let etcd: EtcdCluster;
let ctx: EtcdContext;

before(async () => {
  // One member: every attempt of a retried call lands on it, the case where its breaker opened.
  etcd = await startEtcdCluster({ members: 1 });
  ctx = createEtcdContext(parseConfig(JSON.stringify({ handyrep: { store: 'etcd' }, etcd: { endpoints: etcd.endpoints, prefix: '/handyrep/faults/', ttl: 3, retry_timeout: 2 } }), 'test'));
});
after(async () => {
  ctx?.close();
  await etcd?.stop();
});

/** A lease id etcd no longer knows (granted, then revoked). */
async function endedLease(): Promise<string> {
  const grant = await ctx.client.leaseClient.leaseGrant({ TTL: 30 });
  await ctx.client.leaseClient.leaseRevoke({ ID: grant.ID });
  return grant.ID;
}

describe('etcd client fault handling on a real etcd', () => {
  it('calls refused with "requested lease not found" leave the following renewal, put, grant and keep-alive stream working', async () => {
    const channel = new KeepaliveChannel();
    const lease = new AgentLease(ctx, 'master lease', 2000, () => undefined, undefined, channel);
    try {
      assert.equal(await lease.hold(1000), true, 'granted');
      const ended = await endedLease();
      const key = Buffer.from('/handyrep/faults/members/paul');
      // Three refused calls in a row on the shared client and three on the member client used for
      // the leader's renewals: each alone was enough to open the breaker before.
      for (let i = 0; i < 3; i++) {
        await assert.rejects(ctx.client.kv.put({ key, value: Buffer.from('{}'), lease: ended }), EtcdLeaseInvalidError);
        await assert.rejects(ctx.memberClient(0).leaseClient.leaseRevoke({ ID: ended }), EtcdLeaseInvalidError);
      }
      // At once, without waiting for a breaker to half-open:
      assert.equal(await lease.hold(1000), true, 'the lease renewal after the refused calls reached etcd');
      await ctx.client.kv.put({ key, value: Buffer.from('{"ok":true}'), lease: lease.id ?? '0' });
      const reply = await ctx.client.kv.range({ key });
      assert.equal(reply.kvs[0]?.value.toString(), '{"ok":true}');
      const grant = await ctx.memberClient(0).leaseClient.leaseGrant({ TTL: 5 });
      const stream = await ctx.memberClient(0).leaseClient.leaseKeepAlive();
      const ttl = await new Promise<string>((resolve, reject) => {
        stream.on('data', (r: { TTL: string }) => resolve(r.TTL));
        stream.on('error', reject);
        stream.write({ ID: grant.ID });
      });
      stream.end();
      assert.ok(Number(ttl) > 0, `keep-alive on the member client answered TTL ${ttl}`);
    } finally {
      channel.close();
      lease.close();
    }
  });

  it('a keep-alive renewal of an ended lease says "expired" (not held) and the next grant works', async () => {
    const channel = new KeepaliveChannel();
    const lease = new AgentLease(ctx, 'member lease', 2000, () => undefined, undefined, channel);
    try {
      assert.equal(await lease.hold(1000), true);
      const id = lease.id ?? '0';
      await ctx.client.leaseClient.leaseRevoke({ ID: id });
      for (let i = 0; i < 3; i++) await assert.rejects(ctx.client.kv.put({ key: Buffer.from('/handyrep/faults/x'), value: Buffer.from('1'), lease: id }), EtcdLeaseInvalidError);
      assert.equal(await lease.hold(1000), false, 'etcd answered TTL ≤ 0 for the ended lease');
      assert.equal(await lease.hold(1000), true, 'a new lease granted at once');
    } finally {
      channel.close();
      lease.close();
    }
  });
});
