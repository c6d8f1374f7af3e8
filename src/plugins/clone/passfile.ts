/**
 * A temporary libpq passfile on a node, written over the command's standard input (never argv,
 * never the environment of a remote command) and removed afterwards, as rejoin does for pg_rewind.
 */
import { randomBytes } from 'node:crypto';
import type { NodeShell } from '../../nodes/ports.js';

/** `host:port:*:user:password` with `:` and `\` escaped as libpq requires. */
export function passfileLine(host: string, port: number, user: string, password: string): string {
  const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
  return `${esc(host)}:${port}:*:${esc(user)}:${esc(password)}\n`;
}

/**
 * Run `fn` with the path of a passfile holding `line` on the node (mode 0600), or with null when
 * there is no password to write. The file is removed whatever happens.
 */
export async function withPassfile<T>(shell: NodeShell, line: string | null, fn: (path: string | null) => Promise<T>): Promise<T> {
  if (line === null) return fn(null);
  const path = `/tmp/handyrep-pgpass-${randomBytes(6).toString('hex')}`;
  const write = await shell.run(['sh', '-c', 'umask 077 && cat > "$1"', 'write_passfile', path], { timeoutMs: 15000, stdin: line });
  if (write.exitCode !== 0) throw new Error(`cannot write a temporary passfile on the node: ${(write.stderr || write.stdout).trim()}`);
  try {
    return await fn(path);
  } finally {
    await shell.run(['rm', '-f', path], { timeoutMs: 15000 }).catch(() => undefined);
  }
}
