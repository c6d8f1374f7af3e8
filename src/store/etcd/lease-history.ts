/**
 * The facts engine/lease-history-proof.ts judges: the changes of `master_lease/<master>` since the
 * `master` key was last written naming that master, read from etcd's revision history with a
 * watch started at that past revision, and the time to live of every lease they name.
 *
 * When is the replay whole? Both keys are read in one transaction (one store revision, `end`); the
 * watch covers the key range from `master` to `master_lease/<master>` (the keys between, other
 * nodes' `master_lease`, are ignored) and starts at the master key's mod revision, so its first
 * batch always holds at least the master key's own put. etcd sends a new watcher's history in
 * batches whose header revision is the store revision they were read at; once a batch's header
 * reaches `end`, every change up to `end` has been delivered (a lagging member sends an older
 * header: the replay goes on waiting). Nothing else is trusted: a watch that fails, is cancelled
 * or does not reach `end` within the deadline leaves the history unread (not proven).
 *
 * Compaction: a watch from a compacted revision is cancelled with the compaction's revision; the
 * replay is started once more from there (the window then starts at the compaction: a delete after
 * it still proves the key existed after the master key's revision, which is older).
 */
import type { IEvent, IWatchResponse } from 'etcd3';
import type { LeaseHistory, LeaseKeyChange } from '../../engine/lease-history-proof.js';
import { describeError } from '../../model/errors.js';
import type { EtcdContext } from './client.js';
import { parseMasterRecord } from './master-record.js';
import { leaseAlive } from './master-key.js';
import { withDeadline } from './store-error.js';

/** More changes than this in the window (the agent took the lease hundreds of times): not judged. */
const MAX_CHANGES = 200;
/**
 * etcd (3.4, 3.5) sends a new watcher's history in batches of at most 1,000 revisions, each with the
 * header revision of the whole read: a batch that big may be cut short, so it is not taken as whole.
 */
const WATCH_BATCH_MAX_REVS = 1000;

/** How long the replay after a compaction waits for a first batch: with no change since the compaction etcd sends none. */
const AFTER_COMPACTION_WAIT_MS = 1000;

type Replay = { kind: 'events'; events: IEvent[] } | { kind: 'compacted'; at: string } | { kind: 'failed'; why: string; silent: boolean };

/**
 * `seenAt`: the store revision at which the caller last saw the key held (under a lease it now
 * found ended): the window starts there instead of at the master key's revision, so every lease
 * the key had since that sighting is judged (a newer one may live).
 */
