/**
 * The `kill` action of restart_pg_ctl: SIGKILL every process of one PostgreSQL instance, run on
 * the node through its control channel. A group kill of the postmaster is not enough: each
 * backend leads its own session, so a frozen backend would survive and could acknowledge a
 * COMMIT after SIGCONT.
 *
 * The script is a constant; the data directory reaches it as `$1` (the shell's quoting of argv,
 * nodes/shell-quote.ts, carries it over ssh), so no value is ever part of the script text. It:
 * 1. validates the pid in `<pgdata>/postmaster.pid`: digits, above 1, a live process named
 *    `postgres` whose working directory is that data directory (the postmaster chdirs there and
 *    its children inherit it). A stale pid reused by anything else is refused, never signalled;
 * 2. SIGSTOPs the postmaster, then, round after round until no new one appears, every
 *    descendant and every other `postgres` process working in the data directory (leftovers of a
 *    postmaster already gone): stopped, none of them can fork meanwhile;
 * 3. SIGKILLs them all and waits (bounded) until none is alive, then looks again for any process
 *    of the instance and reports failure if one is left.
 * Exit codes: 0 killed, 3 nothing was running, 4 refused (postmaster.pid names a process that is
 * not this instance's postmaster; nothing of it killed), anything else failed.
 */
import type { CommandResult } from '../../nodes/ports.js';
import type { ControlOutcome } from '../types.js';

export const KILL_EXIT = { killed: 0, notRunning: 3, refused: 4 } as const;

export const KILL_INSTANCE_SCRIPT = `
pgdata=$1
dir=$(cd -P -- "$pgdata" 2>/dev/null && pwd -P) || { echo "cannot enter the data directory $pgdata"; exit 1; }

# read_stat PID: st (state letter) and pp (parent pid) from /proc/PID/stat; fails when it is gone.
read_stat() {
  line=
  { IFS= read -r line; } 2>/dev/null <"/proc/$1/stat" || return 1
  rest=\${line##*) }
  st=\${rest%% *}
  rest=\${rest#* }
  pp=\${rest%% *}
  [ -n "$st" ]
}
alive() { read_stat "$1" && [ "$st" != Z ] && [ "$st" != X ]; }
# of_instance PID: a live process named postgres working in the data directory.
of_instance() {
  alive "$1" || return 1
  comm=
  { IFS= read -r comm; } 2>/dev/null <"/proc/$1/comm" || return 1
  [ "$comm" = postgres ] || return 1
  # Same folder (device and inode): test's -ef (dash, bash, busybox), no fork per process.
  [ "/proc/$1/cwd" -ef "$dir" ]
}

tree=' '
others=' '
# collect: SIGSTOP and add to tree every live process whose parent is in tree or that is a
# postgres process of the instance; rounds until a round adds none (bounded).
collect() {
  round=0
  while [ "$round" -lt 20 ]; do
    round=$((round + 1))
    added=0
    for stat in /proc/[0-9]*/stat; do
      p=\${stat#/proc/}
      p=\${p%/stat}
      [ "$p" = "$$" ] && continue
      case $tree in *" $p "*) continue ;; esac
      alive "$p" || continue
      case $tree in
        *" $pp "*) ;;
        *)
          case $others in *" $p "*) continue ;; esac
          if ! of_instance "$p"; then others="$others$p "; continue; fi ;;
      esac
      kill -STOP "$p" 2>/dev/null
      tree="$tree$p "
      added=1
    done
    [ "$added" = 0 ] && return 0
  done
}

# wait_gone: up to about 5 s until no pid of tree is alive; leaves the survivors in left.
wait_gone() {
  tries=0
  while :; do
    left=
    for p in $tree; do alive "$p" && left="$left $p"; done
    [ -z "$left" ] && return 0
    tries=$((tries + 1))
    [ "$tries" -gt 50 ] && return 1
    sleep 0.1 2>/dev/null || sleep 1
  done
}

pid=
if [ -e "$dir/postmaster.pid" ]; then
  { IFS= read -r pid; } 2>/dev/null <"$dir/postmaster.pid" || :
fi
verdict=
case $pid in
  '') verdict="no postmaster pid in $dir/postmaster.pid: PostgreSQL is not running" ; code=3 ;;
  *[!0-9]* | 0* | ????????????*) verdict="postmaster.pid of $dir does not start with a pid ($pid): refused" ; code=4 ;;
  *)
    if [ "$pid" -le 1 ] || [ "$pid" = "$$" ]; then
      verdict="postmaster.pid of $dir names pid $pid: refused" ; code=4
    elif of_instance "$pid"; then
      kill -STOP "$pid" 2>/dev/null
      # Checked again while stopped: the pid cannot have been reused since.
      if of_instance "$pid"; then
        tree=" $pid "
      else
        kill -CONT "$pid" 2>/dev/null
        verdict="pid $pid changed while it was checked: refused" ; code=4
      fi
    elif alive "$pid"; then
      verdict="postmaster.pid of $dir names pid $pid, which is not a postgres process of this data directory (a stale or foreign pid): refused, not signalled" ; code=4
    else
      verdict="postmaster.pid of $dir names pid $pid, which is not running: PostgreSQL is not running" ; code=3
    fi ;;
esac

attempt=0
killed=
while [ "$attempt" -lt 3 ]; do
  attempt=$((attempt + 1))
  collect
  [ "$tree" = ' ' ] && break
  for p in $tree; do kill -KILL "$p" 2>/dev/null; done
  killed="$killed$tree"
  wait_gone || { echo "processes of $dir still alive after SIGKILL:$left"; exit 1; }
  tree=' '
done
# A last look after the last round: anything found now survived every round.
collect
[ "$tree" != ' ' ] && { echo "processes of $dir keep appearing:$tree"; exit 1; }

if [ -n "$verdict" ]; then
  [ -n "$killed" ] && verdict="$verdict; killed leftover processes of $dir:$killed"
  echo "$verdict"
  exit "$code"
fi
echo "killed every process of $dir (postmaster $pid):$killed"
exit 0
`;

/** The argv running the script on the node for one data directory. */
export function killInstanceArgv(pgdata: string): string[] {
  return ['sh', '-c', KILL_INSTANCE_SCRIPT, 'handyrep-kill', pgdata];
}

/** The plugin's outcome from the script's exit code and output. */
export function killOutcome(result: CommandResult): ControlOutcome {
  const output = `${result.stdout}${result.stderr}`.trim().split('\n').slice(-3).join(' | ');
  if (result.timedOut) return { ok: false, details: `kill timed out: ${output}` };
  switch (result.exitCode) {
    case KILL_EXIT.killed:
      return { ok: true, details: output };
    case KILL_EXIT.notRunning:
      return { ok: true, details: output };
    case KILL_EXIT.refused:
      return { ok: false, details: output };
    default:
      return { ok: false, details: `kill failed (exit ${String(result.exitCode)}): ${output}` };
  }
}
