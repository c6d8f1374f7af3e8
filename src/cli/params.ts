/**
 * From an operation's parameter schema (the operations table) to command-line flags, and from
 * what the user typed back to named parameters. Pure: no commander, no I/O, so every rule is unit
 * tested.
 *
 * Rules, per parameter (by its JSON Schema, input side):
 * - boolean (nullable too): `--verify` / `--no-verify`; neither = the function's default;
 * - enum: `--check-type <value>`, one of the listed values;
 * - integer / number: `--numlines <n>`, digits only (a number may have a fraction);
 * - name, path or other string: `--servername <value>` (an empty value means null when nullable);
 * - record (serverprops, serverdict): `--set key=value` (repeated; values converted by the server
 *   setting's own schema) and/or `--serverprops '{"port": 5433}'` (a JSON object);
 * - a string-or-list parameter (get_setting's setting_name): one value is the string, several the list.
 * Leading required parameters (no default, not records) are also positional: `handyrep poll paul`.
 * Every value is finally validated by the table's own zod schema, so the CLI refuses exactly what
 * the library and the daemon refuse, naming the flag.
 */
import type { OperationSpec } from '../api/operations.js';
import type { JsonSchema } from '../config/json-schema.js';
import { coerceServerProp } from '../daemon/coerce.js';
import { propertySchemas } from '../daemon/param-schemas.js';
import { usageError } from './cli-error.js';

export type ParamKind = 'boolean' | 'enum' | 'integer' | 'number' | 'string' | 'record' | 'list';

/** One parameter as the command line sees it. */
export interface ParamFlag {
  /** The library parameter name (`check_type`). */
  readonly param: string;
  /** The flag without dashes (`check-type`). */
  readonly flag: string;
  readonly kind: ParamKind;
  readonly nullable: boolean;
  /** No default: the call needs it. */
  readonly required: boolean;
  /** Also taken as a positional argument, in this order. */
  readonly positional: boolean;
  /** Enum values. */
  readonly choices: readonly string[] | null;
  readonly description: string;
  /** The default as the table says (undefined when required). */
  readonly defaultValue: unknown;
}

/** Flag names the CLI itself uses on every command; a parameter of that name gets `--param-<name>`. */
export const RESERVED_FLAGS: ReadonlySet<string> = new Set([
  'url', 'user', 'password', 'client-config', 'local', 'config', 'json', 'timeout', 'help', 'version', 'set',
]);

function kebab(name: string): string {
  return name.replace(/_/g, '-');
}

function branchesOf(node: JsonSchema): JsonSchema[] {
  if (Array.isArray(node.type)) return node.type.map((type) => ({ type }) as JsonSchema);
  return node.anyOf ?? node.oneOf ?? [node];
}

function kindOf(node: JsonSchema): { kind: ParamKind; nullable: boolean; choices: string[] | null } {
  const branches = branchesOf(node);
  const nullable = branches.some((b) => b.type === 'null');
  const typed = branches.filter((b) => b.type !== 'null');
  const types = new Set(typed.map((b) => b.type));
  const first = typed[0];
  if (types.has('array') && types.size > 1) return { kind: 'list', nullable, choices: null };
  if (types.size !== 1 || first === undefined) return { kind: 'string', nullable, choices: null };
  if (Array.isArray(first.enum)) return { kind: 'enum', nullable, choices: first.enum.map(String) };
  switch (first.type) {
    case 'boolean':
      return { kind: 'boolean', nullable, choices: null };
    case 'integer':
      return { kind: 'integer', nullable, choices: null };
    case 'number':
      return { kind: 'number', nullable, choices: null };
    case 'object':
      return { kind: 'record', nullable, choices: null };
    case 'array':
      return { kind: 'list', nullable, choices: null };
    default:
      return { kind: 'string', nullable, choices: null };
  }
}

const described = new Map<OperationSpec, ParamFlag[]>();

/** The flags of an operation, in the library's positional order. */
export function describeParams(spec: OperationSpec): ParamFlag[] {
  const known = described.get(spec);
  if (known) return known;
  const { properties } = propertySchemas(spec.params);
  let leading = true;
  const flags = spec.positional.map((param): ParamFlag => {
    const node = properties[param] ?? {};
    const { kind, nullable, choices } = kindOf(node);
    const required = !Object.hasOwn(node, 'default');
    const positional = leading && required && kind !== 'record';
    // A list takes every remaining argument, so nothing positional can follow it.
    if (!positional || kind === 'list') leading = false;
    const flag = RESERVED_FLAGS.has(kebab(param)) ? `param-${kebab(param)}` : kebab(param);
    const description = typeof node.description === 'string' ? node.description : branchesOf(node).find((b) => typeof b.description === 'string')?.description ?? '';
    return { param, flag, kind, nullable, required, positional, choices, description, defaultValue: node.default };
  });
  described.set(spec, flags);
  return flags;
}

/** The one record parameter that `--set key=value` fills, or null when there is none (or several). */
export function recordFlag(spec: OperationSpec): ParamFlag | null {
  const records = describeParams(spec).filter((f) => f.kind === 'record');
  return records.length === 1 ? (records[0] as ParamFlag) : null;
}

/** `--numlines 20`: digits only. */
export function parseInteger(text: string): number | null {
  return /^-?[0-9]{1,15}$/.test(text.trim()) ? Number(text.trim()) : null;
}

/** `--lag 0.5`. */
export function parseNumber(text: string): number | null {
  return /^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/.test(text.trim()) ? Number(text.trim()) : null;
}

