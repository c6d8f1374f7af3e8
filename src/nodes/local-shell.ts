/**
 * NodeShell for the node the controller runs on: commands are spawned directly (never through a
 * shell), as `runAsUser` when given. As root the process is started with that user's uid/gid;
 * otherwise through `sudo -n`, which fails fast instead of prompting when not permitted.
 *
 * Known limit of the uid/gid switch: Node (libuv) drops supplementary groups, so the command has
 * only the user's primary group (e.g. Debian's `postgres` loses `ssl-cert`, which a server with
 * Debian's default snakeoil TLS key needs). The sudo path keeps them.
 */
import { stat } from 'node:fs/promises';
import { HandyRepError } from '../model/errors.js';
import type { CommandOptions, CommandResult, NodeShell } from './ports.js';
import { DEFAULT_MAX_OUTPUT_BYTES } from './output-buffer.js';
import { currentUser, lookupUser, type OsUser } from './os-users.js';
import { runProcess, type ProcessGroupWatcher, type ProcessSpec } from './run-process.js';

/** Options of a LocalShell. */
export interface LocalShellOptions {
  /** OS user commands run as; undefined or the controller's own user = no switch. */
  runAsUser?: string;
  /** Output kept per stream (the tail); default 1 MB. */
  maxOutputBytes?: number;
  /** Wait for output after the process exits before closing pipes held by its children; default 200 ms. */
  exitGraceMs?: number;
  /** Told of each command's process group while it runs. */
  groups?: ProcessGroupWatcher;
}

/** Variables carried over from the controller when switching user; the rest is dropped like sudo's env_reset. */
const KEPT_ENV = ['PATH', 'LANG', 'LANGUAGE', 'LC_ALL', 'LC_CTYPE', 'LC_MESSAGES', 'TZ'] as const;

/** Everything `planLocalInvocation` needs to know; separated from I/O so the decision is testable. */
export interface LocalInvocationContext {
  runAsUser: string | undefined;
  current: { name: string; uid: number };
  /** The target account, required when the controller is root and must switch user. */
  target: OsUser | undefined;
  /** Working directory for a switched user (their home when it exists). */
  targetCwd?: string;
  baseEnv: NodeJS.ProcessEnv;
  extraEnv: Readonly<Record<string, string>> | undefined;
}

/**
 * Decides how to start `argv`: directly, with the target's uid/gid (controller is root), or via
 * `sudo -n -H -u <user> --` (controller is not root). Extra variables reach a sudo'd command via
 * `--preserve-env=<names>` (values never appear in argv), which sudoers must allow.
 */
export function planLocalInvocation(argv: readonly string[], ctx: LocalInvocationContext): ProcessSpec {
  const [file, ...args] = argv;
  if (file === undefined || file === '') {
    throw new HandyRepError('INVALID_PARAMETER', 'a command needs at least one argument (the program)');
  }
  const extra = ctx.extraEnv ?? {};
  const user = ctx.runAsUser;
  if (user === undefined || user === ctx.current.name) {
    return { file, args, env: { ...ctx.baseEnv, ...extra } };
  }
  if (ctx.current.uid === 0) {
    if (ctx.target === undefined) {
      throw new HandyRepError('CONTROL_CHANNEL', `local (${user}): no such OS user`);
    }
    const env: NodeJS.ProcessEnv = {};
    for (const key of KEPT_ENV) {
      const value = ctx.baseEnv[key];
      if (value !== undefined) env[key] = value;
    }
    Object.assign(env, { HOME: ctx.target.home, USER: user, LOGNAME: user }, extra);
    return { file, args, env, uid: ctx.target.uid, gid: ctx.target.gid, cwd: ctx.targetCwd ?? '/' };
  }
  const names = Object.keys(extra);
  const preserve = names.length > 0 ? [`--preserve-env=${names.join(',')}`] : [];
  return {
    file: 'sudo',
    args: ['-n', '-H', '-u', user, ...preserve, '--', file, ...args],
    env: { ...ctx.baseEnv, ...extra },
    termBeforeKill: true,
  };
}

/** Runs commands on the controller's own host, optionally as another OS user. */
export class LocalShell implements NodeShell {
  /** e.g. `local (postgres)`. */
  readonly description: string;
  private readonly runAsUser: string | undefined;
  private readonly maxOutputBytes: number;
  private readonly exitGraceMs: number;
  private readonly groups: ProcessGroupWatcher | undefined;

  constructor(options: LocalShellOptions = {}) {
    this.runAsUser = options.runAsUser;
    this.maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    this.exitGraceMs = options.exitGraceMs ?? 200;
    this.groups = options.groups;
    this.description = `local (${options.runAsUser ?? currentUser().name})`;
  }

  /** Runs `argv`; rejects with CONTROL_CHANNEL only when it cannot be started. */
  async run(argv: readonly string[], options: CommandOptions): Promise<CommandResult> {
    if (argv.some((arg) => arg.includes('\0'))) {
      throw new HandyRepError('INVALID_PARAMETER', 'a command argument contains a NUL character');
    }
    const current = currentUser();
    const user = this.runAsUser;
    // Only root switches uid itself and needs the account; sudo looks it up on its own.
    const target = user !== undefined && user !== current.name && current.uid === 0 ? await lookupUser(user) : undefined;
    const spec = planLocalInvocation(argv, {
      runAsUser: this.runAsUser,
      current,
      target,
      targetCwd: target ? await existingDir(target.home) : undefined,
      baseEnv: process.env,
      extraEnv: options.env,
    });
    const limits = { maxOutputBytes: this.maxOutputBytes, exitGraceMs: this.exitGraceMs, ...(this.groups ? { groups: this.groups } : {}) };
    return runProcess(spec, options, limits, this.description);
  }

  /** Nothing is pooled locally. */
  async close(): Promise<void> {}
}

/** `dir` when it is an existing directory, else `/` (spawn fails on a missing cwd, misleadingly as ENOENT). */
async function existingDir(dir: string): Promise<string> {
  try {
    return (await stat(dir)).isDirectory() ? dir : '/';
  } catch {
    return '/';
  }
}
