/**
 * poll_isready: run `pg_isready` on the controller. pg_isready cannot say whether a server refused
 * the connection or never answered (both exit 2), so a "no response" that came back well before
 * the timeout is taken as refused (nothing listening), a slow one as unreachable.
 */
import { z } from 'zod';
import { pathSchema } from '../../config/validators.js';
import { describeError } from '../../model/errors.js';
import { pluginSettings } from '../settings.js';
import type { PollPlugin } from '../types.js';

const settingsSchema = z
  .object({ isready_path: pathSchema.default('pg_isready') })
  .strict();

export const pollIsready: PollPlugin = {
  name: 'poll_isready',
  kind: 'poll',
  description: 'Runs pg_isready on the controller against the server.',
  async poll(ctx, server) {
    const { isready_path } = pluginSettings(ctx, 'poll_isready', settingsSchema);
    // pg_isready takes whole seconds and treats 0 as "wait forever".
    const timeoutSeconds = Math.max(1, Math.ceil(ctx.timeouts.connectMs / 1000));
    const argv = [isready_path, '-q', '-h', server.hostname, '-p', String(server.port), '-t', String(timeoutSeconds)];
    const started = Date.now();
    let result;
    try {
      result = await ctx.controllerShell.run(argv, { timeoutMs: timeoutSeconds * 1000 + 2000 });
    } catch (err) {
      return { ok: false, kind: 'other', reason: describeError(err), latencyMs: Date.now() - started };
    }
    const latencyMs = Date.now() - started;
    switch (result.exitCode) {
      case 0:
        return { ok: true, inRecovery: null, latencyMs };
      case 1:
        return { ok: false, kind: 'starting', reason: 'pg_isready: server is rejecting connections', latencyMs };
      case 2: {
        const fast = latencyMs < Math.min(500, (timeoutSeconds * 1000) / 2);
        return fast
          ? { ok: false, kind: 'refused', reason: 'pg_isready: no response (answered at once: nothing listening)', latencyMs }
          : { ok: false, kind: 'timeout', reason: `pg_isready: no response within ${timeoutSeconds} s`, latencyMs };
      }
      default:
        return { ok: false, kind: 'other', reason: `pg_isready exited ${String(result.exitCode)}: ${result.stderr.trim()}`, latencyMs };
    }
  },
};
