/**
 * The authentication plugin the daemon asks, with the context it is called with. Built from the
 * configuration (the plugin named by handyrep.authentication_method, built-in or from
 * handyrep.plugin_dirs), and rebuilt after a successful reload_conf so new passwords apply at
 * once. HandyRep has already checked the same configuration for the plugin (checkConfigured in
 * HandyRep.open and reload_conf), so this only binds it.
 */
import { loadConfigFile, type LoadedConfig } from '../config/load.js';
import { resolvePath } from '../config/merge.js';
import type { EventLog } from '../log/event-log.js';
import { LocalShell } from '../nodes/local-shell.js';
import { NodeShellPool } from '../nodes/node-shells.js';
import { PgSqlClient } from '../nodes/sql-client.js';
import { PluginRegistry } from '../plugins/registry.js';
import type { AuthPlugin, PluginContext } from '../plugins/types.js';
import { buildPluginContext } from '../runtime/plugin-context.js';

/** The plugin and its context, as of the last (re)load. */
export interface AuthBinding {
  readonly plugin: AuthPlugin;
  readonly ctx: PluginContext;
}

/** Holds the current auth binding and rebuilds it on reload. */
export class AuthProvider {
  private constructor(
    private binding: AuthBinding,
    private readonly shells: NodeShellPool,
    private readonly log: EventLog,
  ) {}

  /** Bind the plugin a loaded configuration names. Throws PLUGIN_LOAD when it is not an auth plugin. */
  static async load(loaded: Pick<LoadedConfig, 'config' | 'dir'>, log: EventLog): Promise<AuthProvider> {
    const shells = new NodeShellPool();
    return new AuthProvider(await bind(loaded, log, shells), shells, log);
  }

  current(): AuthBinding {
    return this.binding;
  }

  /** Re-read the configuration; on failure the previous binding stays and the problem is logged. */
  async reload(configFile: string): Promise<void> {
    try {
      this.binding = await bind(loadConfigFile(configFile), this.log, this.shells);
    } catch (err) {
      this.log.error('DAEMON', `authentication settings not reloaded from ${configFile}; the previous ones stay: ${(err as Error).message}`);
    }
  }

  /** Close connections an auth plugin may have opened through its context. */
  async close(): Promise<void> {
    await this.shells.closeAll();
  }
}

async function bind({ config, dir }: Pick<LoadedConfig, 'config' | 'dir'>, log: EventLog, shells: NodeShellPool): Promise<AuthBinding> {
  // HandyRep keeps its registry to itself; user plugin modules are cached by import(), so
  // loading the folders again here costs no second evaluation.
  const registry = new PluginRegistry();
  await registry.loadDirectories(config.handyrep.plugin_dirs.map((d) => resolvePath(dir, d)));
  const plugin = registry.get('auth', config.handyrep.authentication_method);
  const ctx = buildPluginContext({ config, configDir: dir, log, sql: new PgSqlClient(), shells, controllerShell: new LocalShell() });
  return { plugin, ctx };
}
