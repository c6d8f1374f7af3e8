/**
 * Where connection proxies send read-only clients: the enabled replicas (other than the master)
 * whose status is usable, lowest failover_priority first, then by name. Pure: servers in, names out.
 */
import type { ServerRecord } from '../model/server.js';
import { isAvailableStatus } from '../model/status.js';

type RoutingView = Pick<ServerRecord, 'role' | 'enabled' | 'status' | 'failover_priority'>;

export function readReplicaOrder(servers: Readonly<Record<string, RoutingView>>, master: string): string[] {
  return Object.entries(servers)
    .filter(([name, s]) => name !== master && s.role === 'replica' && s.enabled && isAvailableStatus(s.status))
    .sort(([a, x], [b, y]) => x.failover_priority - y.failover_priority || a.localeCompare(b))
    .map(([name]) => name);
}
