/**
 * Loading handyrep.yaml: YAML → schema validation → a deep-frozen config. A file with any problem
 * is refused whole, with every problem listed; nothing partial is ever returned.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { HandyRepError } from '../model/errors.js';
import { ConfigError } from './config-error.js';
import { deepFreeze } from './deep-freeze.js';
import { GENERATED_MESSAGE, problemsFromIssues } from './issue-problems.js';
import { configJsonSchema } from './json-schema.js';
import { FILE_PATH } from './key-path.js';
import { rawInputProblems } from './raw-checks.js';
import { readYaml } from './read-yaml.js';
import { configSchema, type HandyRepConfig } from './schema.js';
import { kindOf } from './show-value.js';

/** A configuration file as loaded: the config, its absolute path and folder, and its text. */
export interface LoadedConfig {
  config: HandyRepConfig;
  /** Absolute path of the file. */
  path: string;
  /** Folder of the file: relative paths in the config resolve against it. */
  dir: string;
  /** The file's text, for rewriting it with its comments kept. */
  text: string;
}

/**
 * Parses and validates configuration text. `source` names it in messages (usually the path).
 * Throws ConfigError (CONFIG_INVALID) listing every problem. The result is deep-frozen.
 */
export function parseConfig(yamlText: string, source: string): HandyRepConfig {
  const read = readYaml(yamlText);
  if (!read.ok) throw new ConfigError(source, read.problems);
  const raw = read.value;
  if (raw === null || raw === undefined) {
    throw new ConfigError(source, [{ path: FILE_PATH, message: 'the file is empty: expected a mapping of sections (handyrep, failover, servers, …)' }]);
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(source, [{ path: FILE_PATH, message: `expected a mapping of sections at the top level, got ${kindOf(raw)}` }]);
  }
  const input = withoutEmptySections(raw as Record<string, unknown>);
  const rawProblems = rawInputProblems(input);
  const result = configSchema.safeParse(input, { error: () => GENERATED_MESSAGE });
  const schemaProblems = result.success ? [] : problemsFromIssues(result.error.issues, input, configJsonSchema());
  if (!result.success || rawProblems.length > 0) {
    // A key the raw checks refused needs no second, vaguer message from the schema.
    const seen = new Set(rawProblems.map((p) => p.path));
    throw new ConfigError(source, [...rawProblems, ...schemaProblems.filter((p) => !seen.has(p.path))]);
  }
  return deepFreeze(result.data);
}

/**
 * Reads and parses a configuration file. Throws CONFIG_UNREADABLE (naming the path) when it cannot
 * be read, ConfigError when it is invalid.
 */
export function loadConfigFile(path: string): LoadedConfig {
  const absolute = resolve(path);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    throw new HandyRepError('CONFIG_UNREADABLE', `cannot read configuration file ${absolute}: ${readFailure(err)}`, { cause: err });
  }
  return { config: parseConfig(text, absolute), path: absolute, dir: dirname(absolute), text };
}

/**
 * A section whose keys are all commented out reads as null; treat it as absent (all defaults)
 * rather than as an error, since that is what the person editing the file meant.
 */
function withoutEmptySections(raw: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== null));
}

function readFailure(err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return err instanceof Error ? err.message : String(err);
}
