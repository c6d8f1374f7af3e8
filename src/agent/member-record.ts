/**
 * The value of `members/<node>`: what this agent sees of its PostgreSQL and of the recorded
 * master, for controllers (vantage points) and for the agents' own election and lag checks. It is
 * rewritten when something in it changes, and at least every ttl/3 with a new `observed_at` so
 * readers can tell a fresh record from a stale one (master-lag.ts recordFresh); the key lives under
 * the agent's lease, so a dead agent's record goes.
 */
import type { BootStepRecord } from './boot-step.js';
import type { MasterKeyView, PostgresView } from './decide.js';
import type { SqlFacts } from './local-postgres.js';
import type { ProbeAnswer } from './master-probe.js';

type Nullable<T> = { readonly [K in keyof T]: T[K] | null };

export type MemberRecord = Nullable<Omit<SqlFacts, 'replay_lag_bytes' | 'sender_end_lsn' | 'sender_msg_age_s'>> & {
  readonly name: string;
  readonly postgres: PostgresView['state'];
  readonly role: 'master' | 'replica' | null;
  readonly recorded_master: string | null;
  /** The recorded master this agent probed this round (another node); null when none. */
  readonly master_probed: string | null;
  /** Its own probe of master_probed (master-probe.ts); null when it did not probe. */
  readonly sees_master: boolean | null;
  readonly sees_master_detail: string | null;
  /** Wall-clock time the probe answered (ISO); null when it did not probe. For people: no decision compares clocks. */
  readonly probed_at: string | null;
  /**
   * The etcd revision of this agent's `master` key read that preceded the probe (null when it did
   * not probe or could not read): a controller that read the store at revision R before counts a
   * "does not see" only from a probe_revision above R, i.e. a probe that started after its read
   * (engine/agent-vantage.ts). Ordering by etcd, not by clocks (review F3).
   */
  readonly probe_revision: string | null;
  /** Wall-clock time of the observation (ISO). */
  readonly observed_at: string;
  readonly agent_version: 1;
  /** Written only while the agent's boot copies onto this node (boot-step-keeper.ts): from where, since when. */
  readonly boot_copy?: { readonly source: string; readonly since: string; readonly reclone: boolean } | null;
  /** Written only while a step of the agent's boot holds the node (boot-step.ts): which one, since when. */
  readonly boot_step?: BootStepRecord | null;
} & Partial<PositionFacts>;

/**
 * How old this node's WAL position is, and the master's last position as this agent saw it
 * (position-watch.ts; judged by election/position-rules.ts). Optional: older agents lack them.
 */
export interface PositionFacts {
  /** When this agent last saw its WAL receiver streaming (ISO, this agent's clock); null: not since it started. */
  readonly receiver_streaming_at: string | null;
  /** When its own probe last saw the recorded master answer (ISO, this agent's clock); null: not under this record. */
  readonly master_seen_at: string | null;
  /** The furthest WAL position the recorded master published (its member record) under this master record. */
  readonly master_lsn_seen: string | null;
  /** Which master record that was: `<name>/<term>`. */
  readonly master_lsn_seen_for: string | null;
  /** The highest timeline the recorded master published under that record (null: none seen). */
  readonly master_timeline_seen: number | null;
  /**
   * An etcd revision this record's SQL facts were read after (the agent's last read before
   * them): an election counts a position as final only when read after the old master's lease
   * was gone (null: unknown).
   */
  readonly facts_after_revision?: string | null;
}

export interface MasterProbeResult {
  readonly master: string;
  readonly answer: ProbeAnswer;
  /** When the answer came (ISO), not when it is published: a long round must not make it look fresher. */
  readonly at: string;
  /** The etcd revision read before the probe started (member record's probe_revision). */
  readonly afterRevision?: string | null;
}

export function memberRecord(name: string, postgres: PostgresView, facts: SqlFacts | null, master: MasterKeyView, probe: MasterProbeResult | null, observedAt: string, position?: PositionFacts): MemberRecord {
  return {
    name,
    postgres: postgres.state,
    role: facts === null ? null : facts.in_recovery ? 'replica' : 'master',
    in_recovery: facts?.in_recovery ?? null,
    timeline: facts?.timeline ?? null,
    wal_position: facts?.wal_position ?? null,
    received_lsn: facts?.received_lsn ?? null,
    replayed_lsn: facts?.replayed_lsn ?? null,
    wal_receiver: facts?.wal_receiver ?? null,
    sender_host: facts?.sender_host ?? null,
    server_version: facts?.server_version ?? null,
    recorded_master: master.state === 'present' ? master.record.name : null,
    master_probed: probe?.master ?? null,
    sees_master: probe?.answer.sees ?? null,
    sees_master_detail: probe?.answer.detail ?? null,
    probed_at: probe?.at ?? null,
    probe_revision: probe?.afterRevision ?? null,
    observed_at: observedAt,
    agent_version: 1,
    ...position,
  };
}

/**
 * The record without its times: what decides whether it changed. The probe's revision counts only
 * while the agent does not see the master: then each round's newer "does not see" is written (a
 * controller needs one from after its own read), while a seeing agent writes nothing new.
 */
export function recordContent(record: MemberRecord): string {
  // The times below move every round; they are published with the record's renewals (ttl/3) and
  // with any other change (a receiver that stops, a probe that fails), not on their own.
  const { observed_at: _at, probed_at: _probed, probe_revision: revision, receiver_streaming_at: _streaming, master_seen_at: _seen, facts_after_revision: _after, ...rest } = record;
  return JSON.stringify(record.sees_master === false ? { ...rest, probe_revision: revision } : rest);
}
