/**
 * Markdown pieces of the configuration reference: one table row per key, read from the JSON
 * Schema node of that key (type phrase, default, description).
 */
import { describeExpected } from './describe-type.js';
import { type JsonSchema, withoutNull } from './json-schema.js';
import { CONFIG_ONLY_KEY, PLUGIN_KIND_KEY, SECRET_KEY } from './setting-marks.js';

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
    lines.push(row([`\`${r.key}\``, typeText(r.node), defaultText, ...(r.extra ?? []), descriptionText(r.node)]));
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

/** The description, followed by what the security marks of the setting mean for the reader. */
function descriptionText(node: JsonSchema): string {
  const mark = (key: string): unknown => (node as Record<string, unknown>)[key] ?? (withoutNull(node) as Record<string, unknown>)[key];
  const notes: string[] = [];
  if (mark(CONFIG_ONLY_KEY) === true || mark(PLUGIN_KIND_KEY) !== undefined) notes.push('**Configuration file only** (the web API refuses it).');
  const kind = mark(PLUGIN_KIND_KEY);
  if (typeof kind === 'string') notes.push(`Names a plugin of kind \`${kind}\`.`);
  const secret = mark(SECRET_KEY);
  if (secret === 'value' || secret === 'url') notes.push('**Secret**: redacted wherever it leaves HandyRep.');
  if (secret === 'by-name') notes.push('**Secrets by name**: keys named like pass, token, secret, key, auth, header, env, credential are redacted, URLs keep only scheme and host.');
  return [node.description ?? '', ...notes].filter(Boolean).join(' ');
}

function row(cells: readonly string[]): string {
  // A pipe inside a cell would end it.
  return `| ${cells.map((c) => c.replaceAll('|', '\\|').replaceAll('\n', ' ')).join(' | ')} |`;
}
