/** JSON Schemas (input side) of the properties of a zod object, for converting web strings. */
import { z } from 'zod';
import type { JsonSchema } from '../config/json-schema.js';

/** Property schemas by name, and the names without a default. */
export interface PropertySchemas {
  properties: Record<string, JsonSchema>;
  required: string[];
}

/** Each property's JSON Schema; properties zod cannot express (transforms) become `{}` (any). */
export function propertySchemas(object: z.ZodObject): PropertySchemas {
  const schema = z.toJSONSchema(object, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const properties: Record<string, JsonSchema> = {};
  for (const [name, node] of Object.entries(schema.properties ?? {})) properties[name] = typeof node === 'object' ? node : {};
  return { properties, required: [...(schema.required ?? [])] };
}
