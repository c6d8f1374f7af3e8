/**
 * `handyrep store migrate --to etcd|local`: copies the saved state (server definitions, statuses,
 * failover history) and the leadership history from the store the configuration does not name
 * to the one it names after the switch, under both stores' exclusion at once:
 *   - the local state lock (state-lock.ts): no daemon or library runs on servers.save;
 *   - the etcd leader key, taken by the migration itself: no controller leads, and none can
 *     start leading (and writing) while the copy runs; every etcd write is term-guarded.
 * The source is left as it was (it is the way back). The copy is read back and compared before
 * the migration says it succeeded; the configuration file is not edited (the operator switches
 * `handyrep.store` when the copy is confirmed).
 */
import { randomUUID } from 'node:crypto';
import { resolvePath } from '../../config/merge.js';
import type { HandyRepConfig } from '../../config/schema.js';
import { HandyRepError } from '../../model/errors.js';
import type { ClusterStore, ControllerHistoryEntry } from '../cluster-store.js';
import type { SavedState } from '../saved-state.js';
import { LocalClusterStore } from '../local-cluster-store.js';
import { StateLock } from '../state-lock.js';
import { createEtcdContext, type EtcdContext } from '../etcd/client.js';
import { EtcdClusterStore } from '../etcd/etcd-cluster-store.js';
import { EtcdLeadership } from '../etcd/leadership.js';
import { migrationVerdict, type StoreKind } from './migration-verdict.js';

export interface MigrationRequest {
  config: HandyRepConfig;
  /** Folder of the configuration file (relative server_file). */
  configDir: string;
  to: StoreKind;
  overwrite: boolean;
}

export interface MigrationReport {
  from: StoreKind;
  to: StoreKind;
  servers: number;
  failoverRecords: number;
  leadershipChanges: number;
  /** The copy's state version (above both stores' previous ones). */
  version: number;
  replaced: boolean;
  /** Where the copy went, for the operator. */
  target: string;
}

/** Both stores, each under its exclusion, for the time of one migration or check. */
export interface OpenStores {
  local: ClusterStore;
  etcd: ClusterStore;
  serverFile: string;
  etcdWhere: string;
  close(): Promise<void>;
}

/** Takes the local lock and the etcd leadership (refusing, with who holds them, when taken). */
export async function openBothStores(config: HandyRepConfig, configDir: string): Promise<OpenStores> {
  if (config.etcd.endpoints.length === 0) throw new HandyRepError('CONFIG_INVALID', 'etcd.endpoints: list the etcd endpoints to migrate to or from');
  const serverFile = resolvePath(configDir, config.handyrep.server_file);
  const lock = await StateLock.acquire(serverFile);
  let ctx: EtcdContext | null = null;
  let leadership: EtcdLeadership | null = null;
  try {
    ctx = createEtcdContext(config);
    leadership = new EtcdLeadership(ctx, { controllerId: `store-migrate-${randomUUID().slice(0, 8)}`, apiUrl: null });
    const outcome = await leadership.tryAcquire();
    if (!outcome.won) {
      const who = outcome.leader ? `controller ${outcome.leader.record.controller_id}${outcome.leader.record.api_url ? ` (${outcome.leader.record.api_url})` : ''}` : 'a controller';
      throw new HandyRepError('LOCKED', `${who} leads the etcd state under ${ctx.keys.prefix}: stop every HandyRep daemon of this cluster first`);
    }
    const held = { ctx, leadership };
    return {
      local: new LocalClusterStore(serverFile),
      etcd: new EtcdClusterStore(ctx, leadership),
      serverFile,
      etcdWhere: `etcd ${config.etcd.endpoints.join(',')} under ${ctx.keys.prefix}`,
      close: async () => {
        await held.leadership.resign().catch(() => undefined);
        held.ctx.close();
        await lock.release();
      },
    };
  } catch (err) {
    leadership?.release();
    ctx?.close();
    await lock.release();
    throw err;
  }
}

