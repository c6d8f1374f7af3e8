/**
 * An optional hook of authentication plugins: the configuration they depend on (passwords, their
 * own settings), checked when the configuration is loaded or reloaded, so a daemon that would
 * let the wrong people in never starts and a reload that would do so changes nothing.
 */
import type { HandyRepConfig } from '../../config/schema.js';

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
