/**
 * The `control_method: agent` channel of a controller under etcd_lease: its etcd client and
 * leadership (commands are term-guarded writes), and how an argv is identified as a table action
 * (the verify test command in force, the server at a probe's host and port).
 */
import type { HandyRepConfig } from '../../config/schema.js';
import type { AgentChannel } from '../../nodes/agent-shell.js';
import type { EtcdControl } from './etcd-control.js';

/** What the channel reads of the servers (the book). */
export interface ServerDirectory {
  names(): string[];
  get(name: string): { hostname: string; port: number };
}

export function agentChannelOf(etcd: EtcdControl, servers: ServerDirectory, config: () => Readonly<HandyRepConfig>): AgentChannel {
  return {
    ctx: etcd.ctx,
    leadership: etcd.leadership,
    controllerId: etcd.controllerId,
    // The agent's watch answers in milliseconds; the margin is for a loaded node and a slow etcd round trip.
    pickupMs: Math.max(3000, 2 * config().handyrep.connect_timeout_seconds * 1000),
    identify: () => ({
      testCommand: config().handyrep.test_ssh_command,
      archiveDirectory: config().archive.archive_directory,
      noArchiveFile: config().archive.no_archive_file,
      serverAt: (host, port) => servers.names().find((name) => servers.get(name).hostname === host && servers.get(name).port === port) ?? null,
    }),
  };
}
