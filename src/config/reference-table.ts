/**
 * Markdown pieces of the configuration reference: one table row per key, read from the JSON
 * Schema node of that key (type phrase, default, description).
 */
import { describeExpected } from './describe-type.js';
import { type JsonSchema, withoutNull } from './json-schema.js';

/** One row of a key table. `extra` cells go between the default and the description. */
export interface KeyRow {
  key: string;
  node: JsonSchema;
  required: boolean;
  /** Shown instead of the node's own default (e.g. "from server_defaults"). */
  defaultText?: string;
  extra?: readonly string[];
}

/** A Markdown table of keys: key, type, default, [extra columns], description. */
export function keyTable(rows: readonly KeyRow[], extraHeaders: readonly string[] = []): string {
  const header = ['key', 'type', 'default', ...extraHeaders, 'description'];
  const lines = [row(header), row(header.map(() => '---'))];
  for (const r of rows) {
    const defaultText = r.defaultText ?? (r.required ? '**required**' : formatDefault(r.node));
    lines.push(row([`\`${r.key}\``, typeText(r.node), defaultText, ...(r.extra ?? []), r.node.description ?? '']));
  }
  return lines.join('\n');
}

/** Rows for every key of an object node, in schema order. */
export function rowsOf(node: JsonSchema): KeyRow[] {
  const plain = withoutNull(node);
  const required = new Set(plain.required ?? []);
  return Object.entries(plain.properties ?? {}).flatMap(([key, child]) =>
    typeof child === 'object' ? [{ key, node: child, required: required.has(key) }] : [],
  );
}

/** Type column: enum values as code, everything else as the phrase error messages use. */
export function typeText(node: JsonSchema): string {
  const values = withoutNull(node).enum;
  if (values) {
    const listed = values.map((v) => `\`${String(v)}\``).join(', ');
    return node.anyOf ? `one of ${listed}, or null` : `one of ${listed}`;
  }
  return describeExpected(node);
}

/** Default column: the YAML value to write, as code; "—" when there is none. */
export function formatDefault(node: JsonSchema): string {
  if (!Object.hasOwn(node, 'default')) return '—';
  const value = node.default;
  if (typeof value === 'string') return value === '' ? '`""`' : `\`${value}\``;
  return `\`${JSON.stringify(value)}\``;
}

function row(cells: readonly string[]): string {
  // A pipe inside a cell would end it.
  return `| ${cells.map((c) => c.replaceAll('|', '\\|').replaceAll('\n', ' ')).join(' | ')} |`;
}
