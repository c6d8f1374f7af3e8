/**
 * Whether this agent keeps the synchronous set (deployment agents: nobody else does there; with
 * synchronous_mode off it only clears what an earlier `on` left) and its keeper, from the
 * configuration. In `ha` the leading controller keeps it (runtime/sync/sync-maintainer.ts); in
 * `single` there are no elections.
 */
import type { HandyRepConfig } from '../../config/schema.js';
import type { EtcdContext } from '../../store/etcd/client.js';
import { electorSettings } from '../election/elector.js';
import { KeeperSession, type KeeperSessionTarget } from './keeper-session.js';
import { SyncKeeper, type KeeperHands } from './sync-keeper.js';

export type { SyncKeeper };

/**
 * `hands` without sql/close: the keeper opens its own session to `pg` (keeper-session.ts), every
 * statement bounded by the agent's etcd call budget `callMs`.
 */
export function syncKeeperFor(config: HandyRepConfig, node: string, ctx: EtcdContext, callMs: number, log: (line: string) => void, pg: KeeperSessionTarget, hands: Omit<KeeperHands, 'sql' | 'close'>): SyncKeeper | null {
  const failover = config.failover;
  if (config.handyrep.deployment !== 'agents') return null;
  const policy = { mode: failover.synchronous_mode, count: failover.synchronous_node_count, method: failover.synchronous_method };
  const session = new KeeperSession(pg, callMs);
  const settings = { node, policy, fileServers: electorSettings(config, node, callMs).servers, callMs, newMasterMs: (config.etcd.ttl + config.agent.loop_wait) * 1000 };
  return new SyncKeeper(ctx, settings, { ...hands, sql: () => session.session(), close: () => session.close() }, log);
}
