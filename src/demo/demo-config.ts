/**
 * The demo's handyrep.yaml: a commented configuration for the local 3-node cluster, written when
 * the cluster is built and kept (with its generated passwords, and any edit you make) until the
 * demo is recreated with --fresh.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { parse } from 'yaml';
import type { DemoCluster } from './demo-cluster.js';

export interface DemoCredentials {
  admin: string;
  read: string;
}

export function newCredentials(): DemoCredentials {
  return { admin: randomBytes(9).toString('base64url'), read: randomBytes(9).toString('base64url') };
}

/** Failure detection of the demo: a master that is gone is replaced within a few seconds. */
export const DEMO_FAILOVER = {
  poll_interval: 1,
  fail_retries: 2,
  fail_retry_interval: 0.5,
  verify_interval: 10,
} as const;

export function demoConfigText(cluster: DemoCluster, credentials: DemoCredentials, port: number): string {
  const [master, ...replicas] = cluster.nodes;
  const server = (n: { name: string; host: string; dataDir: string }, role: string): string =>
    `  ${n.name}:\n    hostname: ${n.host}\n    role: ${role}\n    pgdata: ${n.dataDir}\n`;
  return `# HandyRep demo configuration, written by \`handyrep demo\` (kept until --fresh; edit freely).
# A local 3-node PostgreSQL cluster on 127.0.0.11-13:5432; the controller runs on the same machine,
# so commands run locally (control_method: local) as the ${cluster.pgUser} user.
# Reference of every key: docs/configuration.md.

handyrep:
  cluster_name: demo
  server_file: servers.save          # state, next to this file
  log_file: handyrep.log
  log_verbose: true
  connect_timeout_seconds: 1
  authentication_method: simple_password_auth

passwords:
  admin_password: "${credentials.admin}"   # every API function
  read_password: "${credentials.read}"     # read-only functions

daemon:
  listen_address: 127.0.0.1
  listen_port: ${port}                 # handyrep demo --port overrides it

failover:
  auto_failover: true       # fail over automatically when the master is really gone
  poll_interval: ${DEMO_FAILOVER.poll_interval}          # seconds between polls of the master
  fail_retries: ${DEMO_FAILOVER.fail_retries}           # failed polls in a row (plus the vantage check) before failing over
  fail_retry_interval: ${DEMO_FAILOVER.fail_retry_interval}
  verify_interval: ${DEMO_FAILOVER.verify_interval}       # full verification of every server (and the rejoin of a fenced old master)
  auto_rejoin: true         # pg_rewind the old master and bring it back as a replica
  remaster: true

server_defaults:
  control_method: local
  local_user: ${cluster.pgUser}
  pg_bin_dir: ${cluster.binDir}
  lag_limit: 16             # MB of WAL a replica may be behind before it is "lagged"

servers:
${master ? server(master, 'master') : ''}${replicas.map((r) => server(r, 'replica')).join('')}`;
}

export async function writeDemoConfig(path: string, cluster: DemoCluster, credentials: DemoCredentials, port: number): Promise<void> {
  await writeFile(path, demoConfigText(cluster, credentials, port), { mode: 0o600 });
}

/** What the demo needs back from an existing configuration: the passwords and where the nodes are. */
export interface ExistingDemoConfig {
  credentials: DemoCredentials | null;
  /** pgdata of each server, by name. */
  pgdata: Record<string, string>;
}

export async function readDemoConfig(path: string): Promise<ExistingDemoConfig | null> {
  let doc: unknown;
  try {
    doc = parse(await readFile(path, 'utf8'));
  } catch {
    return null;
  }
  if (typeof doc !== 'object' || doc === null) return null;
  const d = doc as { passwords?: { admin_password?: unknown; read_password?: unknown }; servers?: Record<string, { pgdata?: unknown } | null> };
  const admin = d.passwords?.admin_password;
  const read = d.passwords?.read_password;
  const pgdata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(d.servers ?? {})) if (typeof entry?.pgdata === 'string') pgdata[name] = entry.pgdata;
  return { credentials: typeof admin === 'string' && admin && typeof read === 'string' && read ? { admin, read } : null, pgdata };
}
