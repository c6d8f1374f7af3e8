/**
 * restart_pg_ctl: PostgreSQL's own pg_ctl on the node, over the node's control channel (ssh or
 * local). `status` uses pg_ctl's exit code: 0 running, 3 not running, 4 no data directory (a zombie
 * postmaster is not running: status-script.ts). `kill` is a script of its own (kill-instance.ts).
 */
import { z } from 'zod';
import { pathSchema } from '../../config/validators.js';
import { describeError } from '../../model/errors.js';
import { pluginSettings } from '../settings.js';
import type { ControlAction, RestartPlugin, ServerRef } from '../types.js';
import { killInstanceArgv, killOutcome } from './kill-instance.js';
import { pgStatusArgv } from './status-script.js';
import { stopAndWaitArgv, STOP_STILL_RUNNING_EXIT } from './stop-and-wait.js';

/** Exported for the agent, which validates the same section of its own configuration (src/agent/commands/). */
export const settingsSchema = z
  .object({
    pg_ctl_flags: z.array(z.string()).default([]),
    /** pg_ctl's -l file; default <pgdata>/startup.log as the original did. */
    startup_log: pathSchema.nullable().default(null),
  })
  .strict();

/** The pg_ctl argv for an action (exported for unit tests). */
export function pgCtlArgv(server: ServerRef, action: ControlAction, flags: readonly string[], startupLog: string | null, waitSeconds: number): string[] {
  const pgCtl = `${server.pg_bin_dir}/pg_ctl`;
  const confDir = server.pgconf ?? server.pgdata;
  const base = [pgCtl, '-D', confDir, ...flags];
  const wait = ['-w', '-t', String(waitSeconds)];
  switch (action) {
    case 'start':
      return [...base, '-l', startupLog ?? `${server.pgdata}/startup.log`, ...wait, 'start'];
    case 'stop':
      return stopAndWaitArgv(pgCtl, confDir, server.pgdata, 'fast', waitSeconds, flags);
    case 'faststop':
      return stopAndWaitArgv(pgCtl, confDir, server.pgdata, 'immediate', waitSeconds, flags);
    case 'restart':
      return [...base, '-l', startupLog ?? `${server.pgdata}/startup.log`, '-m', 'fast', ...wait, 'restart'];
    case 'reload':
      return [...base, 'reload'];
    case 'status':
      // pg_ctl status, with a zombie postmaster counted as not running (status-script.ts).
      return pgStatusArgv(pgCtl, confDir, server.pgdata, flags);
    case 'kill':
      // Not pg_ctl: every process of the instance, validated first (kill-instance.ts).
      return killInstanceArgv(server.pgdata);
  }
}

export const restartPgCtl: RestartPlugin = {
  name: 'restart_pg_ctl',
  kind: 'restart',
  description: 'Starts, stops, restarts, reloads and checks PostgreSQL with pg_ctl on the node.',
  async control(ctx, server, action, options) {
    const settings = pluginSettings(ctx, 'restart_pg_ctl', settingsSchema);
    const waitSeconds = Math.max(1, options?.waitSeconds ?? Math.floor(ctx.timeouts.commandMs / 1000) - 2);
    const argv = pgCtlArgv(server, action, settings.pg_ctl_flags, settings.startup_log, waitSeconds);
    let result;
    try {
      result = await ctx.shellFor(server).run(argv, { timeoutMs: Math.min(ctx.timeouts.commandMs, (waitSeconds + 5) * 1000) });
    } catch (err) {
      return { ok: false, details: `pg_ctl ${action} could not be run: ${describeError(err)}` };
    }
    if (action === 'kill') return killOutcome(result);
    const output = `${result.stdout}${result.stderr}`.trim().split('\n').slice(-3).join(' | ');
    if (result.timedOut) return { ok: false, details: `pg_ctl ${action} timed out after ${ctx.timeouts.commandMs} ms` };
    if (action === 'status') {
      if (result.exitCode === 0) return { ok: true, running: true, details: 'PostgreSQL is running' };
      if (result.exitCode === 3 || result.exitCode === 4) {
        return { ok: true, running: false, details: `PostgreSQL is not running (${output})` };
      }
      return { ok: false, details: `pg_ctl status exited ${String(result.exitCode)}: ${output}` };
    }
    if (result.exitCode === 0) return { ok: true, details: `pg_ctl ${action} succeeded` };
    if ((action === 'stop' || action === 'faststop') && result.exitCode === STOP_STILL_RUNNING_EXIT) {
      return { ok: false, details: `pg_ctl ${action}: the server was still running after ${waitSeconds} s (${output})` };
    }
    return { ok: false, details: `pg_ctl ${action} exited ${String(result.exitCode)}: ${output}` };
  },
};
