/**
 * Start-up state: servers from the configuration file, or from the newest of servers.save and the
 * handyrep table (engine/state-source.ts decides which). Saved values win over the file; current
 * server_defaults fill settings a saved record lacks (reference §5.7).
 */
import type { HandyRepConfig, ServerEntry } from '../config/schema.js';
import { chooseStateSource, type StateSource } from '../engine/state-source.js';
import type { FailoverRecord } from '../model/failover-record.js';
import { NO_FACTS, NO_FLAGS, type ServerMap, type ServerRecord } from '../model/server.js';
import { makeClusterStatus, makeServerStatus, NEVER_CHECKED_TS, type ClusterStatus } from '../model/status.js';
import type { SqlClient } from '../nodes/ports.js';
import { readServerFile } from '../store/server-file.js';
import { readStateFromAnyServer } from './state-table-access.js';

export interface InitialState {
  servers: ServerMap;
  cluster: ClusterStatus;
  history: FailoverRecord[];
  source: StateSource;
  /** Highest version seen anywhere, so the next write supersedes every copy. */
  version: number;
  notes: string[];
}

/** Server records straight from the configuration file, all unchecked. */
export function serversFromConfig(config: HandyRepConfig, now: string): ServerMap {
  const servers: ServerMap = {};
  for (const [name, entry] of Object.entries(config.servers)) servers[name] = recordFromEntry(config, entry, now);
  return servers;
}

function recordFromEntry(config: HandyRepConfig, entry: ServerEntry, now: string): ServerRecord {
  const overrides = Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== undefined));
  return {
    ...config.server_defaults,
    ...overrides,
    hostname: entry.hostname,
    role: entry.role,
    enabled: entry.enabled,
    ...makeServerStatus('unknown', 'not checked yet', now),
    ...NO_FACTS,
    ...NO_FLAGS,
  } as ServerRecord;
}

/** Fill what a saved record lacks from the current defaults; saved values win. */
function completeSaved(config: HandyRepConfig, saved: ServerMap): ServerMap {
  const servers: ServerMap = {};
  for (const [name, record] of Object.entries(saved)) {
    servers[name] = { ...config.server_defaults, ...NO_FACTS, ...NO_FLAGS, ...record };
  }
  return servers;
}

export async function loadInitialState(config: HandyRepConfig, serverFile: string, sql: SqlClient, now: string): Promise<InitialState> {
  const notes: string[] = [];
  const fileRead = await readServerFile(serverFile);
  if (fileRead.kind === 'invalid') notes.push(`ignoring unusable server file: ${fileRead.reason}`);
  const file = fileRead.kind === 'ok' ? fileRead.state : null;
  const fromConfig = serversFromConfig(config, now);
  // Ask the servers we know best where the table lives: the saved ones, else the configured ones.
  const table = config.handyrep.override_server_file
    ? null
    : await readStateFromAnyServer(sql, config, file ? file.servers : fromConfig);
  const source = chooseStateSource(config.handyrep.override_server_file, file, table);
  const version = Math.max(file?.version ?? 0, table?.version ?? 0);
  if (source.from === 'config') {
    const history = (file?.history ?? table?.history ?? []).slice();
    return { servers: fromConfig, cluster: makeClusterStatus('unknown', 'status not checked yet', NEVER_CHECKED_TS), history, source, version, notes };
  }
  const servers = completeSaved(config, source.state.servers);
  const unknown = Object.keys(config.servers).filter((n) => !Object.hasOwn(servers, n));
  if (unknown.length > 0) {
    notes.push(`servers in the configuration file but not in the saved state are ignored: ${unknown.join(', ')} (use add_server, or override_server_file)`);
  }
  return { servers, cluster: source.state.status, history: source.state.history ?? [], source, version, notes };
}
