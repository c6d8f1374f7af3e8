/**
 * The guard inside the shell steps that empty a data folder or rename it aside (issue 14, boot
 * review F7): the copy checks (agent/copy-checks.ts) run before these steps, and a postmaster
 * started between the last check and the `rm -rf` / `mv` would have its data deleted under it or
 * moved away while it runs. So the step itself looks, in the same shell, right before it acts:
 *   - the folder's postmaster.pid names a live process working in the folder, or one whose
 *     working folder cannot be read (another user's: a refusal is the safe side); a stale file's
 *     pid that works elsewhere (reused after a host crash) does not count, as in the copy checks;
 *   - any other process has its working directory in the folder (every PostgreSQL process chdirs to
 *     its data folder, the postmaster before it writes its pid file).
 * Then nothing is deleted or moved and the step answers one line naming the process. Only builtins
 * run between the look and the act (no fork per process); what is left is the instant between the
 * guard's last test and the start of `rm`/`mv`, not the time between the agent's check and its step.
 * The scripts are constants; the folders reach them as positional parameters (quoted by
 * nodes/shell-quote.ts when the argv crosses ssh). Pure: argv builders and the answer's parser.
 */

/** The line a refusing step prints (then exits 3): the process and how it was found. */
const BUSY_WORD = 'handyrep-folder-busy';

const GUARD = [
  'busy() {',
  '  if [ -f "$1/postmaster.pid" ]; then',
  '    p=; read -r p 2>/dev/null < "$1/postmaster.pid"',
  '    case $p in',
  "      ''|*[!0-9]*) ;;",
  `      *) if [ "/proc/$p/cwd" -ef "$1" ] || { [ -d "/proc/$p" ] && [ ! -e "/proc/$p/cwd" ]; }; then echo "${BUSY_WORD} $p pidfile"; return 0; fi ;;`,
  '    esac',
  '  fi',
  '  for e in /proc/[0-9]*; do',
  '    p=${e#/proc/}',
  `    if [ "$p" != "$$" ] && [ "$p" != "$PPID" ] && [ "$e/cwd" -ef "$1" ]; then echo "${BUSY_WORD} $p cwd"; return 0; fi`,
  '  done',
  '  return 1',
  '}',
].join('\n');

/** Deletes everything inside the folder (the folder stays: it may be a mount point) unless busy. */
export const EMPTY_SCRIPT = `${GUARD}\nd=$1; [ -d "$d" ] || exit 0\nif busy "$d"; then exit 3; fi\nfind "$d" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +`;

/** Renames $1 to $2 unless busy; done already (a lost exit status, run again): $2 there, $1 gone. */
export const MOVE_SCRIPT = `${GUARD}\nif [ -e "$2" ]; then [ ! -e "$1" ]; exit; fi\nif busy "$1"; then exit 3; fi\nmv "$1" "$2"`;

export function emptyFolderArgv(pgdata: string): string[] {
  return ['sh', '-c', EMPTY_SCRIPT, 'empty_pgdata', pgdata];
}

export function moveFolderArgv(pgdata: string, aside: string): string[] {
  return ['sh', '-c', MOVE_SCRIPT, 'move_aside', pgdata, aside];
}

/** A process found in the folder by the step's guard. */
export interface FolderBusy {
  readonly pid: number;
  /** Named by the folder's postmaster.pid; else found working in the folder. */
  readonly pidFile: boolean;
}

/** The guard's answer in a step's output (its last lines), or null: the step did not refuse. */
export function folderBusyOf(output: string): FolderBusy | null {
  const found = new RegExp(`(?:^|\\| )${BUSY_WORD} (\\d+) (pidfile|cwd)(?: \\||$)`, 'm').exec(output);
  return found ? { pid: Number(found[1]), pidFile: found[2] === 'pidfile' } : null;
}

/** A step refused by its guard: nothing was deleted or moved. */
export class FolderBusyError extends Error {
  readonly code = 'postgres_running';
  constructor(
    readonly folder: string,
    readonly busy: FolderBusy,
    action: 'emptied' | 'moved aside',
  ) {
    super(`${folder} not ${action}: ${busy.pidFile ? `PostgreSQL runs on it (postmaster ${busy.pid})` : `process ${busy.pid} works in it`}; nothing deleted or moved (reason postgres_running)`);
    this.name = 'FolderBusyError';
  }
}
