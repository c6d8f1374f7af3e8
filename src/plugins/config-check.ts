/**
 * An optional hook of any plugin: the configuration it depends on (passwords, its own settings),
 * checked when the configuration is loaded or reloaded, so a mistake shows at start (an auth
 * plugin that would let the wrong people in, an alert command missing) rather than when the
 * plugin is first needed, and a reload that would bring it in changes nothing.
 */
import type { z } from 'zod';
import type { HandyRepConfig } from '../config/schema.js';

/** A plugin that can say what is wrong with a configuration for it. */
export interface ConfigCheckedPlugin {
  /** Problems as `<key path>: <reason>` lines; empty when the configuration suits the plugin. */
  checkConfig(config: Readonly<HandyRepConfig>): string[];
}

/** The problems a plugin reports for a configuration; none when it has no checkConfig hook. */
export function pluginConfigProblems(plugin: object, config: Readonly<HandyRepConfig>): string[] {
  const hook = (plugin as Partial<ConfigCheckedPlugin>).checkConfig;
  return typeof hook === 'function' ? hook.call(plugin, config) : [];
}

/** A checkConfig for a plugin whose whole configuration is its `plugins.<name>` section. */
export function settingsCheck(pluginName: string, schema: z.ZodType): (config: Readonly<HandyRepConfig>) => string[] {
  return (config) => {
    const parsed = schema.safeParse(config.plugins[pluginName] ?? {});
    return parsed.success ? [] : parsed.error.issues.map((i) => `plugins.${pluginName}${i.path.length ? `.${i.path.join('.')}` : ''}: ${i.message}`);
  };
}
