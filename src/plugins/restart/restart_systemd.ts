/**
 * restart_systemd: systemctl on the node, for packaged installations (Debian: postgresql@15-main).
 * Runs through `sudo -n` when the login user is not root (use_sudo), since systemctl needs root.
 */
import { z } from 'zod';
import { nameSchema } from '../../config/validators.js';
import { describeError } from '../../model/errors.js';
import { pluginSettings } from '../settings.js';
import type { ControlAction, RestartPlugin } from '../types.js';

/** Exported for the agent, which validates the same section of its own configuration (src/agent/commands/). */
export const settingsSchema = z
  .object({
    service_name: z
      .string()
      .regex(/^[A-Za-z0-9@_.:-]+$/, 'must be a systemd unit name')
      .default('postgresql@15-main'),
    use_sudo: z.boolean().default(true),
    systemctl_path: nameSchema.or(z.string().regex(/^\/[A-Za-z0-9_./-]+$/)).default('systemctl'),
  })
  .strict();

/** The argv for an action (exported for unit tests). */
export function systemctlArgv(action: ControlAction, unit: string, useSudo: boolean, systemctl: string): string[] {
  const verb: Record<ControlAction, string[]> = {
    start: ['start', unit],
    stop: ['stop', unit],
    // systemd has no immediate-mode stop; SIGQUIT to the main process is PostgreSQL's immediate shutdown.
    faststop: ['kill', '--kill-whom=main', '--signal=SIGQUIT', unit],
    restart: ['restart', unit],
    reload: ['reload', unit],
    status: ['is-active', '--quiet', unit],
    kill: ['kill', '--kill-whom=all', '--signal=SIGKILL', unit],
  };
  return [...(useSudo ? ['sudo', '-n'] : []), systemctl, ...verb[action]];
}

export const restartSystemd: RestartPlugin = {
  name: 'restart_systemd',
  kind: 'restart',
  description: 'Controls PostgreSQL through its systemd unit (systemctl).',
  async control(ctx, server, action) {
    const settings = pluginSettings(ctx, 'restart_systemd', settingsSchema);
    const argv = systemctlArgv(action, settings.service_name, settings.use_sudo, settings.systemctl_path);
    let result;
    try {
      result = await ctx.shellFor(server).run(argv, { timeoutMs: ctx.timeouts.commandMs });
    } catch (err) {
      return { ok: false, details: `systemctl ${action} could not be run: ${describeError(err)}` };
    }
    const output = `${result.stdout}${result.stderr}`.trim();
    if (result.timedOut) return { ok: false, details: `systemctl ${action} timed out` };
    if (action === 'status') {
      // is-active: 0 active; 3 inactive/failed; anything else means systemctl itself failed.
      if (result.exitCode === 0) return { ok: true, running: true, details: `${settings.service_name} is active` };
      if (result.exitCode === 3) return { ok: true, running: false, details: `${settings.service_name} is not active` };
      return { ok: false, details: `systemctl is-active exited ${String(result.exitCode)}: ${output}` };
    }
    if (result.exitCode === 0) return { ok: true, details: `systemctl ${action} ${settings.service_name} succeeded` };
    return { ok: false, details: `systemctl ${action} exited ${String(result.exitCode)}: ${output}` };
  },
};
