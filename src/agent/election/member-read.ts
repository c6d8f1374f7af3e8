/**
 * A `members/<node>` value read back for the election: a record whose fields the judgement uses
 * are well typed, or null (then it counts as stale: never a candidate, never best). Not trusted
 * beyond that: the key is writable by any agent of the cluster.
 */
import { parseLsn } from '../../model/lsn.js';
import { validTimeline } from '../../store/etcd/member-view.js';
import type { MemberRecord } from '../member-record.js';

const POSTGRES_STATES: ReadonlySet<unknown> = new Set(['running', 'unresponsive', 'crashed', 'stopped']);

export function parseMemberRecord(name: string, value: Buffer | string): MemberRecord | null {
  let v: unknown;
  try {
    v = JSON.parse(value.toString());
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const r = v as Record<string, unknown>;
  const lsnOrNull = (x: unknown): boolean => x === null || (typeof x === 'string' && parseLsn(x) !== null);
  const ok =
    r['name'] === name &&
    POSTGRES_STATES.has(r['postgres']) &&
    (r['in_recovery'] === null || typeof r['in_recovery'] === 'boolean') &&
    lsnOrNull(r['received_lsn']) &&
    lsnOrNull(r['replayed_lsn']) &&
    lsnOrNull(r['wal_position']) &&
    (r['timeline'] === null || validTimeline(r['timeline'])) &&
    // The age facts (position-watch.ts) are optional (older agents), well typed when present.
    absentOr(r['receiver_streaming_at'], isTime) &&
    absentOr(r['master_seen_at'], isTime) &&
    absentOr(r['master_lsn_seen'], lsnOrNull) &&
    absentOr(r['master_lsn_seen_for'], (x) => x === null || typeof x === 'string') &&
    absentOr(r['master_timeline_seen'], (x) => x === null || validTimeline(x)) &&
    absentOr(r['facts_after_revision'], (x) => x === null || (typeof x === 'string' && /^[0-9]{1,19}$/.test(x)));
  return ok ? (v as MemberRecord) : null;
}

function absentOr(x: unknown, ok: (x: unknown) => boolean): boolean {
  return x === undefined || ok(x);
}

function isTime(x: unknown): boolean {
  return x === null || (typeof x === 'string' && Number.isFinite(Date.parse(x)));
}
