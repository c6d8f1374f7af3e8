/**
 * Generates docs/api.md (from the operations table) and docs/errors.md (from the error codes), and
 * the generated sections of docs/rest-api.md (the functions) and docs/cli.md (the commands), which
 * sit between `<!-- BEGIN generated:<name> -->` and `<!-- END generated:<name> -->` in hand-written
 * pages. With --check, exits 1 when a committed file differs, so the docs cannot drift from the code.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { OPERATIONS } from '../src/api/operations.js';
import { describeParams, shownParam } from '../src/cli/params.js';
import { ERROR_CODES } from '../src/model/errors.js';

const HEADER = (source: string): string =>
  `<!-- Generated from ${source} by scripts/gen-api-docs.ts. Do not edit: run \`npm run gen:api-docs\`. -->\n`;

interface ParamDoc {
  type?: string;
  enum?: unknown[];
  default?: unknown;
  description?: string;
  anyOf?: ParamDoc[];
}

function typeOf(p: ParamDoc): string {
  if (p.enum) return p.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (p.anyOf) return p.anyOf.map(typeOf).filter((t) => t !== 'null').join(' or ');
  return p.type ?? 'any';
}

function renderApi(): string {
  const lines = [
    '# API functions',
    '',
    HEADER('src/api/operations.ts'),
    'Every function is a method of the `HandyRep` class with its parameters in this order. `web` says whether the REST API exposes it; `access` is the password level it needs there (`read` or `admin`).',
    '',
  ];
  for (const op of OPERATIONS) {
    const schema = z.toJSONSchema(op.params, { io: 'input' }) as { properties?: Record<string, ParamDoc>; required?: string[] };
    lines.push(`## ${op.name}`, '', op.summary, '', `access: ${op.access}; web: ${op.web ? 'yes' : 'no (library only)'}`, '');
    const props = Object.entries(schema.properties ?? {});
    if (props.length === 0) {
      lines.push('No parameters.', '');
      continue;
    }
    lines.push('| parameter | type | default | description |', '| --- | --- | --- | --- |');
    for (const [name, p] of props) {
      const required = (schema.required ?? []).includes(name) && p.default === undefined;
      const def = required ? '**required**' : `\`${JSON.stringify(p.default ?? null)}\``;
      lines.push(`| \`${name}\` | ${typeOf(p)} | ${def} | ${p.description ?? ''} |`);
    }
    lines.push('');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

function renderErrors(): string {
  const lines = ['# Error codes', '', HEADER('src/model/errors.ts'), '| code | meaning |', '| --- | --- |'];
  for (const [code, meaning] of Object.entries(ERROR_CODES)) lines.push(`| \`${code}\` | ${meaning} |`);
  return `${lines.join('\n')}\n`;
}

const cell = (text: string): string => text.replace(/\|/g, '\\|');

/** The REST functions: one row per operation the web API exposes. */
function renderRestFunctions(): string {
  const lines = ['| function | access | what it does |', '| --- | --- | --- |'];
  for (const op of OPERATIONS.filter((o) => o.web)) lines.push(`| [\`${op.name}\`](api.md#${op.name}) | ${op.access} | ${cell(op.summary)} |`);
  return lines.join('\n');
}

/** Every command generated from the table: its positional arguments and flags. */
function renderCliCommands(): string {
  const lines = ['| command | arguments and flags | access | what it does |', '| --- | --- | --- | --- |'];
  for (const op of OPERATIONS) {
    const flags = describeParams(op);
    const shown = flags.map((f) => (f.positional ? shownParam(f, true) : `[${shownParam(f, false)}${f.kind === 'boolean' ? '' : ` <${f.kind}>`}]`));
    lines.push(`| \`handyrep ${op.name}\` | ${cell(shown.join(' '))} | ${op.web ? op.access : 'library (--local)'} | ${cell(op.summary)} |`);
  }
  return lines.join('\n');
}

/** `page` with the text between the markers of section `name` replaced by `body`. */
function withSection(page: string, name: string, path: string, body: string): string {
  const begin = `<!-- BEGIN generated:${name} (scripts/gen-api-docs.ts; do not edit by hand) -->`;
  const end = `<!-- END generated:${name} -->`;
  const from = page.indexOf(begin);
  const to = page.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${path}: the markers of the generated section ${name} are missing:\n${begin}\n${end}`);
  return `${page.slice(0, from + begin.length)}\n${body}\n${page.slice(to)}`;
}

const embedded = (path: string, name: string, body: string): [string, string] => [path, withSection(readFileSync(path, 'utf8'), name, path, body)];

const files: [string, string][] = [
  ['docs/api.md', renderApi()],
  ['docs/errors.md', renderErrors()],
  embedded('docs/rest-api.md', 'functions', renderRestFunctions()),
  embedded('docs/cli.md', 'commands', renderCliCommands()),
];
const check = process.argv.includes('--check');
let stale = false;
for (const [path, content] of files) {
  if (check) {
    let current = '';
    try {
      current = readFileSync(path, 'utf8');
    } catch {
      // missing counts as out of date
    }
    if (current !== content) {
      console.error(`${path} is out of date: run npm run gen:api-docs`);
      stale = true;
    }
  } else {
    writeFileSync(path, content);
    console.log(`wrote ${path}`);
  }
}
if (stale) process.exit(1);
