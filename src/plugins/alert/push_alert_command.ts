/**
 * push_alert_command: run a command on the controller for each alert. The alert goes in as the
 * last four arguments (type, category, server or "", message) and as JSON on standard input.
 * No shell is involved: whatever the message holds, it is one argument.
 */
import { z } from 'zod';
import { describeError } from '../../model/errors.js';
import { pluginSettings } from '../settings.js';
import { settingsCheck, type ConfigCheckedPlugin } from '../config-check.js';
import type { AlertPlugin } from '../types.js';

const NAME = 'push_alert_command';

const settingsSchema = z
  .object({
    command: z
      .array(z.string().min(1).refine((a) => !a.includes('\0'), 'must not contain NUL'))
      .min(1, 'must name the program to run')
      .describe('The program and its first arguments, e.g. ["/usr/local/bin/page-oncall", "--team", "db"].'),
  })
  .strict();

export const pushAlertCommand: AlertPlugin & ConfigCheckedPlugin = {
  name: NAME,
  checkConfig: settingsCheck(NAME, settingsSchema),
  kind: 'alert',
  description: 'Runs a command on the controller with the alert as arguments (type, category, server, message) and as JSON on stdin.',
  async push(ctx, alert) {
    const { command } = pluginSettings(ctx, NAME, settingsSchema);
    const argv = [...command, alert.type, alert.category, alert.server ?? '', alert.message];
    try {
      const result = await ctx.controllerShell.run(argv, { timeoutMs: ctx.timeouts.commandMs, stdin: `${JSON.stringify(alert)}\n` });
      if (result.exitCode === 0) return { ok: true, details: `${command[0]} delivered the alert` };
      return { ok: false, details: `${command[0]} exited ${String(result.exitCode)}${result.timedOut ? ' (timed out)' : ''}: ${result.stderr.trim()}` };
    } catch (err) {
      return { ok: false, details: `${command[0]} could not be run: ${describeError(err)}` };
    }
  },
};
