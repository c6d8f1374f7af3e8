/**
 * Plain-English phrases for what a JSON Schema node accepts: "an integer from 1 to 65535",
 * "a path", "one of "ssh", "local"". Used for "expected …" in error messages and for the type
 * column of docs/configuration.md.
 */
import { type JsonSchema } from './json-schema.js';
import { VALUE_KIND_KEY } from './validators.js';

/** Noun phrases of the string kinds marked by the validators, singular and plural. */
const KIND_NOUNS: Readonly<Record<string, readonly [string, string]>> = {
  name: ['a name', 'names'],
  hostname: ['a hostname or IP address', 'hostnames or IP addresses'],
  path: ['a path', 'paths'],
  'sql-identifier': ['a lower-case SQL identifier', 'lower-case SQL identifiers'],
  url: ['an http(s)://host:port URL', 'http(s)://host:port URLs'],
  'etcd-prefix': ['an etcd key prefix', 'etcd key prefixes'],
};

/** Bounds above this are "no bound" (zod's int() puts the safe-integer limit there). */
const NO_BOUND = Number.MAX_SAFE_INTEGER;

/** What a value must be, with an article: "an integer from 1 to 65535", "a path or null". */
export function describeExpected(node: JsonSchema | undefined): string {
  if (node === undefined) return 'a valid value';
  if (node.anyOf) return node.anyOf.map((branch) => describeExpected(branch)).join(' or ');
  if (node.enum) return `one of ${node.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  const kind = kindNouns(node);
  if (kind) return kind[0];
  switch (node.type) {
    case 'null':
      return 'null';
    case 'boolean':
      return 'true or false';
    case 'integer':
      return `an integer${describeBounds(node)}`;
    case 'number':
      return `a number${describeBounds(node)}`;
    case 'string':
      return (node.minLength ?? 0) > 0 ? 'a non-empty string' : 'a string';
    case 'array':
      return `a ${(node.minItems ?? 0) > 0 ? 'non-empty ' : ''}list of ${describePlural(node.items)}`;
    case 'object':
      return 'a mapping';
    default:
      return 'any value';
  }
}

function kindNouns(node: JsonSchema): readonly [string, string] | undefined {
  const kind = node[VALUE_KIND_KEY];
  return typeof kind === 'string' ? KIND_NOUNS[kind] : undefined;
}

function describePlural(items: JsonSchema['items']): string {
  if (typeof items !== 'object' || Array.isArray(items)) return 'values';
  const kind = kindNouns(items);
  if (kind) return kind[1];
  if (items.type === 'string' && !items.enum) return 'strings';
  return `values, each ${describeExpected(items)}`;
}

function describeBounds(node: JsonSchema): string {
  const min = node.minimum;
  const max = node.maximum !== undefined && node.maximum < NO_BOUND ? node.maximum : undefined;
  const above = typeof node.exclusiveMinimum === 'number' ? node.exclusiveMinimum : undefined;
  const below = typeof node.exclusiveMaximum === 'number' ? node.exclusiveMaximum : undefined;
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
  const parts: string[] = [];
  if (min !== undefined) parts.push(`of at least ${min}`);
  if (above !== undefined) parts.push(`greater than ${above}`);
  if (max !== undefined) parts.push(`of at most ${max}`);
  if (below !== undefined) parts.push(`less than ${below}`);
  return parts.length === 0 ? '' : ` ${parts.join(' and ')}`;
}
