/**
 * The configuration schema as JSON Schema (zod's own conversion). Error messages and the generated
 * reference both read types, bounds, defaults and descriptions from it, so they cannot disagree.
 */
import { z } from 'zod';
import { deepFreeze } from './deep-freeze.js';
import { configSchema } from './schema.js';

/** A JSON Schema node as zod emits it. */
export type JsonSchema = z.core.JSONSchema.JSONSchema;

let cached: JsonSchema | undefined;

/** JSON Schema of handyrep.yaml, input side (keys with defaults are optional). Computed once, frozen. */
export function configJsonSchema(): JsonSchema {
  cached ??= deepFreeze(z.toJSONSchema(configSchema, { io: 'input' }) as JsonSchema);
  return cached;
}

/** The node that describes the value at `path` (mapping keys, record entries, list items), if any. */
export function schemaAt(root: JsonSchema, path: readonly PropertyKey[]): JsonSchema | undefined {
  let node: JsonSchema | undefined = root;
  for (const segment of path) {
    if (node === undefined) return undefined;
    node = childSchema(withoutNull(node), segment);
  }
  return node;
}

/** The non-null branch of a nullable node (`anyOf: [X, {type: null}]`), else the node itself. */
export function withoutNull(node: JsonSchema): JsonSchema {
  const branches = node.anyOf?.filter((b) => b.type !== 'null') ?? [];
  return branches.length === 1 && branches[0] !== undefined ? branches[0] : node;
}

/** Whether `null` is accepted. */
export function acceptsNull(node: JsonSchema): boolean {
  return node.type === 'null' || (node.anyOf?.some((b) => b.type === 'null') ?? false);
}

function childSchema(node: JsonSchema, segment: PropertyKey): JsonSchema | undefined {
  if (typeof segment === 'number') return asSchema(node.items);
  if (typeof segment !== 'string') return undefined;
  const own = node.properties && Object.hasOwn(node.properties, segment) ? node.properties[segment] : undefined;
  return asSchema(own) ?? asSchema(node.additionalProperties);
}

/** Boolean schemas (`true`/`false`) and tuple forms carry nothing to describe. */
function asSchema(value: JsonSchema['items']): JsonSchema | undefined {
  return typeof value === 'object' && !Array.isArray(value) ? value : undefined;
}
