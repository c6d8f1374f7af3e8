/**
 * The `status` action of restart_pg_ctl: `pg_ctl status`, except that a postmaster which is a
 * zombie counts as not running. pg_ctl asks kill(pid, 0), which succeeds on a zombie: a postmaster
 * that crashed (SIGKILL, OOM killer) stays "running" for pg_ctl until its parent reaps it, and a
 * parent that reaps late (an init that reaps in batches, a supervisor that is busy) made every
 * fence after a crash stop and wait for a process that was already dead (bench:agent's crash
 * window: 0.6–1.5 s of it). A zombie has released everything but its process table entry: it
 * holds no socket and runs no code, so "not running" is the truth (the orphaned backends it leaves
 * are no different from those of a postmaster reaped at once, which pg_ctl already calls stopped).
 *
 * The zombie test reads /proc/<pid>/stat (Linux); where that cannot be read pg_ctl's answer stands.
 * The script is a constant; every value (pg_ctl path, folders, flags) reaches it as a positional
 * parameter, so nothing the configuration holds becomes part of its text. Exit codes are pg_ctl's
 * (0 running, 3 not running, 4 no data directory).
 */

export const PG_STATUS_SCRIPT = `
pg_ctl=$1; confdir=$2; datadir=$3
shift 3
"$pg_ctl" -D "$confdir" "$@" status || exit $?
pid=
{ IFS= read -r pid; } 2>/dev/null <"$datadir/postmaster.pid"
case $pid in ''|*[!0-9]*) exit 0 ;; esac
stat=
{ IFS= read -r stat; } 2>/dev/null <"/proc/$pid/stat"
# The state follows the name in parentheses, which may itself hold anything.
state=\${stat##*) }
case $state in
  Z*|X*) echo "pg_ctl status: postmaster $pid is dead (a zombie its parent has not reaped yet): no server running"; exit 3 ;;
esac
exit 0
`;

/** The $0 label of the script (how the agent's command table and the simulated shells recognise it). */
export const PG_STATUS_LABEL = 'pg-ctl-status';

/** argv running the script: `sh -c SCRIPT pg-ctl-status <pg_ctl> <confdir> <datadir> <flags...>`. */
export function pgStatusArgv(pgCtl: string, confDir: string, dataDir: string, flags: readonly string[]): string[] {
  return ['sh', '-c', PG_STATUS_SCRIPT, PG_STATUS_LABEL, pgCtl, confDir, dataDir, ...flags];
}

