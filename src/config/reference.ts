/**
 * docs/configuration.md, generated from the schema (`npm run gen:config-reference`; CI runs it with
 * `--check`), so the reference can never drift from what HandyRep actually accepts.
 */
import { type JsonSchema, configJsonSchema, withoutNull } from './json-schema.js';
import { type KeyRow, keyTable, rowsOf, typeText } from './reference-table.js';
import { NAME_PATTERN, PATH_PATTERN, SQL_IDENTIFIER_PATTERN } from './validators.js';

/** Renders the whole reference (Markdown, ending with a newline). */
export function renderConfigReference(root: JsonSchema = configJsonSchema()): string {
  const sections = Object.entries(root.properties ?? {}).flatMap(([name, node]) =>
    typeof node === 'object' ? [{ name, node: withoutNull(node) }] : [],
  );
  const parts = [
    intro(),
    valueTypes(),
    '## Sections\n\n' + sections.map((s) => `- [\`${s.name}\`](#${s.name}): ${s.node.description ?? ''}`).join('\n'),
    ...sections.map((s) => renderSection(s.name, s.node, root)),
  ];
  return `${parts.join('\n\n')}\n`;
}

function intro(): string {
  return [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by scripts/gen-config-reference.ts. Do not edit: run `npm run gen:config-reference`. -->',
    '',
    'HandyRep reads one YAML file, `handyrep.yaml` (start from `handyrep.example.yaml`). Rules:',
    '',
    '- Every key is optional unless marked **required**; a missing key takes its default. A section whose keys are all commented out is the same as a missing section.',
    '- Unknown keys are errors. A file with any error is refused whole, and every problem is listed, one per line, as `<key path>: <reason>` (for example `servers.paul.port: expected an integer from 1 to 65535, got "abc"`). Values under `passwords` are never shown.',
    '- Values are YAML 1.2: `true`/`false` are booleans, `yes`/`no`/`on`/`off` are strings. Quote a password that looks like a number.',
    '- Relative paths on the controller (server_file, log_file, templates_dir, plugin_dirs, ssh_known_hosts, ssh_key) are relative to the folder of the configuration file; `~/` is the home folder of the user HandyRep runs as. pgdata, pgconf and pg_bin_dir are paths on the node.',
    '- Intervals and timeouts are in seconds and may have fractions.',
  ].join('\n');
}

function valueTypes(): string {
  return [
    '## Value types',
    '',
    'Names, hostnames, paths and identifiers may end up in command lines and SQL, so they are checked strictly.',
    '',
    '| type | accepted |',
    '| --- | --- |',
    `| a name | 1-63 letters, digits, \`_\`, \`.\` or \`-\`, starting with a letter or digit (\`${NAME_PATTERN.source}\`) |`,
    '| a hostname or IP address | a DNS name (letters, digits and `-` in dot-separated labels) or an IPv4/IPv6 address |',
    `| a path | letters, digits and \`_ . / ~ + @ , = : -\` only: no spaces, quotes, \`%\` or shell characters (\`${PATH_PATTERN.source}\`); no leading \`-\`, no \`..\` components |`,
    `| a lower-case SQL identifier | \`a-z\`, \`0-9\` and \`_\`, not starting with a digit, at most 63 characters (\`${SQL_IDENTIFIER_PATTERN.source}\`) |`,
  ].join('\n');
}

function renderSection(name: string, node: JsonSchema, root: JsonSchema): string {
  const head = `## ${name}\n\n${node.description ?? ''}`.trimEnd();
  const entry = entrySchema(node);
  if (name === 'server_defaults') return `${head}\n\n${serverDefaultsTable(node, root)}`;
  if (name === 'servers' && entry) return `${head}\n\n${serversTable(entry)}`;
  if (entry && entry.properties) {
    return `${head}\n\nEach entry is \`${name}.<name>\`, where \`<name>\` is a name. Its keys:\n\n${keyTable(rowsOf(entry))}`;
  }
  if (entry) return `${head}\n\nEach entry is \`${name}.<name>\`, where \`<name>\` is a name: ${typeText(entry)} whose keys each plugin documents.`;
  const others = typeof node.additionalProperties === 'object' ? `\n\nOther keys are allowed too, each ${typeText(node.additionalProperties)} (for plugins).` : '';
  return `${head}\n\n${keyTable(rowsOf(node))}${others}`;
}

/** The schema of each entry of a mapping keyed by names (servers, plugins, …), if the node is one. */
function entrySchema(node: JsonSchema): JsonSchema | undefined {
  const entry = node.additionalProperties;
  return node.propertyNames && typeof entry === 'object' ? entry : undefined;
}

function serverDefaultsTable(node: JsonSchema, root: JsonSchema): string {
  const servers = root.properties?.['servers'];
  const entry = typeof servers === 'object' ? entrySchema(withoutNull(servers)) : undefined;
  const perServer = new Set(Object.keys(entry?.properties ?? {}));
  const rows = rowsOf(node).map((r) => ({ ...r, extra: [perServer.has(r.key) ? 'yes' : 'no'] }));
  return keyTable(rows, ['per server']);
}

function serversTable(entry: JsonSchema): string {
  const rows: KeyRow[] = rowsOf(entry).map((r) =>
    r.required || Object.hasOwn(r.node, 'default')
      ? r
      : { ...r, defaultText: `\`server_defaults.${r.key}\``, node: { ...r.node, description: r.node.description ?? `Overrides \`server_defaults.${r.key}\` for this server.` } },
  );
  return `Each entry is \`servers.<name>\`, where \`<name>\` is a name (the server's name in HandyRep). Its keys:\n\n${keyTable(rows)}`;
}
