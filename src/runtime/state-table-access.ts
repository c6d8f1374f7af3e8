/**
 * Reads and writes the handyrep table through HandyRep's own database connection: writes go to
 * the current master (creating the table on first use), reads at start-up take the first server
 * that answers, master first (the table is replicated, so any copy will do).
 */
import type { HandyRepConfig } from '../config/schema.js';
import { redactConfig } from '../config/redact.js';
import type { ServerMap } from '../model/server.js';
import type { SqlClient } from '../nodes/ports.js';
import type { SavedState } from '../store/saved-state.js';
import { createStateTable, readStateTable, writeStateTable, type TableName } from '../store/state-table.js';
import { sqlTargetFor } from './plugin-context.js';

export function tableName(config: HandyRepConfig): TableName {
  return { schema: config.handyrep.handyrep_schema, table: config.handyrep.handyrep_table };
}

function timeouts(config: HandyRepConfig): { connectMs: number; statementMs: number } {
  return {
    connectMs: Math.round(config.handyrep.connect_timeout_seconds * 1000),
    statementMs: Math.round(config.handyrep.statement_timeout_seconds * 1000),
  };
}

/** Write the state to the table on `master`; false when there is no master to write to. */
export async function writeStateToMaster(
  sql: SqlClient,
  config: HandyRepConfig,
  master: { hostname: string; port: number } | null,
  state: SavedState,
): Promise<boolean> {
  if (!master) return false;
  const session = await sql.connect(sqlTargetFor(config, master, timeouts(config)));
  try {
    const recovery = await session.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    if (recovery[0]?.r) return false;
    await createStateTable(session, tableName(config));
    await writeStateTable(session, tableName(config), state, redactConfig(config));
    return true;
  } finally {
    await session.end();
  }
}

/** Create the table on the master (init_handyrep_db). */
export async function createTableOnMaster(sql: SqlClient, config: HandyRepConfig, master: { hostname: string; port: number }): Promise<void> {
  const session = await sql.connect(sqlTargetFor(config, master, timeouts(config)));
  try {
    await createStateTable(session, tableName(config));
  } finally {
    await session.end();
  }
}

/** The state in the table of the first server that answers, masters first; null when none has one. */
export async function readStateFromAnyServer(sql: SqlClient, config: HandyRepConfig, servers: ServerMap): Promise<SavedState | null> {
  const candidates = Object.values(servers)
    .filter((s) => s.role === 'master' || s.role === 'replica')
    .sort((a, b) => Number(b.role === 'master' && b.enabled) - Number(a.role === 'master' && a.enabled));
  for (const server of candidates) {
    try {
      const session = await sql.connect(sqlTargetFor(config, server, timeouts(config)));
      try {
        const read = await readStateTable(session, tableName(config));
        return read.kind === 'ok' ? read.state : null;
      } finally {
        await session.end();
      }
    } catch {
      // Not reachable or no permission: try the next one.
    }
  }
  return null;
}
