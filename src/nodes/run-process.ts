/**
 * Runs one local process without a shell: spawn, feed stdin, capture bounded output, enforce a
 * hard timeout by killing the whole process group. LocalShell decides *what* to spawn (which
 * user, sudo or not); this file only knows how.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { describeError, HandyRepError } from '../model/errors.js';
import type { CommandOptions, CommandResult } from './ports.js';
import { TailBuffer } from './output-buffer.js';

/** Exactly what to spawn. */
export interface ProcessSpec {
  file: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
  cwd?: string;
  /**
   * Send SIGTERM before SIGKILL on timeout. Needed when the direct child is `sudo`: the command
   * runs as another user we may not signal, and only sudo can relay a (catchable) signal to it.
   */
  termBeforeKill?: boolean;
}

/** Tunables of process supervision. */
export interface ProcessLimits {
  maxOutputBytes: number;
  /**
   * How long to wait for output after the process exited. A daemon started by the command (e.g.
   * `pg_ctl start` without `-l`) inherits the pipes and would otherwise keep `run` waiting forever.
   */
  exitGraceMs: number;
  /** Told of each command's process group while it runs (the node agent cancels its copies by it). */
  groups?: ProcessGroupWatcher;
}

/** Someone that keeps the process groups of running commands (pgid = the command's pid). */
export interface ProcessGroupWatcher {
  started(pgid: number): void;
  ended(pgid: number): void;
}

/** Delay between SIGTERM and SIGKILL when `termBeforeKill` is set. */
const TERM_GRACE_MS = 1000;
/** After a kill, give up waiting for the exit event after this long (signal refused, zombie). */
const KILL_GIVE_UP_MS = 3000;

/**
 * Spawns `spec` and resolves with its result whatever its exit code. Rejects with
 * `HandyRepError('CONTROL_CHANNEL')` only when the process cannot be started (binary missing,
 * permission denied, bad uid).
 */
export function runProcess(
  spec: ProcessSpec,
  options: CommandOptions,
  limits: ProcessLimits,
  label: string,
): Promise<CommandResult> {
  return new Promise<CommandResult>((resolve, reject) => {
    const startedAt = performance.now();
    const stdout = new TailBuffer(limits.maxOutputBytes);
    const stderr = new TailBuffer(limits.maxOutputBytes);
    const timers: NodeJS.Timeout[] = [];
    let settled = false;
    let spawned = false;
    let timedOut = false;
    let exitCode: number | null = null;
    let exited = false;
    let graceTimer: NodeJS.Timeout | undefined;

    const startError = (err: unknown): HandyRepError =>
      new HandyRepError('CONTROL_CHANNEL', `${label}: cannot run ${spec.file}: ${describeError(err)}`, { cause: err });

    let child: ChildProcess;
    try {
      child = spawn(spec.file, [...spec.args], {
        // Own process group, so a timeout can kill the command and everything it started.
        detached: true,
        stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        env: spec.env,
        uid: spec.uid,
        gid: spec.gid,
        cwd: spec.cwd,
      });
    } catch (err) {
      reject(startError(err));
      return;
    }

    const finish = (): void => {
      if (settled) return;
      settled = true;
      if (spawned && child.pid !== undefined) limits.groups?.ended(child.pid);
      for (const timer of timers) clearTimeout(timer);
      clearTimeout(graceTimer);
      // Pipes possibly still held by a background descendant: stop reading them.
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve({
        exitCode: timedOut ? null : exitCode,
        stdout: stdout.text(),
        stderr: stderr.text(),
        timedOut,
        durationMs: Math.round(performance.now() - startedAt),
      });
    };

    // After exit, stop waiting once the output has been idle for the grace period.
    const armGrace = (): void => {
      clearTimeout(graceTimer);
      graceTimer = setTimeout(finish, limits.exitGraceMs);
    };
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      if (exited) armGrace();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr.push(chunk);
      if (exited) armGrace();
    });
    if (child.stdin) {
      // The command may exit without reading its input: EPIPE is not our failure.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.stdin);
    }

    child.on('spawn', () => {
      spawned = true;
      if (child.pid !== undefined) limits.groups?.started(child.pid);
    });
    child.on('error', (err) => {
      // Before 'spawn' this means the command never started; afterwards it can only be a failed
      // kill(), which the exit/give-up timers already cover.
      if (spawned || settled) return;
      settled = true;
      for (const timer of timers) clearTimeout(timer);
      reject(startError(err));
    });
    child.on('exit', (code) => {
      exited = true;
      exitCode = code;
      armGrace();
    });
    child.on('close', finish);

    timers.push(
      setTimeout(() => {
        timedOut = true;
        if (spec.termBeforeKill) {
          signalGroup(child, 'SIGTERM');
          timers.push(setTimeout(() => signalGroup(child, 'SIGKILL'), TERM_GRACE_MS));
        } else {
          signalGroup(child, 'SIGKILL');
        }
        timers.push(setTimeout(finish, KILL_GIVE_UP_MS + (spec.termBeforeKill ? TERM_GRACE_MS : 0)));
      }, options.timeoutMs),
    );
  });
}

/** Signals the child's whole process group; falls back to the child alone when that is refused. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  const pid = child.pid;
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  }
}
