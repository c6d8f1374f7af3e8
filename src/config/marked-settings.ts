/**
 * Reads the security marks of setting-marks.ts back out of the configuration's JSON Schema: which
 * key paths are configuration-file-only, secret, or plugin names. Paths are patterns in which `*`
 * stands for any entry of a mapping (`servers.*.restart_method`).
 */
import { configJsonSchema, type JsonSchema, withoutNull } from './json-schema.js';
import { CONFIG_ONLY_KEY, PLUGIN_KIND_KEY, SECRET_KEY, type SecretMark } from './setting-marks.js';

export type PathPattern = readonly string[];

export interface Marked<V> {
  pattern: PathPattern;
  mark: V;
}

/** The mark `key` of a node or of its non-null branch. */
function markOf(node: JsonSchema, key: string): unknown {
  const own = (node as Record<string, unknown>)[key];
  return own !== undefined ? own : (withoutNull(node) as Record<string, unknown>)[key];
}

/** Every key path of the schema whose node carries `key`; a marked node's children are not visited. */
function collect<V>(key: string, root: JsonSchema = configJsonSchema()): Marked<V>[] {
  const found: Marked<V>[] = [];
  const walk = (node: JsonSchema, path: string[]): void => {
    const mark = markOf(node, key);
    if (mark !== undefined) {
      found.push({ pattern: path, mark: mark as V });
      return;
    }
    const plain = withoutNull(node);
    for (const [name, child] of Object.entries(plain.properties ?? {})) if (typeof child === 'object') walk(child, [...path, name]);
    if (typeof plain.additionalProperties === 'object') walk(plain.additionalProperties, [...path, '*']);
  };
  walk(root, []);
  return found;
}

const cache = new Map<string, Marked<unknown>[]>();
function marked<V>(key: string): readonly Marked<V>[] {
  let list = cache.get(key);
  if (!list) {
    list = collect<unknown>(key);
    cache.set(key, list);
  }
  return list as Marked<V>[];
}

/** Settings holding secrets, and how each is hidden. */
export function secretSettings(): readonly Marked<SecretMark>[] {
  return marked<SecretMark>(SECRET_KEY);
}

/** Settings naming a plugin, with the plugin kind each expects. */
export function pluginNameSettings(): readonly Marked<string>[] {
  return marked<string>(PLUGIN_KIND_KEY);
}

/** Settings that come from the configuration file only. */
export function configOnlySettings(): readonly Marked<true>[] {
  return marked<true>(CONFIG_ONLY_KEY);
}

/** Names of the per-server settings the web API refuses (configuration file only). */
export function configOnlyServerSettings(): ReadonlySet<string> {
  return new Set(configOnlySettings().flatMap(({ pattern }) => (pattern.length === 2 && pattern[0] === 'server_defaults' ? [pattern[1] as string] : [])));
}

/** Whether a concrete path equals a pattern or lies under it. */
export function underPattern(path: readonly PropertyKey[], pattern: PathPattern): boolean {
  if (path.length < pattern.length) return false;
  return pattern.every((segment, i) => segment === '*' || segment === String(path[i]));
}

/** Every concrete path of `value` matching `pattern`, with the value there (own keys only). */
export function matchPattern(value: unknown, pattern: PathPattern, prefix: readonly string[] = []): { path: string[]; value: unknown }[] {
  if (pattern.length === 0) return [{ path: [...prefix], value }];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  const [head, ...rest] = pattern as [string, ...string[]];
  const record = value as Record<string, unknown>;
  const keys = head === '*' ? Object.keys(record) : Object.hasOwn(record, head) ? [head] : [];
  return keys.flatMap((k) => matchPattern(record[k], rest, [...prefix, k]));
}
