/**
 * The master lease taken BEFORE the agent starts its PostgreSQL writable at boot (start_master,
 * or the master of a new cluster): `master_lease/<node>` is put under the agent's lease in ONE
 * transaction that also compares the `master` key's mod revision with the one the boot decision
 * read. Why: a controller (or the agents' election) records another master only while every other
 * node's `master_lease` is absent; a node that started writable first and took its lease a round
 * later could be overtaken in between — two writable servers until the next round. With the lease
 * key in place before the start, either the controller's write fails (the key exists) or ours does
 * (the `master` key changed): never both.
 */
import type { EtcdContext } from '../store/etcd/client.js';
import { withDeadline } from '../store/etcd/store-error.js';

/** The value of `master_lease/<node>` (also written by the rounds, agent.ts). */
export function masterLeaseValue(node: string): string {
  return JSON.stringify({ node, since: new Date().toISOString() });
}

/**
 * Puts `master_lease/<node>` under `leaseId` if the `master` key's mod revision is still
 * `masterModRevision` and the lease key did not change since read here (absent, or left by an
 * earlier agent process whose lease has not run out yet).
 */
export async function putMasterLeaseIfStillMaster(ctx: EtcdContext, node: string, leaseId: string, masterModRevision: string, callMs: number): Promise<{ ok: boolean; details: string }> {
  const leaseKey = Buffer.from(ctx.keys.masterLease(node));
  const masterKey = Buffer.from(ctx.keys.master);
  const read = await withDeadline('read the master lease key', callMs, () => ctx.client.kv.range({ key: leaseKey }));
  const leaseModRevision = read.kvs[0]?.mod_revision ?? '0';
  const reply = await withDeadline('take the master lease before the start', callMs, () =>
    ctx.client.kv.txn({
      compare: [
        { key: masterKey, target: 'Mod', result: 'Equal', mod_revision: masterModRevision },
        { key: leaseKey, target: 'Mod', result: 'Equal', mod_revision: leaseModRevision },
      ],
      success: [{ request_put: { key: leaseKey, value: Buffer.from(masterLeaseValue(node)), lease: leaseId } }],
      failure: [],
    }),
  );
  return reply.succeeded
    ? { ok: true, details: `master lease taken at revision ${reply.header.revision}` }
    : { ok: false, details: 'the master key (or this node\'s master lease key) changed since it was read: not started writable' };
}
