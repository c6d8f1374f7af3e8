/**
 * Who may win an agents' election under synchronous replication (pure), so that no acknowledged
 * commit is lost: the controller's own rule (engine/sync-promotion.ts: only members of the
 * recorded synchronous set; with a quorum, the furthest of at least n − k + 1 of them) applied to
 * the recorded set (the `cluster` key's `sync`).
 *
 * In deployment `ha`, once no controller has led for ttl, that set is the one the last controller
 * kept; in deployment `agents` the master's own agent keeps it (agent/sync/, the same rules and
 * record). Either way a standby is recorded BEFORE it is named in synchronous_standby_names and
 * unrecorded only AFTER it is no longer named, and once the master's lease is gone nobody changes
 * it (the agent records only under its fresh master lease).
 *
 * The record must describe the master that was lost: one about another master (the previous one,
 * or a set recorded for a promotion that did not happen) says nothing of where this master's
 * acknowledged commits are.
 */
import { syncPromotionRule } from '../../engine/sync-promotion.js';
import type { SyncRecord } from '../../model/sync-record.js';

export type SyncRefusalCode = 'sync_unread' | 'sync_record_missing' | 'sync_record_stale' | 'sync_quorum' | 'not_sync_member' | 'sync_behind';

export type SyncVerdict =
  | { readonly kind: 'any'; readonly note: string }
  | { readonly kind: 'only'; readonly allowed: ReadonlySet<string>; readonly note: string }
  | { readonly kind: 'refuse'; readonly code: SyncRefusalCode; readonly sentence: string };

export interface SyncMember {
  readonly name: string;
  /** Its received WAL position when its member record is fresh (PostgreSQL running in recovery); else null. */
  readonly receiveLsn: string | null;
}

/**
 * `record`: undefined when not read (the elector reads the `cluster` key only once the cheaper
 * checks passed), null when the key holds no set.
 */
export function syncRule(mode: 'on' | 'strict', record: SyncRecord | null | undefined, oldMaster: string, node: string, members: readonly SyncMember[]): SyncVerdict {
  if (record === undefined) return { kind: 'refuse', code: 'sync_unread', sentence: 'the recorded synchronous set is not read yet' };
  if (record === null) return { kind: 'refuse', code: 'sync_record_missing', sentence: `synchronous_mode is ${mode} but no synchronous set is recorded (the cluster key): where the acknowledged commits are is unknown` };
  if (!Number.isInteger(record.quorum) || record.quorum < 0 || record.quorum > record.members.length) {
    return { kind: 'refuse', code: 'sync_record_missing', sentence: `the recorded synchronous set is not valid (quorum ${record.quorum} of ${record.members.length} members)` };
  }
  if (record.master !== oldMaster) {
    return { kind: 'refuse', code: 'sync_record_stale', sentence: `the recorded synchronous set describes ${record.master ?? 'no master'}, not ${oldMaster} (recorded ${record.at}: ${record.reason}): a controller must fail over` };
  }
  const rule = syncPromotionRule(mode, record, members.map((m) => ({ name: m.name, reachable: m.receiveLsn !== null, receiveLsn: m.receiveLsn })));
  if (rule.kind === 'any_candidate') return { kind: 'any', note: rule.warning ?? '' };
  if (rule.kind === 'none') return { kind: 'refuse', code: 'sync_quorum', sentence: rule.reason };
  const why = rule.why[node];
  if (!rule.allowed.includes(node)) {
    const code = why?.code ?? 'not_sync_member';
    return { kind: 'refuse', code, sentence: `${node} ${why?.reason ?? `is not in the recorded synchronous set (${record.members.join(', ')})`}` };
  }
  return { kind: 'only', allowed: new Set(rule.allowed), note: `synchronous set ${record.members.join(', ')} (quorum ${record.quorum})` };
}
