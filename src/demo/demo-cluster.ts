/**
 * The demo's 3-node streaming cluster on 127.0.0.11-13, port 5432, under a folder of its own
 * (demo-location.ts): built with initdb and pg_basebackup the first time, started again as it was
 * on later runs (a node HandyRep fenced stays stopped: HandyRep decides what happens to it).
 * Run as root, every PostgreSQL command runs as `postgres` (PostgreSQL refuses root), and the
 * node folders belong to it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, chmod, chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join, relative, sep } from 'node:path';
import { LocalShell } from '../nodes/local-shell.js';
import { currentUser, lookupUser } from '../nodes/os-users.js';
import { HandyRepError } from '../model/errors.js';

export interface DemoNode {
  name: string;
  host: string;
  dataDir: string;
  socketDir: string;
  logFile: string;
}

export const DEMO_NODES = [
  { name: 'john', host: '127.0.0.11' },
  { name: 'paul', host: '127.0.0.12' },
  { name: 'george', host: '127.0.0.13' },
] as const;

export const DEMO_PORT = 5432;

export interface DemoCluster {
  /** Folder holding one folder per node. */
  root: string;
  binDir: string;
  /** OS user PostgreSQL runs as (postgres when the demo runs as root). */
  pgUser: string;
  nodes: DemoNode[];
}

/** PostgreSQL's OS user: postgres when the demo runs as root, else the demo's own user. */
export function demoPgUser(): string {
  const me = currentUser();
  return me.uid === 0 ? 'postgres' : me.name;
}

export function demoCluster(root: string, binDir: string, pgUser = demoPgUser()): DemoCluster {
  const nodes = DEMO_NODES.map(({ name, host }) => ({
    name,
    host,
    dataDir: join(root, name, 'data'),
    socketDir: join(root, name, 'socket'),
    logFile: join(root, name, 'postgres.log'),
  }));
  return { root, binDir, pgUser, nodes };
}

/** postgresql.conf settings of a node: its own address and socket, replication, quick failure detection. */
export function nodeSettings(node: DemoNode): string {
  return [
    '',
    `# HandyRep demo node ${node.name} (written by handyrep demo)`,
    `listen_addresses = '${node.host}'`,
    `port = ${DEMO_PORT}`,
    `unix_socket_directories = '${node.socketDir}'`,
    `cluster_name = '${node.name}'`,
    'wal_level = replica',
    'hot_standby = on',
    'wal_log_hints = on                 # pg_rewind can rejoin an old master',
    'max_wal_senders = 10',
    'max_replication_slots = 10',
    "wal_keep_size = '256MB'",
    "wal_sender_timeout = '5s'          # a lost peer is noticed in seconds",
    "wal_receiver_timeout = '5s'",
    "wal_receiver_status_interval = '1s'",
    "wal_retrieve_retry_interval = '1s'",
    "shared_buffers = '32MB'",
    'max_connections = 40',
    'logging_collector = off',
    '',
  ].join('\n');
}

/** Loopback only: every role may connect without a password (a demo, not a deployment). */
export const DEMO_HBA = `# HandyRep demo (written by handyrep demo): loopback only, no passwords
local all all trust
local replication all trust
host all all 127.0.0.0/8 trust
host replication all 127.0.0.0/8 trust
`;

async function run(shell: LocalShell, argv: string[], what: string, timeoutMs = 120000): Promise<string> {
  const result = await shell.run(argv, { timeoutMs });
  if (result.exitCode !== 0 || result.timedOut) {
    const output = (result.stderr || result.stdout).trim().split('\n').slice(-3).join(' | ');
    throw new HandyRepError('CONTROL_CHANNEL', `${what} failed (${result.timedOut ? 'timed out' : `exit ${String(result.exitCode)}`}): ${output}`);
  }
  return result.stdout;
}

/** Create `path` (and missing parents) so that PostgreSQL's user can pass: created folders get 0755. */
async function makeReachable(path: string): Promise<void> {
  const first = await mkdir(path, { recursive: true, mode: 0o755 });
  if (first === undefined) return;
  // A restrictive umask (077) would leave them 0700: set the mode explicitly.
  const parts = relative(first, path).split(sep).filter((p) => p !== '');
  let dir = first;
  await chmod(dir, 0o755);
  for (const part of parts) {
    dir = join(dir, part);
    await chmod(dir, 0o755);
  }
}

/** A folder of PostgreSQL's own (0700, owned by its user when the demo runs as root). */
async function pgFolder(cluster: DemoCluster, path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  await chmod(path, 0o700);
  if (currentUser().uid === 0) {
    const user = await lookupUser(cluster.pgUser);
    if (!user) throw new HandyRepError('REFUSED', `the demo runs as root, so PostgreSQL runs as ${cluster.pgUser}, but there is no such OS user (install postgresql-15, which creates it)`);
    await chown(path, user.uid, user.gid);
  }
}

