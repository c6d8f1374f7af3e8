/**
 * The facts engine/lease-current-proof.ts judges when etcd's history of `master_lease/<master>`
 * is gone: one linearizable read of the `master` key and the lease key (revision R), then — only
 * after it, so every answer can be checked to be at least as new — etcd's list of live leases and
 * each one's time to live with its keys. The master key's transactions still compare the lease
 * key's absence: what happens after these reads is theirs to refuse (see the rule's comment).
 */
import type { CurrentLeases, ListedLease } from '../../engine/lease-current-proof.js';
import { describeError } from '../../model/errors.js';
import type { EtcdContext } from './client.js';
import { parseMasterRecord } from './master-record.js';
import { withDeadline } from './store-error.js';

/** More live leases than this in the etcd (a busy shared etcd): not judged; the election asks every round while unproven, one call per lease. */
export const MAX_LEASES = 256;
/** Time-to-live calls in flight at once. */
const PARALLEL = 16;

export async function readCurrentLeases(ctx: EtcdContext, master: string, deadlineMs = ctx.deadlineMs): Promise<CurrentLeases> {
  const unread = (why: string): CurrentLeases => ({ kind: 'unread', master, why });
  const masterKey = ctx.keys.master;
  const leaseKey = ctx.keys.masterLease(master);
  const startedMs = performance.now();
  const left = (): number => Math.max(1, deadlineMs - (performance.now() - startedMs));
  try {
    const reply = await withDeadline('read the master key and lease key', left(), () =>
      ctx.client.kv.txn({ compare: [], success: [{ request_range: { key: Buffer.from(masterKey) } }, { request_range: { key: Buffer.from(leaseKey) } }], failure: [] }),
    );
    const [masterKv, leaseKv] = reply.responses.map((r) => r.response_range?.kvs[0] ?? null);
    if (!masterKv) return unread('no master key');
    const record = parseMasterRecord(masterKey, masterKv.value);
    if (record.name !== master) return unread(`the master key names ${record.name}`);
    if (leaseKv) return unread(`${leaseKey} exists now (under lease ${leaseKv.lease})`);
    const listing = await withDeadline('list etcd\'s leases', left(), () => ctx.client.leaseClient.leaseLeases());
    if (listing.leases.length > MAX_LEASES) return unread(`etcd holds ${listing.leases.length} live leases, more than ${MAX_LEASES} to read one by one`);
    const ids = listing.leases.map((l) => l.ID);
    const leases: ListedLease[] = [];
    for (let i = 0; i < ids.length; i += PARALLEL) {
      const batch = await Promise.all(ids.slice(i, i + PARALLEL).map((id) => readLease(ctx, id, left())));
      leases.push(...batch);
      // A live lease without keys or carrying the key settles it (not proven / held): the rest need not be read.
      if (batch.some((l) => 'ttl' in l && l.ttl >= 0 && (l.keys.length === 0 || l.keys.includes(leaseKey)))) break;
    }
    return { kind: 'read', master, leaseKey, readRevision: reply.header.revision, listingRevision: listing.header.revision, leases };
  } catch (err) {
    return unread(describeError(err));
  }
}

async function readLease(ctx: EtcdContext, id: string, deadlineMs: number): Promise<ListedLease> {
  try {
    const ttl = await withDeadline(`read lease ${id}'s time to live`, deadlineMs, () => ctx.client.leaseClient.leaseTimeToLive({ ID: id, keys: true }));
    return { id, ttl: Number(ttl.TTL), keys: ttl.keys.map((k) => Buffer.from(k).toString()), revision: ttl.header.revision };
  } catch (err) {
    return { id, unread: describeError(err) };
  }
}
