/**
 * What a replica's agent learns about the recorded master each round, besides the `master` key:
 * its own probe (master-probe.ts), and the master agent's member record (for /replica?lag= and
 * the master position it publishes) as its own record's last write read it (member-write.ts:
 * at least every ttl/3, every round while its facts move). Nothing for the master itself, or when
 * no other node is recorded.
 */
import type { MasterKeyView } from './decide.js';
import type { MemberView } from '../store/etcd/member-view.js';
import type { MasterProbe } from './master-probe.js';
import type { MasterProbeResult } from './member-record.js';

export interface MasterSeen {
  readonly probe: MasterProbeResult | null;
  readonly record: MemberView | null;
}

/** The master's member record as the last write of this agent's own record read it (null: none read yet). */
export interface MasterRecordRead {
  readonly name: string;
  readonly record: MemberView | null;
}

/** The recorded master named by `master` when it is another node (the one to probe and whose record to read), else null. */
export function otherMaster(master: MasterKeyView, node: string): string | null {
  return master.state === 'present' && master.record.name !== node ? master.record.name : null;
}

/**
 * `readRevision`: the etcd revision of the `master` key read this round, done before the probe
 * starts. `lastRead`: the master's record as last read with this agent's own record.
 */
export async function observeMaster(prober: MasterProbe, node: string, master: MasterKeyView, lastRead: MasterRecordRead | null, readRevision: string | null = null): Promise<MasterSeen> {
  const name = otherMaster(master, node);
  if (name === null) {
    prober.close();
    return { probe: null, record: null };
  }
  const answer = await prober.probe(name);
  const at = new Date().toISOString();
  return { probe: { master: name, answer, at, afterRevision: readRevision }, record: lastRead?.name === name ? lastRead.record : null };
}
