/**
 * The master lease released after a crash, with the agent's statement that its postmaster died
 * (engine/crash-statement.ts): ONE etcd transaction puts `members/<node>` saying `postgres:
 * crashed` (under the member lease) and deletes `master_lease/<node>`; then the master lease is
 * revoked as always. The record written at the delete's own revision is what lets the leading
 * controller skip its check retries for this lapse: a record written in another transaction (or
 * rewritten by the next round) proves nothing about it, and a lapse by expiry (a lost host, a
 * killed agent) has no such record.
 *
 * The delete is guarded by the lease: only the key this agent's master lease holds is deleted (the
 * revoke would delete it anyway). Without the member lease, or when the transaction fails, the
 * lease is just revoked (the controller then keeps its retries): the statement never delays the
 * release by more than one etcd call.
 */
import type { EtcdContext } from '../store/etcd/client.js';
import { withDeadline } from '../store/etcd/store-error.js';
import type { MemberRecord } from './member-record.js';

export interface CrashRelease {
  readonly ctx: EtcdContext;
  readonly node: string;
  /** The record saying `postgres: crashed`. */
  readonly record: MemberRecord;
  readonly memberLeaseId: string | null;
  readonly masterLeaseId: string | null;
  readonly callMs: number;
  /** Revokes the master lease (AgentLease.release), after the transaction in every case. */
  readonly revoke: () => Promise<void>;
}

/** Returns a note for the round's sentence ('' when the statement went with the release). */
export async function releaseStatingCrash(r: CrashRelease): Promise<string> {
  let note = '';
  if (r.masterLeaseId === null) {
    // No master lease held: nothing to release, nothing to state about a release.
  } else if (r.memberLeaseId === null) {
    note = ' (without the crash statement: no member lease)';
  } else {
    const leaseKey = Buffer.from(r.ctx.keys.masterLease(r.node));
    const memberKey = Buffer.from(r.ctx.keys.member(r.node));
    const { memberLeaseId, masterLeaseId } = r;
    try {
      const reply = await withDeadline('state the crash and release the master lease', r.callMs, () =>
        r.ctx.client.kv.txn({
          compare: [{ key: leaseKey, target: 'Lease', result: 'Equal', lease: masterLeaseId }],
          success: [
            { request_put: { key: memberKey, value: Buffer.from(JSON.stringify(r.record)), lease: memberLeaseId } },
            { request_delete_range: { key: leaseKey } },
          ],
          failure: [],
        }),
      );
      if (!reply.succeeded) note = ' (without the crash statement: the lease key was no longer this lease\'s)';
    } catch {
      note = ' (without the crash statement: etcd did not take it)';
    }
  }
  await r.revoke();
  return note;
}
