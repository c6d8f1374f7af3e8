/**
 * A temporary libpq passfile on a node, written over the command's standard input (never argv,
 * never the environment of a remote command) and removed afterwards.
 *
 * The file lives in a fresh private folder made by `mktemp -d` (mode 0700, unguessable name), is
 * created with the shell's noclobber (`set -C`, an O_EXCL open) under umask 077 (mode 0600), and
 * the folder is removed in `finally` whatever `fn` does. Nothing has a predictable name in /tmp,
 * so another local user can neither pre-create nor symlink it.
 */
import type { NodeShell } from './ports.js';

/** `host:port:*:user:password` with `:` and `\` escaped as libpq requires. */
export function passfileLine(host: string, port: number, user: string, password: string): string {
  const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
  return `${esc(host)}:${port}:*:${esc(user)}:${esc(password)}\n`;
}

/** Makes the private folder, writes stdin to `pgpass` in it, prints the folder. */
const WRITE_SCRIPT = [
  'umask 077',
  'd=$(mktemp -d "${TMPDIR:-/tmp}/handyrep-pgpass.XXXXXXXXXX") || exit 1',
  'if ! (set -C && cat > "$d/pgpass"); then rm -f "$d/pgpass"; rmdir "$d"; exit 1; fi',
  'printf "%s\\n" "$d"',
].join('\n');
const REMOVE_SCRIPT = 'rm -f "$1/pgpass" && rmdir "$1"';
/** What mktemp prints: an absolute path ending in our prefix and random letters. */
const FOLDER_PATTERN = /^\/[^\n]*\/handyrep-pgpass\.[A-Za-z0-9]{10}$/;

/**
 * Run `fn` with the path of a passfile holding `line` on the node, or with null when there is no
 * password to write. The file and its folder are removed whatever happens.
 */
export async function withPassfile<T>(shell: NodeShell, line: string | null, fn: (path: string | null) => Promise<T>): Promise<T> {
  if (line === null) return fn(null);
  const write = await shell.run(['sh', '-c', WRITE_SCRIPT, 'write_passfile'], { timeoutMs: 15000, stdin: line });
  const folder = write.stdout.trim();
  if (write.exitCode !== 0 || !FOLDER_PATTERN.test(folder)) {
    throw new Error(`cannot write a temporary passfile on the node: ${(write.stderr || write.stdout).trim() || `exit ${String(write.exitCode)}`}`);
  }
  try {
    return await fn(`${folder}/pgpass`);
  } finally {
    await shell.run(['sh', '-c', REMOVE_SCRIPT, 'remove_passfile', folder], { timeoutMs: 15000 }).catch(() => undefined);
  }
}
