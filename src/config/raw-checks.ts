/**
 * Checks on the parsed YAML before schema validation, for what the schema cannot see: `__proto__`
 * keys (which JavaScript objects and zod records silently drop) and YAML aliases that contain
 * themselves (a value that has no end).
 */
import type { ConfigProblem } from './config-error.js';
import { formatKeyPath } from './key-path.js';

/** Problems of the raw data; empty when it is plain, finite data. */
export function rawInputProblems(raw: unknown): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  walk(raw, [], new Set(), problems);
  return problems;
}

function walk(value: unknown, path: PropertyKey[], ancestors: Set<object>, problems: ConfigProblem[]): void {
  if (typeof value !== 'object' || value === null) return;
  if (ancestors.has(value)) {
    problems.push({ path: formatKeyPath(path), message: 'a YAML alias here refers to a node that contains it' });
    return;
  }
  ancestors.add(value);
  const entries: [PropertyKey, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  for (const [key, child] of entries) {
    if (key === '__proto__') problems.push({ path: formatKeyPath([...path, key]), message: 'reserved key: "__proto__" cannot be used' });
    walk(child, [...path, key], ancestors, problems);
  }
  ancestors.delete(value);
}
