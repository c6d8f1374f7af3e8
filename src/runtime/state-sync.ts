/**
 * Start-up state: servers from the configuration file, or from the newest usable copy among
 * servers.save and the handyrep table of every server that answers (engine/state-source.ts
 * decides which; engine/saved-servers.ts checks every saved record against the configuration
 * schema). Saved values win over the file; current server_defaults fill settings a saved record
 * lacks (reference §5.7).
 */
import type { HandyRepConfig, ServerEntry } from '../config/schema.js';
import { validateSavedServers } from '../engine/saved-servers.js';
import { chooseStateSource, newestFirst, type StateCandidate, type StateSource } from '../engine/state-source.js';
import type { FailoverRecord } from '../model/failover-record.js';
import { isSyncRecord, type SyncRecord } from '../model/sync-record.js';
import { isDatabaseRole, NO_FACTS, NO_FLAGS, type ServerMap, type ServerRecord } from '../model/server.js';
import {
  CLUSTER_STATUSES,
  makeClusterStatus,
  makeServerStatus,
  NEVER_CHECKED_TS,
  type ClusterStatus,
  type ClusterStatusName,
} from '../model/status.js';
import { maintenanceOf, type MaintenanceFields } from '../model/maintenance.js';
import type { SqlClient } from '../nodes/ports.js';
import type { SavedState } from '../store/saved-state.js';
import type { ClusterStore } from '../store/cluster-store.js';
import { readServerFile } from '../store/server-file.js';
import { readStateFromEveryServer, type TableServer } from './state-table-access.js';