/** A JSON object given on the command line (`--serverprops '{...}'`). */
export function parseJsonObject(flag: string, text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw usageError(`--${flag}: not valid JSON (${(err as Error).message}): ${text}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw usageError(`--${flag}: expected a JSON object such as '{"hostname": "10.0.0.4", "port": 5433}', got: ${text}`);
  }
  return parsed as Record<string, unknown>;
}

/** `--set key=value` items to settings; values converted like the web API's extra keys. */
export function parseSetItems(items: readonly string[]): Record<string, unknown> {
  const settings = new Map<string, unknown>();
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw usageError(`--set "${item}": expected key=value, e.g. --set hostname=10.0.0.4 --set port=5433`);
    const key = item.slice(0, eq).trim();
    if (settings.has(key)) throw usageError(`--set: setting "${key}" is given twice`);
    settings.set(key, coerceServerProp(key, item.slice(eq + 1)));
  }
  return Object.fromEntries(settings);
}

/** What the user typed for one command, before conversion. */
export interface TypedArgs {
  /** Positional arguments in order (a list parameter's values are the tail). */
  positionals: readonly string[];
  /** Flag values by parameter name: strings, booleans (or string arrays for a list). */
  flags: Readonly<Record<string, unknown>>;
  /** `--set key=value` items. */
  set: readonly string[];
}

/** How a parameter is shown in messages: `<servername>` or `--check-type`. */
export function shownParam(flag: ParamFlag, viaPositional: boolean): string {
  return viaPositional ? `<${flag.param}>` : `--${flag.flag}`;
}

/**
 * Named parameters from what was typed (only those given, so the function's defaults apply), then
 * checked by the operation's own schema. Throws a usage error naming the flag.
 */
export function collectParams(spec: OperationSpec, typed: TypedArgs, command = spec.name, flags: readonly ParamFlag[] = describeParams(spec)): Record<string, unknown> {
  const named: Record<string, unknown> = {};
  const viaPositional = new Set<string>();
  const positionals = [...typed.positionals];
  for (const flag of flags.filter((f) => f.positional)) {
    const fromFlag = typed.flags[flag.param];
    let value: unknown;
    if (flag.kind === 'list') {
      const rest = positionals.splice(0);
      value = rest.length === 0 ? undefined : rest.length === 1 ? rest[0] : rest;
    } else {
      value = positionals.shift();
    }
    if (value !== undefined) viaPositional.add(flag.param);
    if (value !== undefined && fromFlag !== undefined && JSON.stringify(value) !== JSON.stringify(fromFlag)) {
      throw usageError(`${command}: ${flag.param} given twice, as <${flag.param}> "${String(value)}" and as --${flag.flag} "${String(fromFlag)}"`);
    }
    if (value !== undefined) named[flag.param] = value;
  }
  if (positionals.length > 0) throw usageError(`${command}: unexpected argument "${positionals[0]}"`);
  for (const flag of flags) {
    const raw = typed.flags[flag.param];
    if (raw === undefined || Object.hasOwn(named, flag.param)) continue;
    named[flag.param] = convertFlag(flag, raw);
  }
  const records = flags.filter((f) => f.kind === 'record');
  const record = records.length === 1 ? records[0] : undefined;
  if (typed.set.length > 0) {
    if (!record) throw usageError(`${command}: --set is only for functions that take server settings`);
    const items = parseSetItems(typed.set);
    const whole = named[record.param];
    if (whole !== undefined && whole !== null) {
      for (const key of Object.keys(items)) {
        if (Object.hasOwn(whole as object, key)) throw usageError(`${command}: setting "${key}" is given both in --${record.flag} and with --set`);
      }
    }
    named[record.param] = { ...((whole as object | null | undefined) ?? {}), ...items };
  }
  for (const flag of flags) {
    if (flag.required && !Object.hasOwn(named, flag.param)) {
      const how = flag.kind === 'record'
        ? `--set key=value (repeated) or --${flag.flag} '{...}'`
        : flag.positional ? `<${flag.param}> or --${flag.flag}` : `--${flag.flag}`;
      throw usageError(`${command}: missing ${flag.param}: give ${how}`);
    }
  }
  const parsed = spec.params.safeParse(named);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const param = String(issue.path[0] ?? '');
      const flag = flags.find((f) => f.param === param);
      if (!flag) return `${issue.path.join('.') || '(parameters)'}: ${issue.message}`;
      const rest = issue.path.slice(1).join('.');
      const given = named[param];
      const shownValue = typeof given === 'string' ? ` (got "${given}")` : typeof given === 'number' ? ` (got ${given})` : '';
      return `${shownParam(flag, viaPositional.has(param))}${rest ? ` ${rest}` : ''}: ${issue.message}${shownValue}`;
    });
    throw usageError(`${command}: ${problems.join('; ')}`);
  }
  return named;
}

function convertFlag(flag: ParamFlag, raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  if (raw === '' && flag.nullable) return null;
  switch (flag.kind) {
    case 'integer': {
      const n = parseInteger(raw);
      if (n === null) throw usageError(`--${flag.flag}: "${raw}" is not an integer`);
      return n;
    }
    case 'number': {
      const n = parseNumber(raw);
      if (n === null) throw usageError(`--${flag.flag}: "${raw}" is not a number`);
      return n;
    }
    case 'record':
      return parseJsonObject(flag.flag, raw);
    case 'list':
      return raw.includes(',') ? raw.split(',').map((s) => s.trim()) : raw;
    case 'enum':
      if (flag.choices && !flag.choices.includes(raw)) throw usageError(`--${flag.flag}: "${raw}" is not one of ${flag.choices.join(', ')}`);
      return raw;
    default:
      return raw;
  }
}
