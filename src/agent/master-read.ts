/**
 * The `master` key as the agent's rounds and boot see it: the view the pure decisions take, and
 * the mod revision a lease transaction compares (boot-lease.ts), so a lease is only ever taken for
 * the master key exactly as it was judged.
 */
import type { EtcdContext } from '../store/etcd/client.js';
import { readMasterKey } from '../store/etcd/master-key.js';
import { describeError } from '../model/errors.js';
import type { MasterKeyView } from './decide.js';

export interface MasterRead {
  readonly view: MasterKeyView;
  /** '0' when absent or unreadable (a compare on '0' then only holds while the key is absent). */
  readonly modRevision: string;
  /** The store's revision at this read (null when unreadable): a probe started after it is newer (member-record.ts probe_revision). */
  readonly readRevision: string | null;
}

export async function readMasterView(ctx: EtcdContext, callMs: number): Promise<MasterRead> {
  try {
    const read = await readMasterKey(ctx, callMs);
    return { view: read.record === null ? { state: 'absent' } : { state: 'present', record: read.record }, modRevision: read.modRevision, readRevision: read.readRevision ?? null };
  } catch (err) {
    return { view: { state: 'unreadable', reason: describeError(err) }, modRevision: '0', readRevision: null };
  }
}