export interface InitialState {
  servers: ServerMap;
  cluster: ClusterStatus;
  history: FailoverRecord[];
  /** The saved synchronous set and its changes (from the same copy as the history). */
  sync: { record: SyncRecord | null; history: SyncRecord[] };
  source: StateSource;
  /** Highest version seen anywhere, so the next write supersedes every copy. */
  version: number;
  notes: string[];
  /**
   * Read from the etcd store only: why its state cannot be taken whole (unusable, or server
   * records rejected), else absent. A leader must then not write it back (the configuration
   * file's or the remaining servers would replace the real topology in etcd).
   */
  storeDamage?: string;
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

/** The servers whose tables are read: the configured ones and the valid saved ones, each address once. */
function tableServers(config: HandyRepConfig, fromConfig: ServerMap, file: SavedState | null, now: string): TableServer[] {
  const saved = file ? validateSavedServers(file.servers, config.server_defaults, now).servers : {};
  const seen = new Set<string>();
  const servers: TableServer[] = [];
  // Masters first: on a tie of versions the earlier copy wins.
  const all = [...Object.entries(saved), ...Object.entries(fromConfig)]
    .filter(([, s]) => isDatabaseRole(s.role))
    .sort(([, a], [, b]) => Number(b.role === 'master' && b.enabled) - Number(a.role === 'master' && a.enabled));
  for (const [name, server] of all) {
    const address = `${server.hostname}:${server.port}`;
    if (seen.has(address)) continue;
    seen.add(address);
    servers.push({ name, hostname: server.hostname, port: server.port });
  }
  return servers;
}

/** The saved cluster status when well formed, else unknown. */
function savedClusterStatus(status: unknown): ClusterStatus {
  const s = status as Partial<Record<keyof ClusterStatus, unknown>>;
  if ((CLUSTER_STATUSES as readonly unknown[]).includes(s.status) && typeof s.status_ts === 'string' && typeof s.status_message === 'string') {
    // The maintenance fields (pause, planned stop) travel with the cluster status: a restarted
    // controller stays paused. maintenanceOf keeps only well-formed ones.
    return { ...makeClusterStatus(s.status as ClusterStatusName, s.status_message, s.status_ts), ...maintenanceOf(status as MaintenanceFields) };
  }
  return makeClusterStatus('unknown', 'status not checked yet', NEVER_CHECKED_TS);
}

function savedHistory(state: SavedState | undefined): FailoverRecord[] {
  return Array.isArray(state?.history) ? state.history.slice() : [];
}

function savedSync(state: SavedState | undefined): InitialState['sync'] {
  const record = isSyncRecord(state?.sync) ? state.sync : null;
  const history = Array.isArray(state?.sync_history) ? state.sync_history.filter(isSyncRecord) : [];
  return { record, history };
}

/** Does the copy say what the synchronous set was (null included)? Copies by older versions do not. */
function carriesSync(state: SavedState | undefined): boolean {
  return state !== undefined && Object.hasOwn(state, 'sync');
}

/**
 * The synchronous set from the chosen copy when it carries one (servers.save and, since the
 * defect was fixed, the handyrep table do), else from the newest copy that does: forgetting a
 * recorded set would let a failover promote a replica that lacks acknowledged commits.
 */
function newestSync(chosen: SavedState | undefined, candidates: readonly StateCandidate[]): InitialState['sync'] {
  if (carriesSync(chosen)) return savedSync(chosen);
  const carrier = newestFirst(candidates).find((c) => carriesSync(c.state));
  return savedSync(carrier?.state);
}

export async function loadInitialState(config: HandyRepConfig, serverFile: string, sql: SqlClient, now: string): Promise<InitialState> {
  const notes: string[] = [];
  const fileRead = await readServerFile(serverFile);
  if (fileRead.kind === 'invalid') notes.push(`ignoring unusable server file: ${fileRead.reason}`);
  const file = fileRead.kind === 'ok' ? fileRead.state : null;
  const fromConfig = serversFromConfig(config, now);
  const override = config.handyrep.override_server_file;
  const tables = override ? { copies: [], notes: [] } : await readStateFromEveryServer(sql, config, tableServers(config, fromConfig, file, now));
  notes.push(...tables.notes);
  const candidates: StateCandidate[] = [
    ...(file ? [{ from: 'file' as const, where: serverFile, state: file }] : []),
    ...tables.copies.map((copy) => ({ from: 'table' as const, where: copy.server, state: copy.state })),
  ];
  const choice = chooseStateSource(override, candidates, config.server_defaults, now);
  notes.push(...choice.notes);
  const version = Math.max(0, ...candidates.map((c) => c.state.version));
  const { source } = choice;
  if (source.from === 'config' || choice.servers === null) {
    const history = savedHistory(newestFirst(candidates)[0]?.state);
    return { servers: fromConfig, cluster: makeClusterStatus('unknown', 'status not checked yet', NEVER_CHECKED_TS), history, sync: newestSync(newestFirst(candidates)[0]?.state, candidates), source, version, notes };
  }
  const servers = choice.servers;
  const unknown = Object.keys(config.servers).filter((n) => !Object.hasOwn(servers, n));
  if (unknown.length > 0) {
    notes.push(`servers in the configuration file but not in the saved state are ignored: ${unknown.join(', ')} (use add_server, or override_server_file)`);
  }
  return { servers, cluster: savedClusterStatus(source.state.status), history: savedHistory(source.state), sync: newestSync(source.state, candidates), source, version, notes };
}

/**
 * The state as the etcd store holds it (etcd_lease): the store is the one truth, so servers.save
 * and the handyrep table are not consulted; a store that was never written starts from the
 * configuration file (the first leader writes it).
 */
export async function loadStoreState(config: HandyRepConfig, store: ClusterStore, where: string, now: string): Promise<InitialState> {
  const read = await store.readState();
  // A head without a single server was never written by a controller: a node agent's (deployment
  // agents), holding only the synchronous set it recorded. Not damage: servers from the
  // configuration file (the first leader writes them), the agents' set kept.
  if (read.kind === 'ok' && Object.keys(read.state.servers).length === 0) {
    const reason = `the etcd store ${where} holds no servers yet (its cluster key was written by a node agent): servers from the configuration file, the synchronous set as the agents recorded it`;
    return { servers: serversFromConfig(config, now), cluster: makeClusterStatus('unknown', 'status not checked yet', NEVER_CHECKED_TS), history: [], sync: savedSync(read.state), source: { from: 'config', reason }, version: read.state.version, notes: [reason] };
  }
  const notes: string[] = read.kind === 'invalid' ? [`ignoring the unusable state in the etcd store: ${read.reason}`] : [];
  const candidates: StateCandidate[] = read.kind === 'ok' ? [{ from: 'store', where, state: read.state }] : [];
  const choice = chooseStateSource(false, candidates, config.server_defaults, now);
  notes.push(...choice.notes);
  const version = Math.max(0, ...candidates.map((c) => c.state.version));
  const { source } = choice;
  // Notes here only come from an unusable state or rejected server records: the state is damaged.
  const damage = read.kind === 'invalid' || (read.kind === 'ok' && choice.notes.length > 0) ? { storeDamage: notes.join('; ') } : {};
  if (source.from === 'config' || choice.servers === null) {
    return { servers: serversFromConfig(config, now), cluster: makeClusterStatus('unknown', 'status not checked yet', NEVER_CHECKED_TS), history: [], sync: { record: null, history: [] }, source, version, notes, ...damage };
  }
  return { servers: choice.servers, cluster: savedClusterStatus(source.state.status), history: savedHistory(source.state), sync: savedSync(source.state), source, version, notes, ...damage };
}
