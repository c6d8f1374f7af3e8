/**
 * Web values to typed values. Query strings and forms carry only strings; the parameter's own
 * schema (as JSON Schema, from the operations table) says what the string should become. A
 * string that does not convert is passed on unchanged, so the table's validation refuses it and
 * names the parameter: conversion never decides validity.
 */
import type { JsonSchema } from '../config/json-schema.js';
import { serverEntrySchema } from '../config/schema.js';
import { propertySchemas } from './param-schemas.js';

const TRUE_WORDS = new Set(['true', 't', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['false', 'f', 'no', 'off', '0']);
const INTEGER = /^-?[0-9]{1,15}$/;
const DECIMAL = /^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/;

/** true/false/t/f/yes/no/on/off/1/0, any case; undefined for anything else. */
export function parseWebBoolean(text: string): boolean | undefined {
  const word = text.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return undefined;
}

/** A string converted to what `schema` describes; other values (JSON bodies) are already typed. */
export function coerceWebValue(value: unknown, schema: JsonSchema): unknown {
  if (typeof value !== 'string') return value;
  // zod writes a nullable primitive as `type: ["boolean", "null"]`, other unions as anyOf.
  const branches = Array.isArray(schema.type) ? schema.type.map((type) => ({ type })) : (schema.anyOf ?? schema.oneOf);
  if (branches) return coerceUnion(value, branches);
  switch (schema.type) {
    case 'null':
      return value === '' ? null : value;
    case 'boolean':
      return parseWebBoolean(value) ?? value;
    case 'integer':
      return INTEGER.test(value) ? Number(value) : value;
    case 'number':
      return DECIMAL.test(value) ? Number(value) : value;
    case 'object':
    case 'array':
      return parseJsonOf(value, schema.type) ?? value;
    default:
      return value;
  }
}

/** Nullable: an empty string is null. Otherwise the first typed branch that converts; strings last. */
function coerceUnion(value: string, branches: readonly JsonSchema[]): unknown {
  if (value === '' && branches.some((b) => b.type === 'null')) return null;
  const typed = branches.filter((b) => b.type !== 'null' && b.type !== 'string' && b.enum === undefined);
  for (const branch of typed) {
    const converted = coerceWebValue(value, branch);
    if (converted !== value) return converted;
  }
  return value;
}

/** A JSON text of the wanted kind (object or array), or undefined. */
function parseJsonOf(text: string, kind: 'object' | 'array'): unknown {
  const first = text.trimStart()[0];
  if (first !== (kind === 'object' ? '{' : '[')) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    const isArray = Array.isArray(parsed);
    if (kind === 'array' ? isArray : typeof parsed === 'object' && parsed !== null && !isArray) return parsed;
  } catch {
    // Not JSON: left as a string for the schema to refuse.
  }
  return undefined;
}

let serverPropSchemas: Readonly<Record<string, JsonSchema>> | undefined;

/**
 * A server setting given as its own key (`/add_server?servername=x&port=5433`): converted by the
 * setting's schema when it is a known setting, else like the original's map_server_args (all
 * digits → integer, true/false → boolean, anything else a string).
 */
export function coerceServerProp(key: string, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  serverPropSchemas ??= propertySchemas(serverEntrySchema).properties;
  const schema = Object.hasOwn(serverPropSchemas, key) ? serverPropSchemas[key] : undefined;
  if (schema) return coerceWebValue(value, schema);
  if (/^[0-9]{1,15}$/.test(value)) return Number(value);
  if (/^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  return value;
}
