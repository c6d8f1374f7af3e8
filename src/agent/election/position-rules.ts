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

export type PositionRefusalCode = 'timeline_unknown' | 'timeline_behind' | 'timeline_forked' | 'receiver_stale';

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

/**
 * Refusal by timeline, against the recorded master's timeline (when the record carries one: an
 * agents' take confirms it, a controller's seed knows it, a controller's failover writes null)
 * and against the highest timeline among the candidates.
 */
export function timelineRefusal(timeline: number | null, recordedTimeline: number | null, highestCandidate: number | null): PositionRefusal | null {
  if (timeline === null) return { code: 'timeline_unknown', reason: 'publishes no timeline' };
  if (recordedTimeline !== null && timeline < recordedTimeline) {
    return { code: 'timeline_behind', reason: `is on timeline ${timeline}, behind the recorded master's ${recordedTimeline}: its WAL is on an older history` };
  }
  if (recordedTimeline !== null && timeline > recordedTimeline) {
    return { code: 'timeline_forked', reason: `is on timeline ${timeline}, ahead of the recorded master's ${recordedTimeline}: it was promoted outside the record (a forked history)` };
  }
  if (highestCandidate !== null && timeline < highestCandidate) {
    return { code: 'timeline_behind', reason: `is on timeline ${timeline}, behind another candidate's ${highestCandidate}` };
  }
  return null;
}

/**
 * Refusal by the age of the position: the WAL receiver stopped streaming more than `allowedMs`
 * before its agent last saw the master alive (both times from that agent's clock), and its
 * position is short of the master's last known one (or that is unknown). Records of agents that
 * publish neither time (older versions) are not judged on it.
 */
export function receiverStaleRefusal(record: MemberRecord, allowedMs: number, masterPosition: string | null): PositionRefusal | null {
  const streamingAt = record.receiver_streaming_at;
  const masterSeenAt = record.master_seen_at;
  if (streamingAt === undefined || masterSeenAt === undefined || masterSeenAt === null) return null;
  const masterMs = Date.parse(masterSeenAt);
  if (!Number.isFinite(masterMs)) return null;
  const streamingMs = streamingAt === null ? Number.NaN : Date.parse(streamingAt);
  const silentMs = Number.isFinite(streamingMs) ? masterMs - streamingMs : Number.POSITIVE_INFINITY;
  if (silentMs <= allowedMs) return null;
  const own = furthestLsn(record.received_lsn, record.replayed_lsn);
  const master = parseLsn(masterPosition);
  if (own !== null && master !== null && lsnToBigInt(own) >= lsnToBigInt(master)) return null;
  const since = Number.isFinite(silentMs) ? `${Math.round(silentMs)} ms before` : 'at no time while';
  return { code: 'receiver_stale', reason: `its WAL receiver stopped streaming ${since} its agent last saw the master alive (allowed ${allowedMs} ms), and its position is short of the master's last known ${master ?? '(unknown)'}` };
}
