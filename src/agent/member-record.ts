/**
 * The value of `members/<node>`: what this agent sees of its PostgreSQL, for controllers (vantage
 * points) and for the agents' own election. No timestamp inside, so an unchanged state is not
 * rewritten every round; the key lives under the agent's lease, so a dead agent's record goes.
 */
import type { MasterKeyView, PostgresView } from './decide.js';
import type { SqlFacts } from './local-postgres.js';

type Nullable<T> = { readonly [K in keyof T]: T[K] | null };

export type MemberRecord = Nullable<Omit<SqlFacts, 'replay_lag_bytes'>> & {
  readonly name: string;
  readonly postgres: PostgresView['state'];
  readonly role: 'master' | 'replica' | null;
  readonly recorded_master: string | null;
  readonly agent_version: 1;
};

export function memberRecord(name: string, postgres: PostgresView, facts: SqlFacts | null, master: MasterKeyView): MemberRecord {
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
    agent_version: 1,
  };
}
