/**
 * local_command: run a command on the controller after a failover. The parameters are the argv;
 * `{newmaster}`, `{newmaster_host}`, `{newmaster_port}` and `{oldmaster}` inside any argument are
 * replaced. No shell is involved, so the values cannot inject anything.
 */
import { describeError } from '../../model/errors.js';
import type { CommandPlugin } from '../types.js';

export function expandPlaceholders(parameters: readonly string[], values: Readonly<Record<string, string>>): string[] {
  return parameters.map((p) => p.replace(/\{(newmaster|newmaster_host|newmaster_port|oldmaster)\}/g, (_, key: string) => values[key] ?? ''));
}

export const localCommand: CommandPlugin = {
  name: 'local_command',
  kind: 'command',
  description: 'Runs its parameters as a command on the controller, with {newmaster} and friends replaced.',
  async run(ctx, failover, parameters) {
    if (parameters.length === 0) return { ok: false, details: 'local_command needs the command as parameters' };
    const argv = expandPlaceholders(parameters, {
      newmaster: failover.newMaster.name,
      newmaster_host: failover.newMaster.hostname,
      newmaster_port: String(failover.newMaster.port),
      oldmaster: failover.oldMaster ?? '',
    });
    try {
      const result = await ctx.controllerShell.run(argv, { timeoutMs: ctx.timeouts.commandMs });
      if (result.exitCode === 0) return { ok: true, details: `${argv[0]} succeeded` };
      return { ok: false, details: `${argv[0]} exited ${String(result.exitCode)}${result.timedOut ? ' (timed out)' : ''}: ${result.stderr.trim()}` };
    } catch (err) {
      return { ok: false, details: `${argv[0]} could not be run: ${describeError(err)}` };
    }
  },
};
