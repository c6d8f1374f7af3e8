/**
 * Reads and writes the handyrep table through HandyRep's own database connection: writes go to
 * the current master (creating the table on first use); at start-up every server's copy is read
 * (a replica may hold a newer copy than a stale old master).
 */
import type { HandyRepConfig } from '../config/schema.js';
import { redactConfig } from '../config/redact.js';
import { describeError } from '../model/errors.js';
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

/** A server whose table is read at start-up. */
export interface TableServer {
  name: string;
  hostname: string;
  port: number;
}

export interface TableCopies {
  /** Every valid state found, in the order of `servers`. */
  copies: { server: string; state: SavedState }[];
  /** Servers whose table held something unreadable. */
  notes: string[];
}

/**
 * The state in the table of every server that answers, asked all at once (each within the connect
 * and statement timeouts): the caller takes the newest, whichever answered first. A server that
 * cannot be reached, or has no table yet, adds nothing.
 */
export async function readStateFromEveryServer(sql: SqlClient, config: HandyRepConfig, servers: readonly TableServer[]): Promise<TableCopies> {
  const reads = await Promise.all(
    servers.map(async (server): Promise<{ server: string; state: SavedState | null; problem: string | null }> => {
      let session;
      try {
        session = await sql.connect(sqlTargetFor(config, server, timeouts(config)));
      } catch {
        return { server: server.name, state: null, problem: null }; // not reachable or no permission
      }
      try {
        const read = await readStateTable(session, tableName(config));
        return { server: server.name, state: read.kind === 'ok' ? read.state : null, problem: null };
      } catch (err) {
        return { server: server.name, state: null, problem: describeError(err) };
      } finally {
        await session.end().catch(() => undefined);
      }
    }),
  );
  const copies = reads.flatMap((r) => (r.state ? [{ server: r.server, state: r.state }] : []));
  const notes = reads.flatMap((r) => (r.problem ? [`ignoring the handyrep table on ${r.server}: ${r.problem}`] : []));
  return { copies, notes };
}
