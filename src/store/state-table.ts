/**
 * The handyrep table on the master: one row holding the saved state and the configuration with
 * its passwords masked. PostgreSQL replicates it to every replica, so the state survives the loss
 * of the controller host. Writes are compare-and-swap on `version`: an older writer never
 * overwrites a newer state. The recorded synchronous set travels in the row too: a controller that
 * starts from the table (servers.save lost) must still know which replicas hold every
 * acknowledged commit, or its first failover could promote one that lacks some.
 */
import type { SqlSession } from '../nodes/ports.js';
import { HandyRepError } from '../model/errors.js';
import { isSavedState, type SavedState } from './saved-state.js';

export interface TableName {
  schema: string;
  table: string;
}

/** Schema and table names are validated SQL identifiers (config schema); quoting is belt and braces. */
function qualified({ schema, table }: TableName): string {
  return `"${schema.replace(/"/g, '""')}"."${table.replace(/"/g, '""')}"`;
}

export function stateTableDdl(name: TableName): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS "${name.schema.replace(/"/g, '""')}"`,
    `CREATE TABLE IF NOT EXISTS ${qualified(name)} (
       id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
       version bigint NOT NULL,
       updated timestamptz NOT NULL,
       updated_ms bigint NOT NULL,
       config jsonb NOT NULL,
       servers jsonb NOT NULL,
       status jsonb NOT NULL,
       last_ip inet,
       last_sync timestamptz NOT NULL DEFAULT now()
     )`,
    `ALTER TABLE ${qualified(name)} ADD COLUMN IF NOT EXISTS history jsonb NOT NULL DEFAULT '[]'`,
    // SQL NULL: written by a version without it (unknown); JSON null: no set recorded.
    `ALTER TABLE ${qualified(name)} ADD COLUMN IF NOT EXISTS sync jsonb`,
    `ALTER TABLE ${qualified(name)} ADD COLUMN IF NOT EXISTS sync_history jsonb NOT NULL DEFAULT '[]'`,
  ];
}

export async function createStateTable(session: SqlSession, name: TableName): Promise<void> {
  for (const statement of stateTableDdl(name)) await session.query(statement);
}

export type StateTableRead = { kind: 'missing' } | { kind: 'empty' } | { kind: 'ok'; state: SavedState };

export async function readStateTable(session: SqlSession, name: TableName): Promise<StateTableRead> {
  const exists = await session.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [
    qualified(name),
  ]);
  if (!exists[0]?.present) return { kind: 'missing' };
  // Tables created by older versions lack the later columns: read what is there.
  const columns = await session.query<{ attname: string }>(
    `SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attname IN ('history', 'sync', 'sync_history') AND NOT attisdropped`,
    [qualified(name)],
  );
  const has = new Set(columns.map((c) => c.attname));
  const historyColumn = has.has('history') ? 'history' : "'[]'::jsonb AS history";
  const syncColumns = has.has('sync') && has.has('sync_history') ? 'sync IS NOT NULL AS has_sync, sync, sync_history' : "false AS has_sync, NULL::jsonb AS sync, '[]'::jsonb AS sync_history";
  const rows = await session.query<{ version: string; updated_ms: string; servers: unknown; status: unknown; history: unknown; has_sync: boolean; sync: unknown; sync_history: unknown }>(
    `SELECT version, updated_ms, servers, status, ${historyColumn}, ${syncColumns} FROM ${qualified(name)} WHERE id = 1`,
  );
  const row = rows[0];
  if (!row) return { kind: 'empty' };
  const state = {
    format: 'handyrep-state',
    version: Number(row.version),
    updated_ms: Number(row.updated_ms),
    servers: row.servers,
    status: row.status,
    history: Array.isArray(row.history) ? row.history : [],
    // Absent (not null) when the writer did not carry it: the reader then looks in other copies.
    ...(row.has_sync ? { sync: row.sync, sync_history: Array.isArray(row.sync_history) ? row.sync_history : [] } : {}),
  };
  if (!isSavedState(state)) throw new HandyRepError('STATE_TABLE', `${qualified(name)} holds no valid state`);
  return { kind: 'ok', state };
}

/**
 * Upsert the state unless the table already holds a newer version. Returns false when a newer
 * state was found (and nothing written).
 */
export async function writeStateTable(
  session: SqlSession,
  name: TableName,
  state: SavedState,
  redactedConfig: unknown,
): Promise<boolean> {
  const rows = await session.query<{ version: string }>(
    `INSERT INTO ${qualified(name)} AS t (id, version, updated, updated_ms, config, servers, status, history, sync, sync_history, last_ip, last_sync)
     VALUES (1, $1, to_timestamp($2::float8 / 1000), $2, $3::jsonb, $4::jsonb, $5::jsonb, $6::jsonb, $7::jsonb, $8::jsonb, inet_client_addr(), now())
     ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, updated = EXCLUDED.updated,
       updated_ms = EXCLUDED.updated_ms, config = EXCLUDED.config, servers = EXCLUDED.servers,
       status = EXCLUDED.status, history = EXCLUDED.history, sync = EXCLUDED.sync, sync_history = EXCLUDED.sync_history,
       last_ip = EXCLUDED.last_ip, last_sync = EXCLUDED.last_sync
     WHERE t.version < EXCLUDED.version
     RETURNING version`,
    [
      state.version,
      state.updated_ms,
      JSON.stringify(redactedConfig),
      JSON.stringify(state.servers),
      JSON.stringify(state.status),
      JSON.stringify(state.history ?? []),
      JSON.stringify(state.sync ?? null),
      JSON.stringify(state.sync_history ?? []),
    ],
  );
  return rows.length > 0;
}
