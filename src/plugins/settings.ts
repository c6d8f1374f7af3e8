/**
 * Typed plugin settings: each plugin declares a zod schema for its `plugins.<name>` section; a bad
 * value is reported with its full key path.
 */
import type { z } from 'zod';
import { HandyRepError } from '../model/errors.js';
import type { PluginContext } from './types.js';

export function pluginSettings<S extends z.ZodType>(ctx: PluginContext, pluginName: string, schema: S): z.output<S> {
  const parsed = schema.safeParse(ctx.settings(pluginName));
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `plugins.${pluginName}.${i.path.join('.')}: ${i.message}`);
  throw new HandyRepError('PLUGIN_LOAD', problems.join('\n'));
}
