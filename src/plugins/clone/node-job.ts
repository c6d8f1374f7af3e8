/**
 * A long command on a node, watched and cancellable over the node's ordinary control channel.
 *
 * The command runs in the foreground of one channel (its exit ends the job), with its output sent
 * to a log file in a private job folder on the node and its pid recorded there. While it runs,
 * short commands read the tail of that log (progress), and cancelling signals the recorded
 * process and everything it started: its process group when it leads one (sshd and the local
 * shell both start commands as group leaders), else its children and itself. Nothing here
 * depends on the shell port offering streaming output or signals.
 */
import { randomBytes } from 'node:crypto';
import { describeError } from '../../model/errors.js';
import type { NodeShell } from '../../nodes/ports.js';

export interface NodeJobOptions {
  /** Hard limit for the whole command. */
  timeoutMs: number;
  /** Aborting cancels the job: TERM, then KILL after `killGraceMs`. */
  signal: AbortSignal;
  /** Called with the last few KB of the job's output, every `pollMs` while it runs. */
  onOutput?: (tail: string) => void;
  pollMs?: number;
  killGraceMs?: number;
  /** Given to the command's standard input (e.g. a file list); never a secret on argv. */
  stdin?: string;
}

export interface NodeJobResult {
  exitCode: number | null;
  timedOut: boolean;
  cancelled: boolean;
  /** The last lines of the job's output. */
  output: string;
}

/** Exit code of the wrapper when the job folder cannot be made (above any tool's usual codes). */
const NO_JOB_FOLDER = 124;
/**
 * The job's exit code is also written to a file: an SSH channel may close without delivering the
 * exit status, and a long copy must not be judged by a lost status (the file is read back only
 * then). The last output comes back on the channel itself, saving a round trip. The wrapper shell
 * leads the command's process group, so cancelling still reaches everything it started.
 */
const RUN_SCRIPT = `d=$1; shift; mkdir -m 700 "$d" || exit ${NO_JOB_FOLDER}; echo $$ > "$d/pid"; "$@" > "$d/log" 2>&1; rc=$?; echo $rc > "$d/rc"; tail -c 4096 "$d/log"; exit $rc`;
const END_MARK = '---handyrep-job-log---';
const END_SCRIPT = `cat "$1/rc" 2>/dev/null; echo; echo ${END_MARK}; tail -c 4096 "$1/log" 2>/dev/null`;
const KILL_SCRIPT = [
  'd=$1; sig=$2',
  'pid=$(cat "$d/pid" 2>/dev/null) || exit 0',
  '[ -n "$pid" ] || exit 0',
  'pg=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d " ")',
  // No "--" before the group: dash's kill takes it for a pid.
  'if [ "$pg" = "$pid" ]; then kill -"$sig" "-$pid" 2>/dev/null; else pkill -"$sig" -P "$pid" 2>/dev/null; kill -"$sig" "$pid" 2>/dev/null; fi',
  'exit 0',
].join('\n');

const SHORT_MS = 15000;

