/**
 * What a member record's WAL position is worth in an agents' election, beyond its LSN (pure):
 *   - its timeline: an LSN is a place on ONE history. A member on an older timeline than the
 *     recorded master (or than another candidate) holds WAL the cluster has moved past; one on a
 *     newer timeline than the recorded master's forked (promoted outside the record). Either may
 *     be "ahead" in LSN terms and still lack acknowledged commits, so neither may win;
 *   - its age: a replica whose WAL receiver stopped streaming while the master was still alive
 *     (seen by its own agent, one clock, member-record.ts) holds an old position; it may win only
 *     when that position is provably the master's last (nothing was written since).
 *   - the master's last position: what any agent saw in the old master's member record under the
 *     same master record (they publish it, Patroni's last leader position), so the lag limit
 *     survives the master's record expiring and an agent that restarted meanwhile.
 */
import { lsnToBigInt, parseLsn, type Lsn } from '../../model/lsn.js';
import type { MasterRecord } from '../../store/etcd/master-record.js';
import type { MemberRecord } from '../member-record.js';

export type PositionRefusalCode = 'timeline_unknown' | 'timeline_behind' | 'timeline_forked' | 'receiver_stale' | 'master_position_unknown';

export interface PositionRefusal {
  readonly code: PositionRefusalCode;
  readonly reason: string;
}

/** The key members publish their view of the master's position under: `<name>/<term>`. */
export function masterSeenKey(record: Pick<MasterRecord, 'name' | 'term'>): string {
  return `${record.name}/${record.term}`;
}

/** The furthest of the WAL positions given (nulls ignored); null when none parses. */
export function furthestLsn(...positions: readonly (string | null | undefined)[]): Lsn | null {
  let best: Lsn | null = null;
  for (const p of positions) {
    const parsed = parseLsn(p);
    if (parsed !== null && (best === null || lsnToBigInt(parsed) > lsnToBigInt(best))) best = parsed;
  }
  return best;
}

/** The old master's furthest position any member record published for this master record. */
export function publishedMasterPosition(members: readonly { readonly record: MemberRecord | null }[], key: string): string | null {
  return furthestLsn(...members.map((m) => (m.record?.master_lsn_seen_for === key ? m.record.master_lsn_seen : null)));
}

/** The highest timeline of the old master any member record published for this master record. */
export function publishedMasterTimeline(members: readonly { readonly record: MemberRecord | null }[], key: string): number | null {
  const seen = members.flatMap((m) => (m.record?.master_lsn_seen_for === key && typeof m.record.master_timeline_seen === 'number' ? [m.record.master_timeline_seen] : []));
  return seen.length === 0 ? null : Math.max(...seen);
}

/**
 * Refusal by timeline, against the reference: the recorded master's timeline when the record
 * carries one (an agents' take confirms it, a controller's seed knows it), else the highest one
 * the old master published as it ran (its member record, remembered and republished by the
 * agents: a controller's failover writes none). Without a reference no candidate can be placed
 * on the cluster's history: refused (never trust the LSN alone). A candidate above the reference
 * was promoted outside the record (forked).
 */
export function timelineRefusal(timeline: number | null, reference: number | null): PositionRefusal | null {
  if (timeline === null) return { code: 'timeline_unknown', reason: 'publishes no timeline' };
  if (reference === null) return { code: 'timeline_unknown', reason: "cannot be placed on the cluster's history: the master record carries no timeline and no agent saw the master's" };
  if (timeline < reference) return { code: 'timeline_behind', reason: `is on timeline ${timeline}, behind the master's ${reference}: its WAL is on an older history` };
  if (timeline > reference) return { code: 'timeline_forked', reason: `is on timeline ${timeline}, ahead of the master's ${reference}: it was promoted outside the record (a forked history)` };
  return null;
}

/**
 * Refusal by the age of the position: the WAL receiver stopped streaming more than `allowedMs`
 * before its agent last saw the master alive (both times from that agent's clock), or that agent
 * never saw the master alive (restarted since: the age is unknown), and its position is not
 * provably the master's last one (at least that LSN, on the master's timeline). Records of agents
 * that publish no age (older versions) are not judged on it.
 */
export function receiverStaleRefusal(record: MemberRecord, allowedMs: number, masterPosition: string | null, masterTimeline: number | null): PositionRefusal | null {
  const streamingAt = record.receiver_streaming_at;
  if (streamingAt === undefined) return null;
  const masterMs = record.master_seen_at ? Date.parse(record.master_seen_at) : Number.NaN;
  const streamingMs = streamingAt === null ? Number.NaN : Date.parse(streamingAt);
  const silentMs = Number.isFinite(masterMs) && Number.isFinite(streamingMs) ? masterMs - streamingMs : Number.POSITIVE_INFINITY;
  if (silentMs <= allowedMs) return null;
  const own = furthestLsn(record.received_lsn, record.replayed_lsn);
  const master = parseLsn(masterPosition);
  if (own !== null && master !== null && record.timeline !== null && record.timeline === masterTimeline && lsnToBigInt(own) >= lsnToBigInt(master)) return null;
  const since = Number.isFinite(silentMs) ? `stopped streaming ${Math.round(silentMs)} ms before its agent last saw the master alive (allowed ${allowedMs} ms)` : Number.isFinite(masterMs) ? 'did not stream while its agent saw the master alive' : 'streamed at a time unknown: its agent never saw the master alive (restarted since?)';
  return { code: 'receiver_stale', reason: `its WAL receiver ${since}, and its position is not provably the master's last (${master ?? 'unknown'} on timeline ${masterTimeline ?? '?'})` };
}
