/**
 * The plugin registry: built-in plugins plus user plugins loaded from `handyrep.plugin_dirs`.
 * A user plugin is a .js or .mjs file whose default export is a plugin object (or an array of
 * them). Every plugin is checked against its kind's contract at load; a bad one stops start-up
 * with a coded error naming the file and what is wrong.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HandyRepError } from '../model/errors.js';
import { NAME_PATTERN } from '../config/validators.js';
import type { HandyRepConfig } from '../config/schema.js';
import { matchPattern, pluginNameSettings } from '../config/marked-settings.js';
import { REQUIRED_METHOD, type Plugin, type PluginKind, type PluginOfKind } from './types.js';
import { builtinPlugins } from './builtin.js';
import { pluginConfigProblems } from './config-check.js';

const KINDS = Object.keys(REQUIRED_METHOD) as PluginKind[];

export class PluginRegistry {
  private readonly plugins = new Map<string, Plugin>();

  constructor(initial: readonly Plugin[] = builtinPlugins) {
    for (const plugin of initial) this.add(plugin, 'built-in');
  }

  /** Register a plugin after checking its contract. */
  add(candidate: unknown, origin: string): void {
    const plugin = checkPlugin(candidate, origin);
    if (this.plugins.has(plugin.name)) {
      throw new HandyRepError('PLUGIN_LOAD', `${origin}: a plugin named "${plugin.name}" is already registered`);
    }
    this.plugins.set(plugin.name, plugin);
  }

  /** The plugin `name`, which must be of `kind`. */
  get<K extends PluginKind>(kind: K, name: string): PluginOfKind<K> {
    const plugin = this.plugins.get(name);
    if (!plugin) throw new HandyRepError('PLUGIN_LOAD', `no plugin named "${name}" (wanted a ${kind} plugin)`);
    if (plugin.kind !== kind) {
      throw new HandyRepError('PLUGIN_LOAD', `plugin "${name}" is a ${plugin.kind} plugin, not a ${kind} plugin`);
    }
    return plugin as PluginOfKind<K>;
  }

  has(name: string): boolean {
    return this.plugins.has(name);
  }

  /**
   * Problems with the plugin names among server settings given to add_server, alter_server_def or
   * validate_server_settings, as `<key>: <reason>`; empty when every name is a plugin of its kind.
   */
  serverSettingProblems(props: Readonly<Record<string, unknown>>): string[] {
    const problems: string[] = [];
    for (const { pattern, mark } of pluginNameSettings()) {
      const key = pattern[1];
      const value = pattern[0] === 'server_defaults' && key !== undefined && Object.hasOwn(props, key) ? props[key] : undefined;
      if (key === undefined || typeof value !== 'string') continue;
      try {
        this.get(mark as PluginKind, value);
      } catch (err) {
        problems.push(`${key}: ${(err as Error).message}`);
      }
    }
    return problems;
  }

  list(): { name: string; kind: PluginKind; description: string }[] {
    return [...this.plugins.values()].map(({ name, kind, description }) => ({ name, kind, description }));
  }

  /** Load every .js/.mjs file of the given folders. */
  async loadDirectories(dirs: readonly string[]): Promise<void> {
    for (const dir of dirs) {
      let files: string[];
      try {
        files = (await readdir(dir)).filter((f) => f.endsWith('.js') || f.endsWith('.mjs')).sort();
      } catch (err) {
        throw new HandyRepError('PLUGIN_LOAD', `plugin folder ${dir} cannot be read`, { cause: err });
      }
      for (const file of files) await this.loadFile(join(dir, file));
    }
  }

  private async loadFile(path: string): Promise<void> {
    let module: { default?: unknown };
    try {
      module = (await import(pathToFileURL(path).href)) as { default?: unknown };
    } catch (err) {
      throw new HandyRepError('PLUGIN_LOAD', `plugin file ${path} failed to load: ${String(err)}`, { cause: err });
    }
    const exported = module.default;
    if (exported === undefined) throw new HandyRepError('PLUGIN_LOAD', `plugin file ${path} has no default export`);
    for (const candidate of Array.isArray(exported) ? exported : [exported]) this.add(candidate, path);
  }

  /**
   * Check that every plugin the configuration names exists and has the right kind, so a typo
   * fails at start rather than in the middle of a failover.
   */
  checkConfigured(config: HandyRepConfig): void {
    const problems: string[] = [];
    const checked = new Set<string>();
    const want = (kind: PluginKind, name: string, key: string): void => {
      try {
        const plugin = this.get(kind, name);
        // A plugin may refuse a configuration it cannot work with (settings, passwords).
        if (!checked.has(name)) problems.push(...pluginConfigProblems(plugin, config));
        checked.add(name);
      } catch (err) {
        problems.push(`${key}: ${(err as Error).message}`);
      }
    };
    // Every setting the schema marks as a plugin name (setting-marks.ts), wherever it is.
    for (const { pattern, mark } of pluginNameSettings()) {
      for (const found of matchPattern(config, pattern)) {
        if (typeof found.value === 'string') want(mark as PluginKind, found.value, found.path.join('.'));
      }
    }
    if (problems.length > 0) throw new HandyRepError('PLUGIN_LOAD', problems.join('\n'));
  }
}

function checkPlugin(candidate: unknown, origin: string): Plugin {
  if (typeof candidate !== 'object' || candidate === null) {
    throw new HandyRepError('PLUGIN_LOAD', `${origin}: a plugin must be an object`);
  }
  const record = candidate as Record<string, unknown>;
  const { name, kind, description } = record;
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new HandyRepError('PLUGIN_LOAD', `${origin}: plugin "name" must be a name of letters, digits, "_", "." or "-"`);
  }
  if (typeof kind !== 'string' || !KINDS.includes(kind as PluginKind)) {
    throw new HandyRepError('PLUGIN_LOAD', `${origin}: plugin ${name} has kind ${String(kind)}; known kinds: ${KINDS.join(', ')}`);
  }
  if (typeof description !== 'string') {
    throw new HandyRepError('PLUGIN_LOAD', `${origin}: plugin ${name} needs a "description" string`);
  }
  const method = REQUIRED_METHOD[kind as PluginKind];
  if (typeof record[method] !== 'function') {
    throw new HandyRepError('PLUGIN_LOAD', `${origin}: ${kind} plugin ${name} must implement ${method}()`);
  }
  if (kind === 'connection') {
    for (const extra of ['init', 'poll']) {
      if (typeof record[extra] !== 'function') throw new HandyRepError('PLUGIN_LOAD', `${origin}: connection plugin ${name} must implement ${extra}()`);
    }
    const roles = record['proxyRoles'];
    if (!Array.isArray(roles) || roles.length === 0 || !roles.every((r) => typeof r === 'string')) {
      throw new HandyRepError('PLUGIN_LOAD', `${origin}: connection plugin ${name} needs "proxyRoles", a list of the server roles it manages`);
    }
  }
  return candidate as Plugin;
}
