/**
 * Hints for unknown keys: a near-miss of a key at the same level ("did you mean …"), or a key
 * that exists, exactly or nearly, in another section ("did you mean failover.poll_interval?").
 */
import { type JsonSchema, schemaAt, withoutNull } from './json-schema.js';
import { formatKeyPath } from './key-path.js';

const MAX_TYPO_DISTANCE = 2;

/** `' (did you mean "poll_interval"?)'`, `' (did you mean failover.poll_interval?)'`, or `''`. */
export function unknownKeyHint(root: JsonSchema, parentPath: readonly PropertyKey[], key: string): string {
  const parent = schemaAt(root, parentPath);
  const siblings = parent ? Object.keys(withoutNull(parent).properties ?? {}) : [];
  const near = closest(key, siblings);
  if (near !== undefined) return ` (did you mean "${near}"?)`;
  const others = keysElsewhere(root);
  const elsewhere = closest(key, [...others.keys()]);
  const where = elsewhere === undefined ? undefined : others.get(elsewhere);
  return elsewhere !== undefined && where !== undefined ? ` (did you mean ${where}.${elsewhere}?)` : '';
}

/** Every key of every section, and of the entries of `servers`-like mappings, with where it lives. */
function keysElsewhere(root: JsonSchema): Map<string, string> {
  const found = new Map<string, string>();
  for (const [section, node] of Object.entries(root.properties ?? {})) {
    if (typeof node !== 'object') continue;
    const plain = withoutNull(node);
    for (const key of Object.keys(plain.properties ?? {})) if (!found.has(key)) found.set(key, section);
    const entry = plain.additionalProperties;
    if (typeof entry !== 'object') continue;
    const where = `${formatKeyPath([section])}.<name>`;
    for (const key of Object.keys(entry.properties ?? {})) if (!found.has(key)) found.set(key, where);
  }
  return found;
}

function closest(key: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const distance = editDistance(key, name);
    if (distance <= MAX_TYPO_DISTANCE && distance < key.length / 2 && (!best || distance < best.distance)) {
      best = { name, distance };
    }
  }
  return best?.name;
}

/** Levenshtein distance (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
