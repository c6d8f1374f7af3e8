/**
 * Key paths as configuration messages show them: `servers.paul.port`, `handyrep.plugin_dirs[0]`.
 * Keys that are not plain identifiers are quoted (`servers["john; rm -rf /"]`) so that a key with
 * spaces, dots or line breaks can neither be misread nor break the one-problem-per-line format.
 */

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const MAX_KEY_CHARS = 60;

/** Path shown for a problem with the whole file rather than one key. */
export const FILE_PATH = '(file)';

/** Renders a key path; the empty path is the whole file. */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && PLAIN_KEY.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${quoteKey(String(segment))}]`;
  }
  return out === '' ? FILE_PATH : out;
}

function quoteKey(key: string): string {
  const shown = key.length > MAX_KEY_CHARS ? `${key.slice(0, MAX_KEY_CHARS)}…` : key;
  // JSON quoting escapes line breaks and control characters.
  return JSON.stringify(shown);
}
