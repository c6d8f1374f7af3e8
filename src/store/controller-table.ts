/**
 * Controllers' heartbeats, beside the handyrep table (`<table>_controllers`): one row per running
 * HandyRep, refreshed on the master at every check. It replicates like the state, so while the
 * master is down the replicas still tell which controllers were alive just before. This is how a
 * second controller with its own state file notices the first (until etcd leadership exists).
 */
import type { ControllerHeartbeat } from '../model/controller-heartbeat.js';
import type { SqlSession } from '../nodes/ports.js';
import type { TableName } from './state-table.js';

function controllersTable({ schema, table }: TableName): string {
  return `"${schema.replace(/"/g, '""')}"."${`${table}_controllers`.replace(/"/g, '""')}"`;
}

export function controllerTableDdl(name: TableName): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS "${name.schema.replace(/"/g, '""')}"`,
    `CREATE TABLE IF NOT EXISTS ${controllersTable(name)} (
       id text PRIMARY KEY,
       hostname text NOT NULL,
       pid integer NOT NULL,
       state_file text NOT NULL,
       started_ms bigint NOT NULL,
       heartbeat_ms bigint NOT NULL
     )`,
  ];
}

/** Upsert this controller's row (creating the table on first use); old rows of dead controllers are pruned. */
export async function writeHeartbeat(session: SqlSession, name: TableName, beat: ControllerHeartbeat, pruneBeforeMs: number, createTable: boolean): Promise<void> {
  if (createTable) for (const statement of controllerTableDdl(name)) await session.query(statement);
  await session.query(
    `INSERT INTO ${controllersTable(name)} (id, hostname, pid, state_file, started_ms, heartbeat_ms) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (id) DO UPDATE SET heartbeat_ms = EXCLUDED.heartbeat_ms`,
    [beat.id, beat.hostname, beat.pid, beat.state_file, beat.started_ms, beat.heartbeat_ms],
  );
  await session.query(`DELETE FROM ${controllersTable(name)} WHERE heartbeat_ms < $1`, [pruneBeforeMs]);
}

/** Every heartbeat in this server's copy; empty when the table does not exist (yet). */
export async function readHeartbeats(session: SqlSession, name: TableName): Promise<ControllerHeartbeat[]> {
  const exists = await session.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [controllersTable(name)]);
  if (!exists[0]?.present) return [];
  const rows = await session.query<{ id: string; hostname: string; pid: number; state_file: string; started_ms: string; heartbeat_ms: string }>(
    `SELECT id, hostname, pid, state_file, started_ms, heartbeat_ms FROM ${controllersTable(name)}`,
  );
  return rows.map((r) => ({ ...r, started_ms: Number(r.started_ms), heartbeat_ms: Number(r.heartbeat_ms) }));
}

/** Remove this controller's row (a clean stop: others need not wait for it to go stale). */
export async function removeHeartbeat(session: SqlSession, name: TableName, id: string): Promise<void> {
  const exists = await session.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [controllersTable(name)]);
  if (exists[0]?.present) await session.query(`DELETE FROM ${controllersTable(name)} WHERE id = $1`, [id]);
}
