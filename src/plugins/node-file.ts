/**
 * Writing a file on a node from standard input, atomically: a temporary file in the same folder,
 * then a rename, so a reader (PostgreSQL's archiver, pgbouncer's RELOAD) never sees half a file.
 * The temporary file is made by mktemp (O_EXCL, 0600, unguessable name): a predictable name
 * could be pre-created or symlinked by another user of a shared folder. Removed on failure.
 */

/** argv (no user text reaches the shell script: path, umask and mode are its arguments). */
export function atomicWriteArgv(path: string, access: { umask: '022' | '077'; mode: '644' | '700' }, label: string): string[] {
  const script = 'umask "$2" && mkdir -p "$(dirname "$1")" && t=$(mktemp "$1.tmp.XXXXXXXXXX") || exit 1; if cat > "$t" && chmod "$3" "$t" && mv -f "$t" "$1"; then exit 0; fi; rm -f "$t"; exit 1';
  return ['sh', '-c', script, label, path, access.umask, access.mode];
}
