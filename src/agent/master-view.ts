/**
 * What a replica's agent learns about the recorded master each round, besides the `master` key:
 * its own probe (master-probe.ts) and the master agent's member record (for /replica?lag=), both
 * at once so the round is not lengthened by their sum. Nothing for the master itself, or when no
 * other node is recorded.
 */
import { withDeadline } from '../store/etcd/store-error.js';
import type { EtcdContext } from '../store/etcd/client.js';
import { leanGet } from '../store/etcd/lean/kv.js';
import type { MasterKeyView } from './decide.js';
import { parseMemberView, type MemberView } from '../store/etcd/member-view.js';
import type { MasterProbe } from './master-probe.js';
import type { MasterProbeResult } from './member-record.js';

export interface MasterSeen {
  readonly probe: MasterProbeResult | null;
  readonly record: MemberView | null;
}

/**
 * The record's text, null when absent. Through the lean client when the context has one (every
 * round of every replica: through etcd3 this read was the largest share of an idle replica
 * agent's CPU); it bounds the call by callMs itself.
 */
function readMemberRecord(ctx: EtcdContext, name: string, callMs: number): Promise<string | null> {
  const what = "read the master's member record";
  if (ctx.lean !== undefined) return leanGet(ctx.lean.etcd, what, ctx.keys.member(name), callMs).then((kv) => (kv === null ? null : kv.value.toString('utf8')));
  return withDeadline(what, callMs, () => ctx.client.get(ctx.keys.member(name)).string());
}

/** `readRevision`: the etcd revision of the `master` key read this round, done before the probe starts. */
export async function observeMaster(ctx: EtcdContext, prober: MasterProbe, node: string, master: MasterKeyView, callMs: number, readRevision: string | null = null): Promise<MasterSeen> {
  if (master.state !== 'present' || master.record.name === node) {
    prober.close();
    return { probe: null, record: null };
  }
  const name = master.record.name;
  const [[answer, at], record] = await Promise.all([
    prober.probe(name).then((a) => [a, new Date().toISOString()] as const),
    readMemberRecord(ctx, name, callMs).then(parseMemberView, () => null),
  ]);
  return { probe: { master: name, answer, at, afterRevision: readRevision }, record };
}
