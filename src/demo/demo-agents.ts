/**
 * The node agents of `handyrep demo --ha`: one `handyrep agent` per demo node, run as PostgreSQL's
 * OS user (as the systemd unit does), talking to its node over the unix socket and to the demo's
 * etcd, its health endpoints on the node's address. Its configuration holds the demo's passwords,
 * so it is written 0600 for that user, next to the node's data (a folder that user can enter).
 */
import { chown, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { currentUser, lookupUser } from '../nodes/os-users.js';
import { HandyRepError } from '../model/errors.js';
import type { DemoCluster } from './demo-cluster.js';

/** The agents' health port on each node's address (Patroni's). */
export const DEMO_AGENT_PORT = 8008;

export interface DemoAgentSpec {
  node: string;
  host: string;
  configPath: string;
  /** uid/gid to run it as; null = this process's user. */
  account: { uid: number; gid: number } | null;
}

/** Writes each node's agent configuration (the demo's own plus etcd and the agent section). */
export async function writeDemoAgentConfigs(cluster: DemoCluster, base: Record<string, unknown>, etcd: Record<string, unknown>): Promise<DemoAgentSpec[]> {
  const root = currentUser().uid === 0;
  const user = root ? await lookupUser(cluster.pgUser) : null;
  if (root && !user) throw new HandyRepError('REFUSED', `the node agents run as ${cluster.pgUser}, but there is no such OS user`);
  const specs: DemoAgentSpec[] = [];
  for (const node of cluster.nodes) {
    const configPath = join(cluster.root, node.name, 'agent.yaml');
    const config = {
      ...base,
      etcd,
      agent: { node: node.name, loop_wait: 1, safety_margin: 2, restart_on_crash: false, socket_dir: node.socketDir, pg_log_file: node.logFile, listen_address: node.host, port: DEMO_AGENT_PORT },
    };
    await writeFile(configPath, `# handyrep demo --ha: the node agent of ${node.name} (written at each start)\n${stringify(config)}`, { encoding: 'utf8', mode: 0o600 });
    if (user) await chown(configPath, user.uid, user.gid);
    specs.push({ node: node.name, host: node.host, configPath, account: user ? { uid: user.uid, gid: user.gid } : null });
  }
  return specs;
}
