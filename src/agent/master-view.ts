/**
 * What a replica's agent learns about the recorded master each round, besides the `master` key:
 * its own probe (master-probe.ts), and the master agent's member record (for /replica?lag= and
 * the master position it publishes for elections). Nothing for the master itself, or when no
 * other node is recorded.
 *
 * The record: as the last write of this agent's own record read it (member-write.ts: at least
 * every ttl/3, every round while its facts move), so that an idle replica makes no read of its
 * own; read on its own, beside the probe, in the rounds where that is not fresh enough
 * (`readRecordNow`, decided by the round: recordReadNeeded).
 */
import type { EtcdContext } from '../store/etcd/client.js';
import { leanGet } from '../store/etcd/lean/kv.js';
import { parseMemberView, type MemberView } from '../store/etcd/member-view.js';
import { withDeadline } from '../store/etcd/store-error.js';
import type { MasterKeyView } from './decide.js';
import { masterSeenKey } from './election/position-rules.js';
import type { MasterProbe } from './master-probe.js';
import type { MasterProbeResult } from './member-record.js';

export interface MasterSeen {
  readonly probe: MasterProbeResult | null;
  readonly record: MemberView | null;
}

/** The master's member record as read, for the master record (`<name>/<term>`) it was read under. */
export interface MasterRecordRead {
  readonly key: string;
  readonly record: MemberView | null;
}

/** The recorded master when it is another node (the one to probe and whose record to read), else null. */
export function otherMaster(master: MasterKeyView, node: string): { readonly name: string; readonly key: string } | null {
  return master.state === 'present' && master.record.name !== node ? { name: master.record.name, key: masterSeenKey(master.record) } : null;
}

/**
 * Whether a round reads the master's record on its own instead of using the last write's copy:
 * when the agents elect (an election's lag limit wants the master's last position published
 * within a round, as before), and when this replica's WAL receiver was not streaming last round
 * (its /replica?lag= then rests on the record alone: a master that starts writing must show at
 * once), or its facts are unknown.
 */
export function recordReadNeeded(s: { readonly elections: boolean; readonly streamingLastRound: boolean }): boolean {
  return s.elections || !s.streamingLastRound;
}

/** The record's text, null when absent, bounded by callMs (the lean client bounds the call itself). */
function readMemberRecord(ctx: EtcdContext, name: string, callMs: number): Promise<string | null> {
  const what = "read the master's member record";
  if (ctx.lean !== undefined) return leanGet(ctx.lean.etcd, what, ctx.keys.member(name), callMs).then((kv) => (kv === null ? null : kv.value.toString('utf8')));
  return withDeadline(what, callMs, () => ctx.client.get(ctx.keys.member(name)).string());
}

export interface ObserveMaster {
  readonly ctx: EtcdContext;
  readonly prober: MasterProbe;
  readonly node: string;
  /** The deadline of the record's read (a replica's: agent-timing.ts replicaIdleCallMs). */
  readonly callMs: number;
}

/**
 * `readRevision`: the etcd revision of the `master` key read this round, done before the probe
 * starts. `lastRead`: the master's record as last read with this agent's own record. Resolves
 * with what was read now (`fresh`, for the caller to keep) besides what the round uses.
 */
export async function observeMaster(o: ObserveMaster, master: MasterKeyView, lastRead: MasterRecordRead | null, readRecordNow: boolean, readRevision: string | null = null): Promise<MasterSeen & { readonly fresh: MasterRecordRead | null }> {
  const other = otherMaster(master, o.node);
  if (other === null) {
    o.prober.close();
    return { probe: null, record: null, fresh: null };
  }
  const reading = readRecordNow ? readMemberRecord(o.ctx, other.name, o.callMs).then(parseMemberView, () => undefined) : Promise.resolve(undefined);
  const [[answer, at], read] = await Promise.all([o.prober.probe(other.name).then((a) => [a, new Date().toISOString()] as const), reading]);
  // A failed read is no record (as before), and is not kept over an older copy.
  const fresh = read === undefined ? null : { key: other.key, record: read };
  const record = readRecordNow ? (read ?? null) : lastRead?.key === other.key ? lastRead.record : null;
  return { probe: { master: other.name, answer, at, afterRevision: readRevision }, record, fresh };
}
