/**
 * The plugin context of a node agent: the same plugins as the controller's (clone, …), but every
 * "node" command runs right here, as the agent's own OS user (the PostgreSQL user), whatever
 * control_method the configuration gives the servers: the agent needs no ssh. Plugin log lines go
 * to the agent's log.
 */
import type { HandyRepConfig } from '../config/schema.js';
import { LocalShell } from '../nodes/local-shell.js';
import type { ProcessGroupWatcher } from '../nodes/run-process.js';
import { oneShotSessions } from '../nodes/monitor-sessions.js';
import { PgSqlClient } from '../nodes/sql-client.js';
import { PluginRegistry } from '../plugins/registry.js';
import type { PluginContext, ServerRef } from '../plugins/types.js';
import type { NodeEnv } from '../runtime/clone/target-node.js';
import { pluginTimeouts, sqlTargetFor } from '../runtime/plugin-context.js';
import { serversFromConfig } from '../runtime/state-sync.js';

/** `groups`: told of every command's process group while it runs (copy-groups.ts: the boot's copies). */
export function agentNodeEnv(config: Readonly<HandyRepConfig>, log: (line: string) => void, groups?: ProcessGroupWatcher): NodeEnv {
  const shell = new LocalShell(groups ? { groups } : {});
  const sql = new PgSqlClient();
  const timeouts = pluginTimeouts(config);
  const line = (level: string) => (message: string, server?: string) => log(`plugin ${level}${server ? ` (${server})` : ''}: ${message}`);
  const ctx: PluginContext = {
    config,
    log: { debug: () => undefined, info: line('info'), warn: line('warn'), error: line('error') },
    sql,
    monitorSessions: oneShotSessions(sql),
    shellFor: () => shell,
    controllerShell: shell,
    sqlTarget: (server: ServerRef) => sqlTargetFor(config, server, timeouts),
    settings: (name: string) => config.plugins[name] ?? {},
    timeouts,
  };
  return { ctx, plugins: new PluginRegistry() };
}

/** The server `name` of the configuration as plugins see it. */
export function serverRef(config: Readonly<HandyRepConfig>, name: string): ServerRef {
  const record = serversFromConfig(config, new Date().toISOString())[name];
  if (!record) throw new Error(`no server ${JSON.stringify(name)} under servers`);
  return { ...record, name };
}
