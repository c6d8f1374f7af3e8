/**
 * The error a refused configuration file raises. Its message lists every problem, one per line,
 * as `<key path>: <reason>`; `problems` carries the same list for the API (reload_conf) and tests.
 */
import { HandyRepError } from '../model/errors.js';

/** One thing wrong with a configuration file. */
export interface ConfigProblem {
  /** Key path (`servers.paul.port`), `line L, column C` for YAML syntax errors, or `(file)`. */
  readonly path: string;
  /** Why it is wrong, with the offending value when it is not a secret. */
  readonly message: string;
}

/** CONFIG_INVALID with the full list of problems; the whole file was refused. */
export class ConfigError extends HandyRepError {
  readonly problems: readonly ConfigProblem[];

  constructor(source: string, problems: readonly ConfigProblem[]) {
    super('CONFIG_INVALID', formatConfigProblems(source, problems));
    this.problems = Object.freeze([...problems]);
  }
}

/** The message of a ConfigError: a summary line, then one `<path>: <reason>` line per problem. */
export function formatConfigProblems(source: string, problems: readonly ConfigProblem[]): string {
  const count = `${problems.length} problem${problems.length === 1 ? '' : 's'}`;
  return [`invalid configuration ${source} (${count}):`, ...problems.map((p) => `${p.path}: ${p.message}`)].join('\n');
}
