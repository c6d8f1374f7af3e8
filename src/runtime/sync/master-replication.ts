/**
 * What the master says about its standbys (pg_stat_replication) and the synchronous_standby_names
 * it uses, read on HandyRep's monitoring session; and the ALTER SYSTEM that changes it.
 */
import { assertMayAct, type TopologyEnv } from '../topology/env.js';
import { lsnDiff, parseLsn, type Lsn } from '../../model/lsn.js';
import type { SqlSession } from '../../nodes/ports.js';
import { alterSystem } from '../topology/remaster.js';

export interface StandbyRow {
  /** application_name: HandyRep's server name (primary_conninfo sets it). */
  name: string;
  state: string | null;
  flush: Lsn | null;
}

export interface MasterReplication {
  named: string;
  current: Lsn | null;
  standbys: StandbyRow[];
}

export async function readMasterReplication(session: SqlSession): Promise<MasterReplication> {
  const head = await session.query<{ named: string; current: string | null }>("SELECT current_setting('synchronous_standby_names') AS named, pg_current_wal_lsn()::text AS current");
  const rows = await session.query<{ name: string | null; state: string | null; flush: string | null }>('SELECT application_name AS name, state, flush_lsn::text AS flush FROM pg_stat_replication');
  return {
    named: head[0]?.named ?? '',
    current: parseLsn(head[0]?.current ?? null),
    standbys: rows.filter((r) => r.name !== null).map((r) => ({ name: r.name as string, state: r.state, flush: parseLsn(r.flush) })),
  };
}

/** The standby row of a server (PostgreSQL matches standby names case-insensitively). */
export function standbyRow(rows: readonly StandbyRow[], server: string): StandbyRow | null {
  return rows.find((r) => r.name.toLowerCase() === server.toLowerCase() && r.state === 'streaming') ?? null;
}

/** Bytes the standby's flushed WAL is behind `current`; null when unknown. */
export function flushLagBytes(current: Lsn | null, row: StandbyRow | null): number | null {
  return current === null || row?.flush == null ? null : Math.max(0, lsnDiff(current, row.flush));
}

/** ALTER SYSTEM SET synchronous_standby_names (value quoted by the server, format %L) + reload. */
export async function setStandbyNames(session: SqlSession, value: string): Promise<void> {
  await alterSystem(session, 'synchronous_standby_names', value);
  await session.query('SELECT pg_reload_conf()');
}

/** setStandbyNames, only while this controller may act (a deposed leader must not reconfigure a master). */
export async function guardedStandbyNames(env: Pick<TopologyEnv, 'mayAct'>, session: SqlSession, value: string): Promise<void> {
  assertMayAct(env, 'ALTER SYSTEM SET synchronous_standby_names');
  await setStandbyNames(session, value);
}
