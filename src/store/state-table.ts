/**
 * The handyrep table on the master: one row holding the saved state and the configuration with
 * its passwords masked. PostgreSQL replicates it to every replica, so the state survives the loss
 * of the controller host. Writes are compare-and-swap on `version`: an older writer never
 * overwrites a newer state.
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
  const hasHistory = await session.query<{ present: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'history' AND NOT attisdropped) AS present`,
    [qualified(name)],
  );
  const historyColumn = hasHistory[0]?.present ? 'history' : "'[]'::jsonb AS history";
  const rows = await session.query<{ version: string; updated_ms: string; servers: unknown; status: unknown; history: unknown }>(
    `SELECT version, updated_ms, servers, status, ${historyColumn} FROM ${qualified(name)} WHERE id = 1`,
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
    `INSERT INTO ${qualified(name)} AS t (id, version, updated, updated_ms, config, servers, status, history, last_ip, last_sync)
     VALUES (1, $1, to_timestamp($2::float8 / 1000), $2, $3::jsonb, $4::jsonb, $5::jsonb, $6::jsonb, inet_client_addr(), now())
     ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, updated = EXCLUDED.updated,
       updated_ms = EXCLUDED.updated_ms, config = EXCLUDED.config, servers = EXCLUDED.servers,
       status = EXCLUDED.status, history = EXCLUDED.history, last_ip = EXCLUDED.last_ip, last_sync = EXCLUDED.last_sync
     WHERE t.version < EXCLUDED.version
     RETURNING version`,
    [
      state.version,
      state.updated_ms,
      JSON.stringify(redactedConfig),
      JSON.stringify(state.servers),
      JSON.stringify(state.status),
      JSON.stringify(state.history ?? []),
    ],
  );
  return rows.length > 0;
}
