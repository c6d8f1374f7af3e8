/**
 * clone_basebackup (default clone method): pg_basebackup run ON THE TARGET NODE over its control
 * channel, streaming WAL alongside (-X stream) so the copy is consistent by itself, with a fast
 * checkpoint and progress (-P) read from its output once a second. The replication password, if
 * any, reaches it through a temporary passfile written over stdin, never on a command line.
 *
 * -R only when asked (the node agent: standby.signal in the copy the moment it is complete); the
 * runtime writes the standby configuration itself either way, pointing at the current master
 * (which need not be the server copied from).
 */
import { z } from 'zod';
import { describeError } from '../../model/errors.js';
import { pluginSettings } from '../settings.js';
import type { ClonePlugin, CloneRequest, PluginContext } from '../types.js';
import { runNodeJob } from './node-job.js';
import { passfileLine, withPassfile } from '../../nodes/passfile.js';
import { parseBasebackupProgress } from './progress.js';
import { cloneTimeoutSchema, extraArgsSchema, progressIntervalSchema, verifyTimeoutSchema } from './settings.js';
import { basebackupOutputs, misreadBasebackupOption, missingVerifyTool, verifyCopy } from './verify-copy.js';

const settingsSchema = z
  .object({
    /** e.g. ["--max-rate=50M"] to spare the source's disks and network. */
    extra_parameters: extraArgsSchema.superRefine((args, issue) => {
      // The verification reads -X and --no-manifest from them (verify-copy.ts): no spelling it could misread.
      for (const [i, arg] of args.entries()) {
        const problem = misreadBasebackupOption(arg);
        if (problem !== null) issue.addIssue({ code: 'custom', path: [i], message: problem });
      }
    }),
    timeout_seconds: cloneTimeoutSchema,
    /** The verification's own time limit (default: timeout_seconds), see settings.ts. */
    verify_timeout_seconds: verifyTimeoutSchema,
    progress_interval_seconds: progressIntervalSchema,
  })
  .strict();

/** The pg_basebackup argv (exported for unit tests): never holds a password. */
export function basebackupArgv(request: Pick<CloneRequest, 'target' | 'source' | 'writeStandbySignal'>, replicationUser: string, extra: readonly string[]): string[] {
  const { target, source } = request;
  return [
    `${target.pg_bin_dir}/pg_basebackup`,
    '-D', target.pgdata,
    '-h', source.hostname,
    '-p', String(source.port),
    '-U', replicationUser,
    '-X', 'stream',
    '-c', 'fast',
    '-P',
    '-w',
    '-l', `handyrep clone of ${target.name}`,
    ...(request.writeStandbySignal === true ? ['-R'] : []),
    ...extra,
  ];
}

export const cloneBasebackup: ClonePlugin = {
  name: 'clone_basebackup',
  kind: 'clone',
  description: 'Copies the source with pg_basebackup (-X stream, fast checkpoint) run on the target node.',
  async clone(ctx: PluginContext, request: CloneRequest) {
    const settings = pluginSettings(ctx, 'clone_basebackup', settingsSchema);
    const { target, source } = request;
    const user = ctx.config.handyrep.replication_user;
    const password = ctx.config.passwords.replication_pass;
    const shell = ctx.shellFor(target);
    const argv = basebackupArgv(request, user, settings.extra_parameters);
    const outputs = basebackupOutputs(settings.extra_parameters);
    try {
      const missing = outputs.manifest ? await missingVerifyTool(shell, target, outputs.walCopied, ctx.timeouts.commandMs) : null;
      if (missing !== null) return { ok: false, details: missing };
      const line = password ? passfileLine(source.hostname, source.port, user, password) : null;
      const job = await withPassfile(shell, line, (passfile) =>
        runNodeJob(shell, passfile === null ? argv : ['env', `PGPASSFILE=${passfile}`, ...argv], {
          timeoutMs: settings.timeout_seconds * 1000,
          signal: request.signal,
          pollMs: settings.progress_interval_seconds * 1000,
          onOutput: (tail) => {
            const progress = parseBasebackupProgress(tail);
            if (progress) request.progress(progress);
          },
        }),
      );
      if (job.cancelled) return { ok: false, details: `pg_basebackup cancelled: ${job.output}` };
      if (job.timedOut) return { ok: false, details: `pg_basebackup timed out after ${settings.timeout_seconds} s: ${job.output}` };
      if (job.exitCode !== 0) return { ok: false, details: `pg_basebackup exited ${String(job.exitCode)}: ${job.output}` };
      // Verified before anything else touches the copy (verify-copy.ts), with a time limit of its own:
      // a copy that used most of timeout_seconds must not leave its verification seconds (review s8 S3).
      if (!outputs.manifest) return { ok: true, details: `pg_basebackup from ${source.name} finished; not verified whole (--no-manifest: no backup_manifest)` };
      const verified = await verifyCopy(shell, target, outputs.walCopied, (settings.verify_timeout_seconds ?? settings.timeout_seconds) * 1000, request.signal, true);
      return { ok: verified.ok, details: `pg_basebackup from ${source.name} finished; ${verified.details}` };
    } catch (err) {
      return { ok: false, details: `pg_basebackup could not be run on ${target.name}: ${describeError(err)}` };
    }
  },
};
