/**
 * Builds the context plugins are called with from the current configuration: timeouts, the SQL
 * client, per-server control channels, and plugin settings. Rebuilt on reload_conf.
 */
import type { HandyRepConfig, ServerSettings } from '../config/schema.js';
import { resolvePath } from '../config/merge.js';
import type { EventLog } from '../log/event-log.js';
import type { MonitoringSessions, NodeShell, SqlClient, SqlTarget } from '../nodes/ports.js';
import { oneShotSessions } from '../nodes/monitor-sessions.js';
import type { NodeShellPool } from '../nodes/node-shells.js';
import type { PluginContext, PluginLog, ServerRef } from '../plugins/types.js';

export interface PluginContextDeps {
  config: HandyRepConfig;
  configDir: string;
  log: EventLog;
  sql: SqlClient;
  /** Default: a session per query (contexts that do not monitor). */
  monitorSessions?: MonitoringSessions;
  shells: NodeShellPool;
  controllerShell: NodeShell;
}

export function buildPluginContext(deps: PluginContextDeps): PluginContext {
  const { config, configDir, log } = deps;
  const h = config.handyrep;
  const timeouts = pluginTimeouts(config);
  const pluginLog: PluginLog = {
    debug: (m, s) => log.debug('PLUGIN', m, s),
    info: (m, s) => log.info('PLUGIN', m, s),
    warn: (m, s) => log.warn('PLUGIN', m, s),
    error: (m, s) => log.error('PLUGIN', m, s),
  };
  const shellSettings = {
    connectTimeoutMs: timeouts.connectMs,
    hostKeyChecking: h.ssh_host_key_checking,
    knownHostsPath: resolvePath(configDir, h.ssh_known_hosts),
    configDir,
  };
  return {
    config,
    log: pluginLog,
    sql: deps.sql,
    monitorSessions: deps.monitorSessions ?? oneShotSessions(deps.sql),
    controllerShell: deps.controllerShell,
    timeouts,
    shellFor: (server: ServerRef) => deps.shells.shellFor(server, shellSettings),
    sqlTarget: (server: ServerRef): SqlTarget => sqlTargetFor(config, server, timeouts),
    settings: (name: string) => config.plugins[name] ?? {},
  };
}

/** The plugins' timeouts from the `handyrep` section (the node agent's context uses them too). */
export function pluginTimeouts(config: HandyRepConfig): PluginContext['timeouts'] {
  const h = config.handyrep;
  return Object.freeze({
    connectMs: Math.round(h.connect_timeout_seconds * 1000),
    statementMs: Math.round(h.statement_timeout_seconds * 1000),
    commandMs: Math.round(h.command_timeout_seconds * 1000),
  });
}

/** HandyRep's own connection to a server. */
export function sqlTargetFor(
  config: HandyRepConfig,
  server: { hostname: string; port: number } & Partial<Pick<ServerSettings, 'sslmode' | 'sslrootcert' | 'sslcert' | 'sslkey'>>,
  timeouts: { connectMs: number; statementMs: number },
): SqlTarget {
  const defaults = config.server_defaults;
  const target: SqlTarget = {
    host: server.hostname,
    port: server.port,
    database: config.handyrep.handyrep_db,
    user: config.handyrep.handyrep_user,
    connectTimeoutMs: timeouts.connectMs,
    statementTimeoutMs: timeouts.statementMs,
    applicationName: 'handyrep',
    tls: {
      mode: server.sslmode ?? defaults.sslmode,
      rootcert: server.sslrootcert !== undefined ? server.sslrootcert : defaults.sslrootcert,
      cert: server.sslcert !== undefined ? server.sslcert : defaults.sslcert,
      key: server.sslkey !== undefined ? server.sslkey : defaults.sslkey,
    },
    allowedPasswordMethods: config.handyrep.allowed_password_methods,
  };
  if (config.passwords.handyrep_db_pass) target.password = config.passwords.handyrep_db_pass;
  if (config.failover.synchronous_mode !== 'off') target.localCommit = true;
  return target;
}
