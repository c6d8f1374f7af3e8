/**
 * The `stop` and `faststop` actions of restart_pg_ctl: `pg_ctl stop -W` (signal only), then wait
 * for the postmaster to be gone, checking every 10 ms. `pg_ctl stop -w` checks every 100 ms, which
 * a switchover's write gap paid in full (the old master must be down before the replica is
 * promoted). "Gone" is what pg_ctl -w means too: postmaster.pid removed, or the pid it names is
 * no longer alive (a postmaster killed during shutdown leaves the file behind), and also a pid
 * that is a zombie (dead, not yet reaped: pg_ctl -w would wait for its parent; status-script.ts).
 *
 * The script is a constant; every value (pg_ctl path, folders, mode, flags) reaches it as a
 * positional parameter, so nothing the configuration holds becomes part of its text.
 * Exit codes: pg_ctl's own when signalling failed (1: not running), 0 stopped, 5 still running
 * after the wait.
 */

export const STOP_STILL_RUNNING_EXIT = 5;

export const STOP_AND_WAIT_SCRIPT = `
pg_ctl=$1; confdir=$2; datadir=$3; mode=$4; limit=$5
shift 5
"$pg_ctl" -D "$confdir" "$@" -m "$mode" -W stop || exit $?
# Whole seconds: + 1 so that the wait is never shorter than asked.
deadline=$(( $(date +%s) + limit + 1 ))
ticks=0
while [ -e "$datadir/postmaster.pid" ]; do
  pid=
  { IFS= read -r pid; } 2>/dev/null <"$datadir/postmaster.pid"
  case $pid in ''|*[!0-9]*) ;; *)
    kill -0 "$pid" 2>/dev/null || break
    # A zombie passes kill -0 until its parent reaps it, but it is dead (status-script.ts).
    stat=
    { IFS= read -r stat; } 2>/dev/null <"/proc/$pid/stat"
    case \${stat##*) } in Z*|X*) break ;; esac ;;
  esac
  # The clock is read every 25 checks: a fork per check would cost more than the check.
  ticks=$((ticks + 1))
  if [ $((ticks % 25)) -eq 0 ] && [ "$(date +%s)" -ge "$deadline" ]; then
    echo "the server did not stop within $limit s" >&2
    exit 5
  fi
  # Fractional sleep is GNU/busybox; elsewhere one second per check.
  sleep 0.01 2>/dev/null || sleep 1
done
echo "server stopped"
`;

/** argv running the script: `sh -c SCRIPT stop-and-wait <pg_ctl> <confdir> <datadir> <mode> <seconds> <flags...>`. */
export function stopAndWaitArgv(pgCtl: string, confDir: string, dataDir: string, mode: 'fast' | 'immediate', waitSeconds: number, flags: readonly string[]): string[] {
  return ['sh', '-c', STOP_AND_WAIT_SCRIPT, 'stop-and-wait', pgCtl, confDir, dataDir, mode, String(Math.max(1, Math.floor(waitSeconds))), ...flags];
}
