/**
 * Turns zod's validation issues into configuration problems that name the exact key path, say
 * what was expected (read from the schema, e.g. "an integer from 1 to 65535") and show what was
 * found — except for secrets (redact.ts), whose values never appear in any message.
 */
import type { z } from 'zod';
import type { ConfigProblem } from './config-error.js';
import { describeExpected } from './describe-type.js';
import { type JsonSchema, schemaAt } from './json-schema.js';
import { formatKeyPath } from './key-path.js';
import { isSecretPath } from './redact.js';
import { showValue } from './show-value.js';
import { unknownKeyHint } from './unknown-key-hint.js';

/**
 * Message the per-parse error map gives every issue whose schema has no message of its own; such
 * issues get a message generated here instead. It never reaches a user.
 */
export const GENERATED_MESSAGE = '\u0000generated';

type Issue = z.core.$ZodIssue;
type Path = readonly PropertyKey[];

/** One or more problems per issue (an unknown-keys issue names several keys). */
export function problemsFromIssues(issues: readonly Issue[], input: unknown, root: JsonSchema): ConfigProblem[] {
  return issues.flatMap((issue) => problemsFromIssue(issue, input, root));
}

function problemsFromIssue(issue: Issue, input: unknown, root: JsonSchema): ConfigProblem[] {
  const path: Path = issue.path;
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      path: formatKeyPath([...path, key]),
      message: `unknown key${unknownKeyHint(root, path, key)}`,
    }));
  }
  if (issue.code === 'invalid_key') {
    const inner = issue.issues.map((i) => (i.message === GENERATED_MESSAGE ? 'expected a name' : i.message));
    return [{ path: formatKeyPath(path), message: `invalid name: ${inner.join('; ')}` }];
  }
  const found = lookup(input, path);
  if (!found.present) {
    // A rule between keys (store etcd needs endpoints) says why the key is needed.
    const why = issue.code === 'custom' && issue.message !== GENERATED_MESSAGE ? `: ${issue.message}` : '';
    return [{ path: formatKeyPath(path), message: `required key is missing${why}` }];
  }
  const reason =
    issue.message === GENERATED_MESSAGE ? `expected ${describeExpected(schemaAt(root, path))}` : issue.message;
  // A rule about a whole mapping (e.g. two masters) says what is wrong itself; "got a mapping" adds nothing.
  const isMapping = typeof found.value === 'object' && found.value !== null && !Array.isArray(found.value);
  if (isMapping && issue.code !== 'invalid_type') return [{ path: formatKeyPath(path), message: reason }];
  const got = showValue(found.value, isSecret(path));
  return [{ path: formatKeyPath(path), message: `${reason}, got ${got}${yamlHint(reason, found.value)}` }];
}

/** Secrets: every setting the schema marks secret, and any key whose name says it is one. */
function isSecret(path: Path): boolean {
  const last = path[path.length - 1];
  return isSecretPath(path) || (typeof last === 'string' && /pass|secret|token/i.test(last));
}

/** YAML 1.2 reads yes/no/on/off as strings, a classic surprise for people used to YAML 1.1. */
function yamlHint(reason: string, value: unknown): string {
  const yaml11Boolean = typeof value === 'string' && /^(yes|no|on|off|y|n)$/i.test(value);
  return reason.includes('true or false') && yaml11Boolean ? ' (write true or false)' : '';
}

/** The value at `path` in the raw input, and whether the key is there at all. */
function lookup(input: unknown, path: Path): { present: boolean; value: unknown } {
  let value: unknown = input;
  for (const segment of path) {
    if (typeof value !== 'object' || value === null || typeof segment === 'symbol') return { present: false, value: undefined };
    if (!Object.hasOwn(value, segment)) return { present: false, value: undefined };
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return { present: true, value };
}
