/**
 * One NodeShell per configured server, created on demand and cached so that SSH connections are
 * reused across polls and actions. A shell is replaced when a setting that shapes its connection
 * changes (a config reload may change hostname, key, port, host-key policy ...).
 */

import { resolvePath } from '../config/merge.js';
import type { NodeShell } from './ports.js';
import type { HostKeyChecking } from './known-hosts.js';
import { HandyRepError } from '../model/errors.js';
import { AgentShell, type AgentChannel } from './agent-shell.js';
import { LocalShell } from './local-shell.js';
import { SshShell } from './ssh-shell.js';

/** The server settings a shell depends on (a subset of the configured server). */
export interface ShellServer {
  name: string;
  hostname: string;
  control_method: 'ssh' | 'local' | 'agent';
  ssh_user: string;
  ssh_port: number;
  ssh_key: string;
  local_user: string;
}

/** Controller-wide settings a shell depends on. */
export interface ShellSettings {
  connectTimeoutMs: number;
  hostKeyChecking: HostKeyChecking;
  /** known_hosts file; relative paths resolve against `configDir`. */
  knownHostsPath: string;
  /** Folder of the configuration file, base of relative paths. */
  configDir: string;
}

/** Creates and caches the shell of each server; `closeAll` releases every connection. */
export class NodeShellPool {
  private readonly shells = new Map<string, { key: string; shell: NodeShell }>();

  /** `agents`: the etcd command channel of `control_method: agent` servers (absent without an etcd store). */
  constructor(private readonly agents?: AgentChannel) {}

  /** The cached shell of `server`, (re)created when its connection settings differ from the cached one's. */
  shellFor(server: ShellServer, settings: ShellSettings): NodeShell {
    const key = connectionKey(server, settings);
    const cached = this.shells.get(server.name);
    if (cached && cached.key === key) return cached.shell;
    if (cached) void cached.shell.close().catch(() => undefined);
    const shell = server.control_method === 'agent' ? agentShell(server.name, this.agents) : createShell(server, settings);
    this.shells.set(server.name, { key, shell });
    return shell;
  }

  /** Closes and forgets every shell. */
  async closeAll(): Promise<void> {
    const shells = [...this.shells.values()].map((entry) => entry.shell);
    this.shells.clear();
    await Promise.allSettled(shells.map((shell) => shell.close()));
  }
}

function agentShell(name: string, channel: AgentChannel | undefined): NodeShell {
  if (channel) return new AgentShell(name, channel);
  const description = `agent ${name} (no etcd store)`;
  return {
    description,
    run: () => Promise.reject(new HandyRepError('CONTROL_CHANNEL', `${description}: control_method agent needs handyrep.store etcd and master_check_method etcd_lease`)),
    close: () => Promise.resolve(),
  };
}

function createShell(server: ShellServer, settings: ShellSettings): NodeShell {
  if (server.control_method === 'local') return new LocalShell({ runAsUser: server.local_user });
  return new SshShell({
    host: server.hostname,
    port: server.ssh_port,
    user: server.ssh_user,
    privateKeyPath: resolvePath(settings.configDir, server.ssh_key),
    connectTimeoutMs: settings.connectTimeoutMs,
    hostKeyChecking: settings.hostKeyChecking,
    knownHostsPath: resolvePath(settings.configDir, settings.knownHostsPath),
  });
}

/** Everything that, when changed, requires a new shell. */
function connectionKey(server: ShellServer, settings: ShellSettings): string {
  if (server.control_method === 'local') return JSON.stringify(['local', server.local_user]);
  if (server.control_method === 'agent') return JSON.stringify(['agent']);
  return JSON.stringify([
    'ssh',
    server.hostname,
    server.ssh_port,
    server.ssh_user,
    resolvePath(settings.configDir, server.ssh_key),
    settings.connectTimeoutMs,
    settings.hostKeyChecking,
    resolvePath(settings.configDir, settings.knownHostsPath),
  ]);
}