export async function migrateStore(request: MigrationRequest, open: typeof openBothStores = openBothStores): Promise<MigrationReport> {
  const stores = await open(request.config, request.configDir);
  try {
    const from: StoreKind = request.to === 'etcd' ? 'local' : 'etcd';
    const source = from === 'etcd' ? stores.etcd : stores.local;
    const target = request.to === 'etcd' ? stores.etcd : stores.local;
    const [sourceState, sourceJournal, targetState, targetJournal] = await Promise.all([source.readState(), source.readJournal(), target.readState(), target.readJournal()]);
    const verdict = migrationVerdict({ from, to: request.to, source: sourceState, sourceJournal, target: targetState, targetJournal, overwrite: request.overwrite });
    if (!verdict.ok) throw new HandyRepError('REFUSED', verdict.reason);
    if (sourceState.kind !== 'ok') throw new HandyRepError('REFUSED', `the ${from} store holds no readable state`);
    const leadershipChanges = await source.readControllerHistory();
    // Numbered above both copies: whichever store a controller starts on, the copy is the newest
    // (the local store also keeps a copy in the handyrep table, compared by version at start).
    const previous = targetState.kind === 'ok' ? targetState.state.version : 0;
    const copy = { ...sourceState.state, version: Math.max(sourceState.state.version, previous) + 1, updated_ms: Date.now() };
    await target.writeState(copy);
    await copyControllerHistory(target, leadershipChanges);
    await confirmCopy(target, copy, leadershipChanges);
    return {
      from,
      to: request.to,
      version: copy.version,
      servers: Object.keys(sourceState.state.servers).length,
      failoverRecords: sourceState.state.history?.length ?? 0,
      leadershipChanges: leadershipChanges.length,
      replaced: verdict.replacing,
      target: request.to === 'etcd' ? stores.etcdWhere : stores.serverFile,
    };
  } finally {
    await stores.close();
  }
}

/** Only the entries the target does not hold yet (a repeated migration does not double them). */
async function copyControllerHistory(target: ClusterStore, entries: readonly ControllerHistoryEntry[]): Promise<void> {
  const present = new Set((await target.readControllerHistory()).map(historyKey));
  for (const entry of entries) if (!present.has(historyKey(entry))) await target.recordControllerEvent(entry);
}

function historyKey(entry: ControllerHistoryEntry): string {
  return `${entry.at}|${entry.controller_id}|${entry.event}|${entry.term ?? ''}`;
}

/** Reads the copy back: a difference is an error naming what differs (the source is untouched). */
async function confirmCopy(target: ClusterStore, source: SavedState, leadershipChanges: readonly ControllerHistoryEntry[]): Promise<void> {
  const copy = await target.readState();
  if (copy.kind !== 'ok') throw new HandyRepError('STORE_DATA', `the copy cannot be read back (${copy.kind === 'invalid' ? copy.reason : 'missing'}); the source store is unchanged`);
  const differs = (what: string, a: unknown, b: unknown): void => {
    if (JSON.stringify(a) !== JSON.stringify(b)) throw new HandyRepError('STORE_DATA', `the copy's ${what} differ from the source; the source store is unchanged`);
  };
  differs('version', copy.state.version, source.version);
  differs('servers', sortedKeys(copy.state.servers), sortedKeys(source.servers));
  differs('cluster status', copy.state.status, source.status);
  differs('failover records', (copy.state.history ?? []).map((r) => r.id), (source.history ?? []).map((r) => r.id));
  const copied = new Set((await target.readControllerHistory()).map(historyKey));
  if (!leadershipChanges.every((e) => copied.has(historyKey(e)))) throw new HandyRepError('STORE_DATA', "the copy's leadership history is incomplete; the source store is unchanged");
}

function sortedKeys<T>(map: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => a.localeCompare(b)));
}
