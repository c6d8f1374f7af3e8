/**
 * Patroni's `/replica?lag=`: how far this replica is behind the MASTER, not how much it has
 * received but not yet replayed. The master's position is the furthest of what this agent knows:
 *   - the master agent's member record (`members/<master>`, rewritten at least every ttl/3 with its
 *     `observed_at`), when it is of a running master and fresh (observed within `freshMs`);
 *   - the WAL end the sending server last reported to this replica's WAL receiver
 *     (pg_stat_wal_receiver.latest_end_lsn; Patroni takes the larger of its cached leader position
 *     and this one), but only when that report is worth something (review X3): the receiver
 *     streams, heard its sender within `freshMs` (last_msg_receipt_time, on this server's own
 *     clock: a receiver cut off keeps saying "streaming" until wal_receiver_timeout with a frozen
 *     position), the sender is the recorded master's host, and this replica is on the master's
 *     timeline (not still following a deposed master or another replica).
 * The second needs no etcd: while etcd is down the last known master (nobody changes the topology
 * then) stands for the recorded one, and a replica that still hears it answers (design §9 rule 5;
 * the body says which source was used). A replica with neither gives no lag (503). Either source is
 * a LOWER bound of the master's position now. Pure.
 */
import { lsnDiff, lsnToBigInt, parseLsn, type Lsn } from '../model/lsn.js';
import type { MemberView } from '../store/etcd/member-view.js';
import type { SqlFacts } from './local-postgres.js';
import type { MasterKeyView } from './decide.js';

/** The master a WAL receiver's report must come from: its host (as in the configuration) and timeline. */
export interface MasterIdentity {
  readonly name: string;
  readonly host: string;
  readonly timeline: number | null;
}

/**
 * The master as of this round: the recorded one (its timeline from the key, else from its own
 * member record, else as known before); with etcd unreadable the last known one. Pure.
 */
export function nextMasterIdentity(previous: MasterIdentity | null, master: MasterKeyView, record: MemberView | null, hostOf: (name: string) => string | null): MasterIdentity | null {
  if (master.state === 'unreadable') return previous;
  if (master.state === 'absent') return null;
  const name = master.record.name;
  const host = hostOf(name);
  if (host === null) return null;
  const fromRecord = record !== null && record.name === name && record.role === 'master' ? (record.timeline ?? null) : null;
  const known = previous !== null && previous.name === name ? previous.timeline : null;
  return { name, host, timeline: master.record.timeline ?? fromRecord ?? known };
}

/** Whether this replica's WAL receiver report is one from the master, heard within `freshMs`. */
export function receiverHearsMaster(self: SqlFacts, master: MasterIdentity | null, freshMs: number): boolean {
  if (master === null || master.timeline === null) return false;
  const age = self.sender_msg_age_s ?? null;
  return age !== null && age * 1000 <= freshMs && self.sender_host === master.host && self.timeline === master.timeline;
}

/** Where the master's position came from: its agent's record, or this replica's WAL receiver. */
export type MasterLagSource = 'member_record' | 'wal_receiver';

export interface MasterLag {
  readonly bytes: number;
  readonly source: MasterLagSource;
}

/** Whether a record was observed within `freshMs` before `nowMs` (wall clocks; a record from the future by more than freshMs is not fresh either). */
export function recordFresh(record: Pick<MemberView, 'observed_at'>, nowMs: number, freshMs: number): boolean {
  if (record.observed_at === null) return false;
  const at = Date.parse(record.observed_at);
  return Number.isFinite(at) && Math.abs(nowMs - at) <= freshMs;
}

/** The distance to the furthest known master position, and where it came from; null when none is known. */
export function masterLag(self: SqlFacts | null, master: MemberView | null, nowMs: number, freshMs: number, identity: MasterIdentity | null = null): MasterLag | null {
  if (self === null || !self.in_recovery) return null;
  const own = furthest(parseLsn(self.received_lsn), parseLsn(self.replayed_lsn));
  if (own === null) return null;
  const published = master !== null && master.role === 'master' && master.postgres === 'running' && recordFresh(master, nowMs, freshMs) ? parseLsn(master.wal_position) : null;
  const streamed = receiverHearsMaster(self, identity, freshMs) ? parseLsn(self.sender_end_lsn ?? null) : null;
  const target = furthest(published, streamed);
  if (target === null) return null;
  return { bytes: Math.max(0, lsnDiff(target, own)), source: target === published ? 'member_record' : 'wal_receiver' };
}

/** Bytes between the master's furthest known position and this replica's furthest (received or replayed); null when unknown. */
export function masterLagBytes(self: SqlFacts | null, master: MemberView | null, nowMs: number, freshMs: number): number | null {
  return masterLag(self, master, nowMs, freshMs)?.bytes ?? null;
}

/** The health facts' two fields for a lag (health.ts). */
export function masterLagFacts(lag: MasterLag | null): { masterLagBytes: number | null; masterLagSource: MasterLagSource | null } {
  return { masterLagBytes: lag?.bytes ?? null, masterLagSource: lag?.source ?? null };
}

function furthest(a: Lsn | null, b: Lsn | null): Lsn | null {
  if (a === null) return b;
  if (b === null) return a;
  return lsnToBigInt(a) >= lsnToBigInt(b) ? a : b;
}
