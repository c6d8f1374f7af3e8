/**
 * `handyrep demo` (what `npm start` runs): a local 3-node cluster, a configuration for it, and
 * the daemon with automatic failover on, printing every change of status it sees. Ctrl-C (SIGINT)
 * or SIGTERM stops the daemon and every PostgreSQL of the demo and exits 0; a second signal exits
 * at once. Running it again reuses the cluster as HandyRep left it (`--fresh` recreates it).
 *
 * Files: `--dir` (default .handyrep-demo) holds handyrep.yaml, servers.save and handyrep.log; the
 * nodes' data folders go there too unless PostgreSQL cannot use it (demo-location.ts), e.g. when
 * the demo runs as root and PostgreSQL, running as postgres, cannot enter a parent folder.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, rmdir } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { startDaemon, type RunningDaemon } from '../daemon/daemon.js';
import { describeError } from '../model/errors.js';
import { currentUser, lookupUser } from '../nodes/os-users.js';
import { readServerFile } from '../store/server-file.js';
import { demoCluster, demoPgUser, DemoStopped, ensureDemoCluster, stopDemoCluster, type DemoCluster } from './demo-cluster.js';
import { newCredentials, readDemoConfig, writeDemoConfig, type DemoCredentials } from './demo-config.js';
import { chooseNodeRoot, type PgAccount } from './demo-location.js';
import { clock, statusChanges, type WatchSnapshot } from './demo-watch.js';
import { findPostgresBinDir } from './postgres-binaries.js';
import { startHaDemo, type HaDemo } from './demo-ha.js';

export interface DemoOptions {
  dir: string;
  fresh: boolean;
  /** Port of the REST API (overrides the configuration's listen_port; 0 = any free port). */
  port: number;
  out: (line: string) => void;
  /** 3 etcd members and two controller daemons (etcd_lease) instead of one daemon in this process (demo-ha.ts). */
  ha?: boolean;
}

/** How to call the CLI in the printed examples: bin/handyrep.js relative to here when it is below. */
function cliCommand(): string {
  const script = process.argv[1];
  if (!script || !/handyrep(\.js)?$/.test(script)) return 'handyrep';
  const rel = relative(process.cwd(), script);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : script;
}

/** The node root an existing configuration points at (…/john/data → …), if its cluster exists. */
function existingNodeRoot(pgdata: Record<string, string>): string | null {
  const john = pgdata['john'];
  if (!john || !john.endsWith('/john/data')) return null;
  return existsSync(join(john, 'PG_VERSION')) ? dirname(dirname(john)) : null;
}

async function pgAccount(): Promise<PgAccount | null> {
  if (currentUser().uid !== 0) return null;
  const user = await lookupUser(demoPgUser());
  if (!user) throw new Error('the demo runs as root, so PostgreSQL must run as the postgres OS user, which does not exist: install postgresql-15 (apt-get install postgresql-15)');
  return { name: user.name, uid: user.uid, gid: user.gid, home: user.home };
}

/** Remove the node folders of a cluster (and its root when the demo made it elsewhere and it is empty). */
async function removeNodes(cluster: DemoCluster, demoDir: string): Promise<void> {
  await stopDemoCluster(cluster);
  for (const node of cluster.nodes) await rm(join(cluster.root, node.name), { recursive: true, force: true });
  if (cluster.root !== demoDir) await rmdir(cluster.root).catch(() => undefined);
}

