/**
 * Patroni's `/replica?lag=`: how far this replica is behind the MASTER, not how much it has
 * received but not yet replayed. The master's position comes from its agent's member record
 * (`members/<master>`, rewritten at least every ttl/3 with its `observed_at`); a record that is
 * absent, not of a running master, or older than `freshMs` gives no lag (the endpoint answers 503:
 * "within N bytes" cannot be shown). Pure.
 */
import { lsnDiff, lsnToBigInt, parseLsn, type Lsn } from '../model/lsn.js';
import type { MemberView } from '../store/etcd/member-view.js';
import type { SqlFacts } from './local-postgres.js';

/** Whether a record was observed within `freshMs` before `nowMs` (wall clocks; a record from the future by more than freshMs is not fresh either). */
export function recordFresh(record: Pick<MemberView, 'observed_at'>, nowMs: number, freshMs: number): boolean {
  if (record.observed_at === null) return false;
  const at = Date.parse(record.observed_at);
  return Number.isFinite(at) && Math.abs(nowMs - at) <= freshMs;
}

/** Bytes between the master's published position and this replica's furthest (received or replayed); null when unknown. */
export function masterLagBytes(self: SqlFacts | null, master: MemberView | null, nowMs: number, freshMs: number): number | null {
  if (self === null || !self.in_recovery || master === null) return null;
  if (master.role !== 'master' || master.postgres !== 'running' || !recordFresh(master, nowMs, freshMs)) return null;
  const masterAt = parseLsn(master.wal_position);
  const own = furthest(parseLsn(self.received_lsn), parseLsn(self.replayed_lsn));
  if (masterAt === null || own === null) return null;
  return Math.max(0, lsnDiff(masterAt, own));
}

function furthest(a: Lsn | null, b: Lsn | null): Lsn | null {
  if (a === null) return b;
  if (b === null) return a;
  return lsnToBigInt(a) >= lsnToBigInt(b) ? a : b;
}
