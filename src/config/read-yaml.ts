/**
 * YAML text to plain data, with every syntax error and warning reported by line and column. Only
 * the first line of the parser's message is kept: the rest quotes the source, which may hold a
 * password.
 */
import { parseDocument, type YAMLError } from 'yaml';
import type { ConfigProblem } from './config-error.js';
import { FILE_PATH } from './key-path.js';

/** Parsed data, or why the text is not (valid, unambiguous) YAML. */
export type YamlReadResult = { ok: true; value: unknown } | { ok: false; problems: ConfigProblem[] };

/** Anchors and aliases are allowed, but not enough of them to blow up memory ("billion laughs"). */
const MAX_ALIAS_COUNT = 100;

/** Parses one YAML document. Duplicate keys, unresolved tags and several documents are refused. */
export function readYaml(text: string): YamlReadResult {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  // Warnings (e.g. an unknown tag, read as a plain string) are refused too: the file must mean
  // exactly what it says.
  const faults = [...doc.errors, ...doc.warnings];
  if (faults.length > 0) return { ok: false, problems: faults.map(problemFromYamlError) };
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) };
  } catch (err) {
    // toJS throws for unresolved aliases and alias bombs.
    return { ok: false, problems: [{ path: FILE_PATH, message: firstLine(err instanceof Error ? err.message : String(err)) }] };
  }
}

function problemFromYamlError(error: YAMLError): ConfigProblem {
  const start = error.linePos?.[0];
  const path = start ? `line ${start.line}, column ${start.col}` : FILE_PATH;
  return { path, message: `YAML syntax: ${firstLine(error.message).replace(/ at line \d+, column \d+:?$/, '')}` };
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
