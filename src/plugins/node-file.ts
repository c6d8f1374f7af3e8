/**
 * Writing a file on a node from standard input, atomically: a temporary file in the same folder,
 * then a rename, so a reader (PostgreSQL's archiver, pgbouncer's RELOAD) never sees half a file.
 */

/** argv (no user text reaches the shell script: path, umask and mode are its arguments). */
export function atomicWriteArgv(path: string, access: { umask: '022' | '077'; mode: '644' | '700' }, label: string): string[] {
  const script = 'umask "$2" && mkdir -p "$(dirname "$1")" && t="$1.tmp.$$" && cat > "$t" && chmod "$3" "$t" && mv -f "$t" "$1"';
  return ['sh', '-c', script, label, path, access.umask, access.mode];
}