/** Run the demo until SIGINT/SIGTERM; resolves with the exit code. */
export async function runDemo(options: DemoOptions): Promise<number> {
  const out = options.out;
  let signal: NodeJS.Signals | null = null;
  let wake: () => void = () => undefined;
  const stopRequested = new Promise<void>((resolve) => (wake = resolve));
  const onSignal = (received: NodeJS.Signals): void => {
    if (signal !== null) {
      out(`handyrep demo: second ${received}: exiting at once (PostgreSQL may keep running; run the demo again and stop it with one Ctrl-C)`);
      process.exit(1);
    }
    signal = received;
    out(`handyrep demo: ${received}: stopping HandyRep and the cluster (a second signal exits at once)`);
    wake();
  };
  const onRejection = (reason: unknown): void => out(`handyrep demo: unhandled rejection: ${describeError(reason)}`);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('unhandledRejection', onRejection);

  const demoDir = resolve(options.dir);
  const configPath = join(demoDir, 'handyrep.yaml');
  const serverFile = join(demoDir, 'servers.save');
  let cluster: DemoCluster | null = null;
  let daemon: RunningDaemon | null = null;
  let ha: HaDemo | null = null;
  let watch: NodeJS.Timeout | null = null;
  let watching: Promise<void> = Promise.resolve();
  try {
    const binDir = findPostgresBinDir();
    const pg = await pgAccount();
    const existing = await readDemoConfig(configPath);
    const previousRoot = existing ? existingNodeRoot(existing.pgdata) : null;
    let nodeRoot: string;
    if (previousRoot !== null && !options.fresh) {
      nodeRoot = previousRoot;
    } else {
      const choice = chooseNodeRoot(demoDir, pg, currentUser().uid);
      nodeRoot = choice.nodeRoot;
      if (choice.moved) out(`handyrep demo: not keeping PostgreSQL's data in ${demoDir}: ${choice.moved}; using ${nodeRoot} instead`);
      if (previousRoot !== null && previousRoot !== nodeRoot) await removeNodes(demoCluster(previousRoot, binDir), demoDir);
    }
    cluster = demoCluster(nodeRoot, binDir);
    out(`handyrep demo: PostgreSQL from ${binDir} running as ${cluster.pgUser}`);
    out(`handyrep demo: PostgreSQL data under ${nodeRoot}`);
    out(`handyrep demo: HandyRep files (configuration, state, log) in ${demoDir}`);
    let fenced: string[] = [];
    if (!options.fresh) {
      const saved = await readServerFile(serverFile);
      if (saved.kind === 'ok') fenced = Object.entries(saved.state.servers).filter(([, s]) => s.fenced).map(([n]) => n);
    }
    const built = await ensureDemoCluster(cluster, { fresh: options.fresh, skip: fenced, log: out, stopping: () => signal !== null });
    await mkdir(demoDir, { recursive: true });
    let credentials: DemoCredentials | null = built === 'reused' && existing ? existing.credentials : null;
    if (!credentials || !existsSync(configPath)) {
      credentials = newCredentials();
      await writeDemoConfig(configPath, cluster, credentials, options.port);
      // A new configuration starts from its own file, not from an older demo's saved state.
      for (const stale of [serverFile, `${serverFile}.journal`]) await rm(stale, { force: true });
    }
    if (signal !== null) throw new DemoStopped();
    if (options.ha) {
      ha = await startHaDemo(demoDir, cluster, configPath, credentials.admin, options.port, out);
      const cli = cliCommand();
      const [a, b] = ha.controllers;
      out('');
      out(`Two HandyRep controllers watch the demo cluster through etcd; one leads. APIs: ${ha.controllers.map((c) => `${c.name} ${c.url} (pid ${c.pid})`).join(', ')}`);
      out(`  admin password: ${credentials.admin}   read password: ${credentials.read}   (user name: anything)`);
      out('In another terminal:');
      out(`  export HANDYREP_URL=${a?.url ?? ''} HANDYREP_PASSWORD=${credentials.admin}`);
      out(`  ${cli} status                                # names the leader; a follower answers from etcd`);
      out(`  curl -s -u admin:${credentials.admin} ${b?.url ?? ''}/health   # "leadership": leading, leader_url, data_age_ms`);
      out(`  kill -9 <pid of the leading controller>       # takeover: the other leads within the ttl (5 s); no failover`);
      out(`  curl -s -o /dev/null -w '%{http_code}\\n' http://127.0.0.11:8008/primary   # a node agent's health check (200 on the master)`);
      out(`  ${cli} agents                                # what each node's agent publishes in etcd (role, boot step, sees the master)`);
      out(`  ${cli} get_controller_history`);
      out('Ctrl-C stops the agents, both controllers, etcd and the cluster (a killed controller or agent is not restarted).');
      out('');
      let lastHa: (WatchSnapshot & { leader: string | null }) | null = null;
      const haTick = async (): Promise<void> => {
        const report = await ha?.status().catch(() => null);
        if (!report) {
          out(`${clock()}  (no controller answers)`);
          return;
        }
        if (lastHa === null || lastHa.leader !== report.leader) out(`${clock()}  leader: ${report.leader ?? 'nobody'}`);
        for (const line of statusChanges(lastHa, report)) out(`${clock()}  ${line}`);
        lastHa = report;
      };
      watch = setInterval(() => {
        watching = watching.then(haTick);
      }, 1000);
      await stopRequested;
      return await shutDown();
    }
    daemon = await startDaemon(configPath, { notice: out, port: options.port });
    const hr = daemon.hr;
    // Status changes are printed by the watch below; alerts add what it would not show.
    hr.events.onAlert((entry) => {
      if (!/status changed/.test(entry.message)) out(`${clock()}  ALERT ${entry.alert ?? ''}: ${entry.message}`);
    });
    const master = (await hr.get_master_name()) ?? cluster.nodes[0]?.name ?? 'john';
    const masterNode = cluster.nodes.find((n) => n.name === master) ?? cluster.nodes[0];
    const cli = cliCommand();
    const url = daemon.url;
    out('');
    out(`HandyRep is watching the demo cluster. API: ${url}   dashboard: ${url}/`);
    out(`  admin password: ${credentials.admin}   read password: ${credentials.read}   (user name: anything)`);
    out(`  configuration:  ${configPath}   log: ${join(demoDir, 'handyrep.log')}`);
    out('In another terminal:');
    out(`  export HANDYREP_URL=${url} HANDYREP_PASSWORD=${credentials.admin}`);
    out(`  ${cli} status                                # the cluster table`);
    out(`  kill -9 $(head -1 ${join(masterNode?.dataDir ?? '', 'postmaster.pid')})   # crash the master ${master}: watch the failover here`);
    out(`  ${cli} status; ${cli} history; ${cli} log -n 20`);
    out(`  ${cli} failover --to ${master}                   # switch back once ${master} has rejoined as a replica`);
    out(`  curl -s -u admin:${credentials.admin} ${url}/get_status`);
    out('Ctrl-C stops HandyRep and the cluster; run the demo again to continue where you left off (--fresh rebuilds).');
    out('');

    let last: WatchSnapshot | null = null;
    const tick = async (): Promise<void> => {
      try {
        const report = (await hr.get_status('cached')) as unknown as WatchSnapshot;
        for (const line of statusChanges(last, report)) out(`${clock()}  ${line}`);
        last = report;
      } catch (err) {
        out(`${clock()}  (status: ${describeError(err)})`);
      }
    };
    watch = setInterval(() => {
      watching = watching.then(tick);
    }, 1000);
    await stopRequested;
    return await shutDown();
  } catch (err) {
    if (err instanceof DemoStopped) return await shutDown();
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'EADDRINUSE' ? ` (another program uses port ${options.port}: give another with --port, or 0 for any free port)` : '';
    out(`handyrep demo: ${describeError(err)}${hint}`);
    await shutDown().catch(() => undefined);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('unhandledRejection', onRejection);
  }

  async function shutDown(): Promise<number> {
    if (watch) clearInterval(watch);
    await watching;
    await daemon?.stop();
    await ha?.stop();
    if (cluster) await stopDemoCluster(cluster);
    out('handyrep demo: stopped');
    return 0;
  }
}
