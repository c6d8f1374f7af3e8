/**
 * The election snapshot the agent-election*.test.ts files judge (one builder, so a field added to
 * ElectionSnapshot is defaulted in one place): john was master and its lease expired, paul and
 * ringo are replicas, deployment agents, synchronous_mode off. Each file passes its members and
 * overrides what its rows are about.
 */
import type { ElectionSnapshot, MemberRead } from '../../src/agent/election/judge.js';
import type { MemberRecord } from '../../src/agent/member-record.js';
import type { MasterRecord } from '../../src/store/etcd/master-record.js';

/** A `master` key record naming `name` (a controller's, timeline 1, unless `extra` says otherwise). */
export const masterRecord = (name: string, extra: Partial<MasterRecord> = {}): MasterRecord => ({
  name,
  term: '7',
  timeline: 1,
  promoted_lsn: null,
  sync_set: [],
  since: '2026-01-01T00:00:00Z',
  written_by: 'controller-1',
  ...extra,
});

/** A member key as read: `record` null = unparsable. */
export const memberRead = (record: MemberRecord | null, name = record?.name ?? 'x', modRevision = '10'): MemberRead => ({ name, record, modRevision });

/** The server settings of an ordinary candidate. */
export const candidateSettings = { failoverPriority: 999, nofailover: false, lagLimitMb: 100 };

export function electionSnapshot(node: string, members: readonly MemberRead[], over: Partial<ElectionSnapshot> = {}): ElectionSnapshot {
  return {
    node,
    deployment: 'agents',
    revision: '20',
    master: { record: masterRecord('john'), modRevision: '5' },
    leasesHeld: [],
    leaseSeen: true,
    leaseEnd: { ended: true, how: 'seen_lease', why: 'lease 7 has ended' },
    members: [...members],
    leaderPresent: false,
    leaderAbsentForMs: 0,
    ttlMs: 5000,
    loopWaitMs: 1000,
    servers: { john: candidateSettings, paul: candidateSettings, ringo: candidateSettings },
    maxReplayLagMb: 1000,
    synchronousMode: 'off',
    ...over,
  };
}