export async function readLeaseHistory(ctx: EtcdContext, master: string, deadlineMs = ctx.deadlineMs, seenAt?: string): Promise<LeaseHistory> {
  const unread = (why: string): LeaseHistory => ({ kind: 'unread', master, why });
  const masterKey = ctx.keys.master;
  const leaseKey = ctx.keys.masterLease(master);
  try {
    const reply = await withDeadline('read the master key and lease key', deadlineMs, () =>
      ctx.client.kv.txn({ compare: [], success: [{ request_range: { key: Buffer.from(masterKey) } }, { request_range: { key: Buffer.from(leaseKey) } }], failure: [] }),
    );
    const [masterKv, leaseKv] = reply.responses.map((r) => r.response_range?.kvs[0] ?? null);
    if (!masterKv) return unread('no master key');
    const record = parseMasterRecord(masterKey, masterKv.value);
    if (record.name !== master) return unread(`the master key names ${record.name}`);
    if (leaseKv) return unread(`${leaseKey} exists now`);
    const end = BigInt(reply.header.revision);
    const startedMs = performance.now();
    const left = (): number => Math.max(0, deadlineMs - (performance.now() - startedMs));
    const range = { key: Buffer.from(masterKey), rangeEnd: Buffer.concat([Buffer.from(leaseKey), Buffer.from([0])]) };
    const from = seenAt ?? masterKv.mod_revision;
    let replay = await replayHistory(ctx, range, from, end, left());
    let compactedAt: string | null = null;
    if (replay.kind === 'compacted') {
      compactedAt = replay.at;
      replay = await replayHistory(ctx, range, replay.at, end, Math.min(left(), AFTER_COMPACTION_WAIT_MS));
    }
    if (replay.kind === 'compacted') return { kind: 'unread', master, why: `etcd compacted its history again at revision ${replay.at} while it was read`, compactedAt: replay.at };
    if (replay.kind === 'failed' && replay.silent && compactedAt !== null) {
      // The master key's put is older than the compaction: no batch is due unless the lease key changed.
      return { kind: 'unread', master, compactedAt, why: `etcd compacted its history at revision ${compactedAt}, past ${seenAt === undefined ? `the master key's revision ${masterKv.mod_revision}` : `revision ${seenAt}`}, and no change of ${leaseKey} since then arrived within ${AFTER_COMPACTION_WAIT_MS} ms: the lease's history is gone` };
    }
    if (replay.kind === 'failed') return unread(replay.why);
    const changes: LeaseKeyChange[] = replay.events
      .filter((e) => e.kv.key.toString() === leaseKey && BigInt(e.kv.mod_revision) <= end)
      .map((e) => changeOf(e));
    if (changes.length > MAX_CHANGES) return unread(`${changes.length} changes of ${leaseKey} since revision ${from}: too many to judge`);
    const leases = [...new Set(changes.flatMap((c) => [c.lease, c.overwrote ?? null]).filter((l): l is string => l !== null && l !== '0'))];
    const alive = await Promise.all(leases.map((id) => leaseAlive(ctx, id).catch(() => null)));
    return { kind: 'read', master, masterModRevision: masterKv.mod_revision, ...(seenAt === undefined ? {} : { seenAt }), compactedAt, changes, leaseAlive: Object.fromEntries(leases.map((id, i) => [id, alive[i] ?? null])) };
  } catch (err) {
    return unread(describeError(err));
  }
}

/**
 * One event as a change. A put over an existing version takes the key from that version's lease as
 * a delete does: `overwrote` keeps it (undefined for a creation, version 1; null when etcd did not
 * send the previous version). `prior`: the version the change ended (deleted or overwritten).
 */
function changeOf(e: IEvent): LeaseKeyChange {
  const prev = e.prev_kv;
  const prior = prev === undefined || prev === null ? {} : { prior: { version: prev.version, modRevision: prev.mod_revision } };
  if (e.type === 'Delete') return { kind: 'delete', revision: e.kv.mod_revision, lease: prev?.lease ?? null, ...prior };
  const overwrote = e.kv.version === '1' ? {} : { overwrote: prev?.lease ?? null };
  return { kind: 'put', revision: e.kv.mod_revision, lease: e.kv.lease, ...overwrote, ...prior };
}

/** The events of `range` from revision `from` until a batch read at `end` or later arrived (see the module comment). */
async function replayHistory(ctx: EtcdContext, range: { key: Buffer; rangeEnd: Buffer }, from: string, end: bigint, deadlineMs: number): Promise<Replay> {
  const opening = ctx.client.watchClient.watch();
  let stream: Awaited<typeof opening>;
  try {
    stream = await withDeadline('open a watch on the lease history', deadlineMs, () => opening);
  } catch (err) {
    // A stream that opens after the deadline is closed, with a listener: an 'error' without one would end the process.
    void opening.then((late) => {
      late.on('error', () => undefined);
      late.cancel();
    }, () => undefined);
    throw err;
  }
  return new Promise<Replay>((resolve) => {
    const events: IEvent[] = [];
    let created = false;
    let done = false;
    const finish = (outcome: Replay): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        stream.cancel();
      } catch {
        // already ended
      }
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ kind: 'failed', why: `the watch from revision ${from} did not reach revision ${end} within ${Math.round(deadlineMs)} ms`, silent: events.length === 0 }), deadlineMs);
    stream.on('data', (res: IWatchResponse) => {
      if (res.compact_revision !== undefined && res.compact_revision !== '0' && res.compact_revision !== '') return finish({ kind: 'compacted', at: res.compact_revision });
      if (res.canceled) return finish({ kind: 'failed', why: `etcd cancelled the watch: ${res.cancel_reason || 'no reason given'}`, silent: false });
      // The creation's answer carries the current revision but no history: not a batch.
      if (res.created && !created) {
        created = true;
        if (res.events.length === 0) return;
      }
      events.push(...res.events);
      if (new Set(events.map((e) => e.kv.mod_revision)).size >= WATCH_BATCH_MAX_REVS) return finish({ kind: 'failed', why: `more than ${WATCH_BATCH_MAX_REVS} revisions of history since revision ${from}: too many to judge`, silent: false });
      if (!res.fragment && BigInt(res.header.revision) >= end) finish({ kind: 'events', events });
    });
    stream.on('error', (err: Error) => finish({ kind: 'failed', why: `the watch failed: ${describeError(err)}`, silent: false }));
    stream.on('end', () => finish({ kind: 'failed', why: 'the watch ended', silent: false }));
    stream.write({ create_request: { key: range.key, range_end: range.rangeEnd, start_revision: from, prev_kv: true } });
  });
}