/** Whether something accepts TCP connections on host:port (within 1 s). */
export function isListening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (up: boolean): void => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The pid in a data folder's postmaster.pid, or null. */
export function postmasterPid(node: DemoNode): number | null {
  try {
    const pid = Number.parseInt(readFileSync(join(node.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

async function nodeRuns(cluster: DemoCluster, shell: LocalShell, node: DemoNode): Promise<boolean> {
  if (!existsSync(join(node.dataDir, 'PG_VERSION'))) return false;
  const status = await shell.run([join(cluster.binDir, 'pg_ctl'), '-D', node.dataDir, 'status'], { timeoutMs: 10000 });
  return status.exitCode === 0;
}

/** pg_ctl start, unless it already runs; refuses clearly when another server holds the address. */
async function startNode(cluster: DemoCluster, shell: LocalShell, node: DemoNode): Promise<void> {
  if (await nodeRuns(cluster, shell, node)) return;
  if (await isListening(node.host, DEMO_PORT)) {
    throw new HandyRepError('REFUSED', `${node.host}:${DEMO_PORT} is already in use by another server (another demo, a test cluster, a PostgreSQL of your own?); the demo needs 127.0.0.11-13:${DEMO_PORT}. Stop it (ss -ltnp | grep ${node.host}) and try again.`);
  }
  await run(shell, [join(cluster.binDir, 'pg_ctl'), '-D', node.dataDir, '-l', node.logFile, '-w', '-t', '60', 'start'], `starting ${node.name} (log: ${node.logFile})`);
}

/** Thrown between build steps when the demo was asked to stop. */
export class DemoStopped extends Error {
  constructor() {
    super('stopped while setting up');
  }
}

export interface EnsureOptions {
  fresh: boolean;
  /** Nodes to leave stopped (fenced by HandyRep). */
  skip: readonly string[];
  log: (line: string) => void;
  /** True once a stop was requested: the build stops between steps. */
  stopping?: () => boolean;
}

/** Build the cluster (fresh) or start the existing one. */
export async function ensureDemoCluster(cluster: DemoCluster, options: EnsureOptions): Promise<'built' | 'reused'> {
  const shell = new LocalShell({ runAsUser: cluster.pgUser });
  const step = (): void => {
    if (options.stopping?.()) throw new DemoStopped();
  };
  const [master, ...replicas] = cluster.nodes as [DemoNode, ...DemoNode[]];
  const exists = cluster.nodes.every((n) => existsSync(join(n.dataDir, 'PG_VERSION')));
  if (exists && !options.fresh) {
    for (const node of cluster.nodes) {
      step();
      if (options.skip.includes(node.name)) {
        options.log(`  ${node.name}: left stopped (HandyRep fenced it; it rejoins as a replica)`);
        continue;
      }
      await startNode(cluster, shell, node);
      options.log(`  ${node.name}: running on ${node.host}:${DEMO_PORT}`);
    }
    return 'reused';
  }
  await stopDemoCluster(cluster);
  for (const node of cluster.nodes) await rm(join(cluster.root, node.name), { recursive: true, force: true });
  for (const node of cluster.nodes) {
    if (await isListening(node.host, DEMO_PORT)) {
      throw new HandyRepError('REFUSED', `${node.host}:${DEMO_PORT} is already in use by another server (another demo, a test cluster, a PostgreSQL of your own?); the demo needs 127.0.0.11-13:${DEMO_PORT}. Stop it (ss -ltnp | grep ${node.host}) and try again.`);
    }
  }
  await makeReachable(cluster.root);
  for (const node of cluster.nodes) {
    await pgFolder(cluster, join(cluster.root, node.name));
    await pgFolder(cluster, node.socketDir);
  }
  step();
  options.log(`  initdb ${master.dataDir}`);
  await run(shell, [join(cluster.binDir, 'initdb'), '-D', master.dataDir, '-U', 'postgres', '--auth-local=trust', '--auth-host=trust', '--locale=C', '--encoding=UTF8', '--no-instructions'], 'initdb');
  await appendFile(join(master.dataDir, 'postgresql.conf'), nodeSettings(master));
  await writeFile(join(master.dataDir, 'pg_hba.conf'), DEMO_HBA);
  step();
  await startNode(cluster, shell, master);
  const psql = [join(cluster.binDir, 'psql'), '-X', '-q', '-h', master.socketDir, '-p', String(DEMO_PORT), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c'];
  await run(shell, [...psql, 'CREATE ROLE handyrep SUPERUSER LOGIN; CREATE ROLE replicator REPLICATION LOGIN'], 'creating the roles handyrep and replicator');
  options.log(`  ${master.name}: master on ${master.host}:${DEMO_PORT}`);
  for (const node of replicas) {
    step();
    await run(shell, [join(cluster.binDir, 'pg_basebackup'), '-h', master.host, '-p', String(DEMO_PORT), '-U', 'replicator', '-D', node.dataDir, '-X', 'stream', '-R', '-c', 'fast'], `cloning ${node.name}`);
    // The copy carries the master's settings; the node's own come last and win.
    await appendFile(join(node.dataDir, 'postgresql.conf'), nodeSettings(node));
    await appendFile(join(node.dataDir, 'postgresql.auto.conf'), `primary_conninfo = 'host=${master.host} port=${DEMO_PORT} user=replicator application_name=${node.name}'\n`);
    await startNode(cluster, shell, node);
    options.log(`  ${node.name}: replica on ${node.host}:${DEMO_PORT}`);
  }
  return 'built';
}

/** Stop every node of the demo (fast mode); quiet about nodes that are not running. */
export async function stopDemoCluster(cluster: DemoCluster): Promise<void> {
  const shell = new LocalShell({ runAsUser: cluster.pgUser });
  await Promise.all(
    cluster.nodes.map(async (node) => {
      if (!existsSync(join(node.dataDir, 'postmaster.pid'))) return;
      const stopped = await shell
        .run([join(cluster.binDir, 'pg_ctl'), '-D', node.dataDir, '-m', 'fast', '-w', '-t', '30', 'stop'], { timeoutMs: 40000 })
        .catch(() => null);
      // A node that does not stop in time (or a pg_ctl that cannot run) is stopped hard.
      if (stopped?.exitCode !== 0) {
        const pid = postmasterPid(node);
        if (pid !== null && (await nodeRuns(cluster, shell, node).catch(() => false))) {
          await shell.run([join(cluster.binDir, 'pg_ctl'), '-D', node.dataDir, '-m', 'immediate', '-w', '-t', '10', 'stop'], { timeoutMs: 15000 }).catch(() => undefined);
        }
      }
    }),
  );
}
