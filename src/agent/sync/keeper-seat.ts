/**
 * Whether this agent keeps the synchronous set (deployment agents: nobody else does there; with
 * synchronous_mode off it only clears what an earlier `on` left) and its keeper, from the
 * configuration. In `ha` the leading controller keeps it (runtime/sync/sync-maintainer.ts); in
 * `single` there are no elections.
 */
import type { HandyRepConfig } from '../../config/schema.js';
import type { EtcdContext } from '../../store/etcd/client.js';
import { electorSettings } from '../election/elector.js';
import { SyncKeeper, type KeeperHands } from './sync-keeper.js';

export type { SyncKeeper };

export function syncKeeperFor(config: HandyRepConfig, node: string, ctx: EtcdContext, callMs: number, log: (line: string) => void, hands: KeeperHands): SyncKeeper | null {
  const failover = config.failover;
  if (config.handyrep.deployment !== 'agents') return null;
  const policy = { mode: failover.synchronous_mode, count: failover.synchronous_node_count, method: failover.synchronous_method };
  return new SyncKeeper(ctx, { node, policy, fileServers: electorSettings(config, node, callMs).servers, callMs, newMasterMs: (config.etcd.ttl + config.agent.loop_wait) * 1000 }, hands, log);
}
