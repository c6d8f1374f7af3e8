/**
 * `handyrep demo --ha` (`npm start -- --ha`): beside the demo cluster, a 3-member etcd on loopback
 * (127.0.0.51-53, data under the demo folder) and two controller daemons in their own processes
 * (API on --port and --port+1, the etcd store, etcd_lease), so a takeover can be tried with
 * `kill -9` of the leader, and a node agent per node (demo-agents.ts), so the master fences itself
 * when cut off and the controllers may fail over from a master nobody reaches
 * (failover.unreachable_master: agent_lease). Everything started here is stopped by `stop()`, by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { launcherFlags } from '../cli/launcher-flags.js';
import type { DemoCluster } from './demo-cluster.js';
import { DEMO_AGENT_PORT, writeDemoAgentConfigs } from './demo-agents.js';
import type { WatchSnapshot } from './demo-watch.js';
import { ETCD_BIN, etcdMemberArgs, etcdMemberSpec, initialCluster, waitEtcdHealthy, type EtcdMemberSpec } from './etcd-members.js';

const ETCD_HOSTS = ['127.0.0.51', '127.0.0.52', '127.0.0.53'];
const CONTROLLERS = ['ctl-a', 'ctl-b'];
/** bin/handyrep.js: the script this demo was started with, else found from this module (src/ or dist/src/). */
function launcher(): string {
  const started = process.argv[1];
  if (started && /handyrep(\.js)?$/.test(started) && existsSync(started)) return started;
  for (const up of ['../../bin/handyrep.js', '../../../bin/handyrep.js']) {
    const path = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('bin/handyrep.js not found: run the demo through it (npm start -- --ha)');
}

/** The last lines of a process's output or log file, for a start-up failure's message ('' when unreadable or empty). */
export function lastLinesOf(path: string, count = 10): string {
  try {
    const text = readFileSync(path, 'utf8').trimEnd();
    return text === '' ? '' : `\n  last lines of ${path}:\n    ${text.split('\n').slice(-count).join('\n    ')}`;
  } catch {
    return '';
  }
}

export interface HaController {
  name: string;
  url: string;
  pid: number;
  configPath: string;
  logPath: string;
}

export interface HaDemo {
  controllers: HaController[];
  /** The status as the leading controller reports it (else any that answers), and who leads. */
  status(): Promise<(WatchSnapshot & { leader: string | null }) | null>;
  stop(): Promise<void>;
}

interface Started {
  child: ChildProcess;
  exited: Promise<void>;
  alive: boolean;
}

function startProcess(command: string, args: string[], logPath: string, account: { uid: number; gid: number } | null = null): Started {
  const fd = openSync(logPath, 'a');
  const child = spawn(command, args, { stdio: ['ignore', fd, fd], env: process.env, ...(account ?? {}) });
  closeSync(fd);
  const started: Started = { child, alive: true, exited: Promise.resolve() };
  started.exited = new Promise((resolve) => child.once('exit', () => {
    started.alive = false;
    resolve();
  }));
  return started;
}

async function stopProcess(p: Started, timeoutMs = 15_000): Promise<void> {
  if (!p.alive) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  await p.exited;
  clearTimeout(timer);
}

/** Starts etcd and the two controllers from the demo's configuration (`baseConfig`). */
export async function startHaDemo(demoDir: string, cluster: DemoCluster, baseConfig: string, adminPassword: string, port: number, out: (line: string) => void): Promise<HaDemo> {
  if (port === 0) throw new Error('--ha needs a fixed --port (the controllers use it and the next one, and advertise them)');
  if (!existsSync(ETCD_BIN)) throw new Error(`--ha needs etcd (${ETCD_BIN}): install Debian's etcd-server (as root: apt-get install etcd-server, or bash scripts/ensure-system-packages.sh)`);
  const processes: Started[] = [];
  const stop = async (): Promise<void> => {
    for (const p of [...processes].reverse()) await stopProcess(p);
  };
  try {
    const etcdDir = join(demoDir, 'etcd');
    mkdirSync(etcdDir, { recursive: true });
    const specs = ETCD_HOSTS.map((host, i) => etcdMemberSpec(`etcd${i + 1}`, host));
    const running = new Map<string, Started>();
    for (const spec of specs) {
      const member = startProcess(ETCD_BIN, etcdMemberArgs(spec, join(etcdDir, spec.name), initialCluster(specs), 'handyrep-demo'), join(etcdDir, `${spec.name}.log`));
      processes.push(member);
      running.set(spec.name, member);
    }
    await waitEtcdHealthy(specs, (s: EtcdMemberSpec) => running.get(s.name)?.alive === true, 30_000, () => ` (logs in ${etcdDir})`);
    out(`handyrep demo: etcd running on ${specs.map((s) => s.clientUrl).join(', ')} (data and logs in ${etcdDir})`);
    const base = parse(await readFile(baseConfig, 'utf8')) as Record<string, Record<string, unknown>>;
    const etcd = { endpoints: specs.map((s) => s.clientUrl), ttl: 5, retry_timeout: 2 };
    const bin = launcher();
    // The agents first: the leading controller records the master, and its agent then holds the master lease.
    for (const agent of await writeDemoAgentConfigs(cluster, { ...base, handyrep: { ...base['handyrep'], log_file: 'stdout' } }, etcd)) {
      processes.push(startProcess(process.execPath, [...launcherFlags(['agent']), bin, 'agent', '--config', agent.configPath, '--node', agent.node], join(demoDir, `agent-${agent.node}.out`), agent.account));
    }
    out(`handyrep demo: node agents on ${cluster.nodes.map((n) => `${n.host}:${DEMO_AGENT_PORT}`).join(', ')} (/primary, /replica, /health; output in ${join(demoDir, 'agent-<node>.out')})`);
    const controllers: HaController[] = [];
    const controllerProcesses: Started[] = [];
    for (const [i, name] of CONTROLLERS.entries()) {
      const listen = port === 0 ? 0 : port + i;
      const url = `http://127.0.0.1:${listen}`;
      const config = {
        ...base,
        handyrep: { ...base['handyrep'], store: 'etcd', server_file: `${name}.save`, log_file: `${name}.log` },
        etcd,
        failover: { ...base['failover'], unreachable_master: 'agent_lease' },
        daemon: { ...base['daemon'], listen_address: '127.0.0.1', listen_port: listen, advertised_url: url },
      };
      const configPath = join(demoDir, `${name}.yaml`);
      await writeFile(configPath, `# handyrep demo --ha: controller ${name} (written at each start from handyrep.yaml)\n${stringify(config)}`, 'utf8');
      const logPath = join(demoDir, `${name}.out`);
      const p = startProcess(process.execPath, [...launcherFlags(['daemon']), bin, 'daemon', '--config', configPath], logPath);
      processes.push(p);
      controllerProcesses.push(p);
      controllers.push({ name, url, pid: p.child.pid ?? 0, configPath, logPath });
    }
    const auth = `Basic ${Buffer.from(`demo:${adminPassword}`).toString('base64')}`;
    const get = async (c: HaController, path: string): Promise<unknown> => {
      const reply = await fetch(`${c.url}${path}`, { headers: { authorization: auth }, signal: AbortSignal.timeout(2000) });
      return reply.ok ? ((await reply.json()) as unknown) : null;
    };
    // Readiness: a 200 from the unauthenticated /health (no password check on a busy machine),
    // each controller given 90 s from the end of the previous one's wait.
    const answers = async (c: HaController): Promise<boolean> => {
      try {
        const reply = await fetch(`${c.url}/health`, { signal: AbortSignal.timeout(5000) });
        await reply.arrayBuffer();
        return reply.ok;
      } catch {
        return false;
      }
    };
    for (const [i, c] of controllers.entries()) {
      const deadline = Date.now() + 90_000;
      while (!(await answers(c))) {
        if (controllerProcesses[i]?.alive === false) throw new Error(`controller ${c.name} exited at start (its output: ${c.logPath})${lastLinesOf(c.logPath)}`);
        if (Date.now() > deadline) throw new Error(`controller ${c.name} does not answer at ${c.url} within 90 s (its output: ${c.logPath}; its log: ${join(demoDir, `${c.name}.log`)})${lastLinesOf(c.logPath)}${lastLinesOf(join(demoDir, `${c.name}.log`))}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    return {
      controllers,
      stop,
      async status() {
        let any: (WatchSnapshot & { leadership?: { leading: boolean; leader: string | null } }) | null = null;
        for (const c of controllers) {
          const report = (await get(c, '/get_status').catch(() => null)) as (WatchSnapshot & { leadership?: { leading: boolean; leader: string | null } }) | null;
          if (report === null) continue;
          if (report.leadership?.leading) return { ...report, leader: c.name };
          any ??= report;
        }
        if (any === null) return null;
        const leaderId = any.leadership?.leader ?? null;
        return { ...any, leader: leaderId === null ? null : `controller ${leaderId}` };
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