/** Run `argv` on the node as a watched job. Resolves when it has ended (also after a cancel). */
export async function runNodeJob(shell: NodeShell, argv: readonly string[], options: NodeJobOptions): Promise<NodeJobResult> {
  const dir = `/tmp/handyrep-job-${randomBytes(6).toString('hex')}`;
  let finished = false;
  let wake: () => void = () => undefined;
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const tail = async (): Promise<string> => {
    try {
      const r = await shell.run(['tail', '-c', '4096', `${dir}/log`], { timeoutMs: SHORT_MS });
      return r.exitCode === 0 ? r.stdout : '';
    } catch {
      return '';
    }
  };
  const signalJob = async (sig: 'TERM' | 'KILL'): Promise<void> => {
    await shell.run(['sh', '-c', KILL_SCRIPT, 'handyrep_job_kill', dir, sig], { timeoutMs: SHORT_MS }).catch(() => undefined);
  };

  let cancelled = options.signal.aborted;
  const onAbort = (): void => {
    cancelled = true;
    wake();
  };
  options.signal.addEventListener('abort', onAbort, { once: true });

  const main = shell
    .run(['sh', '-c', RUN_SCRIPT, 'handyrep_job', dir, ...argv], options.stdin === undefined ? { timeoutMs: options.timeoutMs } : { timeoutMs: options.timeoutMs, stdin: options.stdin })
    .finally(() => {
      finished = true;
      wake();
    });
  // Avoid an unhandled rejection while the watcher below is between awaits.
  main.catch(() => undefined);

  const watcher = (async () => {
    const pollMs = options.pollMs ?? 1000;
    const graceMs = options.killGraceMs ?? 5000;
    let termAt = 0;
    while (!finished) {
      if (cancelled) {
        // TERM first (the pid file may not exist yet right after the start: repeat it), KILL
        // once the grace period is over.
        if (termAt === 0) termAt = Date.now();
        await signalJob(Date.now() - termAt > graceMs ? 'KILL' : 'TERM');
        if (!finished) await sleep(300);
        continue;
      }
      await sleep(pollMs);
      if (finished || cancelled) continue;
      const text = await tail();
      if (text && options.onOutput) {
        try {
          options.onOutput(text);
        } catch {
          // A progress consumer must not break the job.
        }
      }
    }
  })();

  let result: Awaited<typeof main> | null = null;
  let error: unknown = null;
  try {
    result = await main;
  } catch (err) {
    error = err;
  }
  await watcher;
  options.signal.removeEventListener('abort', onAbort);
  // A clean end brings its exit status and last output on the channel; otherwise read them back
  // from the job folder (again if that answer is lost too).
  let finalTail = result !== null && result.exitCode !== null ? result.stdout : '';
  let fileExitCode: number | null = null;
  for (let attempt = 1; attempt <= 3 && (result === null || result.exitCode === null); attempt += 1) {
    const end = await shell.run(['sh', '-c', END_SCRIPT, 'handyrep_job_end', dir], { timeoutMs: SHORT_MS }).catch(() => null);
    if (end === null || end.exitCode === null) continue;
    const at = end.stdout.indexOf(END_MARK);
    const rc = end.stdout.slice(0, Math.max(0, at)).trim();
    fileExitCode = /^\d+$/.test(rc) ? Number(rc) : null;
    finalTail = at >= 0 ? end.stdout.slice(at + END_MARK.length + 1) : '';
    break;
  }
  // Neither an exit status nor an exit code file: the job may still run (its channel died).
  const unknownEnd = !cancelled && (error !== null || (fileExitCode === null && result?.exitCode === null));
  if (unknownEnd) await signalJob('KILL');
  void shell.run(['rm', '-rf', dir], { timeoutMs: SHORT_MS }).catch(() => undefined);
  if (finalTail && options.onOutput && !cancelled) {
    try {
      options.onOutput(finalTail);
    } catch {
      // ignored, as above
    }
  }
  const lines = lastLines(finalTail, 6);
  if (error !== null) {
    return { exitCode: fileExitCode, timedOut: false, cancelled, output: `${describeError(error)}${lines ? ` | ${lines}` : ''}` };
  }
  const r = result as Awaited<typeof main>;
  if (r.exitCode === NO_JOB_FOLDER && !finalTail) return { exitCode: r.exitCode, timedOut: false, cancelled, output: `cannot make the job folder ${dir}: ${(r.stderr || r.stdout).trim()}` };
  return { exitCode: fileExitCode ?? r.exitCode, timedOut: r.timedOut, cancelled, output: lines };
}

/** The last `count` non-empty lines of an output (progress lines use \r as well as \n). */
export function lastLines(text: string, count: number): string {
  return text
    .split(/[\r\n]+/)
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-count)
    .join(' | ');
}
