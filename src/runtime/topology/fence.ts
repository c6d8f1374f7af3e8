/**
 * Fencing an old master (design.md §5.2): it must not accept writes once another server is
 * promoted. Escalates: clean fast stop, immediate stop, SIGKILL of the instance's process group
 * (a frozen master ignores everything else). When its control channel is gone too, it counts as
 * fenced only if it also refuses or ignores database connections (the seed's shutdown flow);
 * a master that still accepts connections and cannot be stopped is not fenced, and the caller
 * must not promote.
 */
import { describeError } from '../../model/errors.js';
import { SqlConnectError } from '../../nodes/sql-client.js';
import type { ControlAction } from '../../plugins/types.js';
import { observeRunning } from '../observe.js';
import { ref, withSession, type TopologyEnv } from './env.js';

export type FenceResult = { fenced: true; how: 'stopped' | 'killed' | 'unreachable'; details: string } | { fenced: false; details: string };

/** Short waits: a master that does not stop in a few seconds is escalated, not waited for. */
const FENCE_WAIT_SECONDS: Partial<Record<ControlAction, number>> = { stop: 3, faststop: 2 };

async function control(env: TopologyEnv, name: string, action: ControlAction): Promise<{ ok: boolean; details: string }> {
  const server = ref(env, name);
  try {
    const waitSeconds = FENCE_WAIT_SECONDS[action];
    return await env.plugins.get('restart', server.restart_method).control(env.ctx(), server, action, waitSeconds ? { waitSeconds } : {});
  } catch (err) {
    return { ok: false, details: describeError(err) };
  }
}

async function running(env: TopologyEnv, name: string): Promise<boolean | null> {
  return observeRunning({ ctx: env.ctx(), plugins: env.plugins }, ref(env, name));
}

/** Does the server accept a database session and is it writable? null: no answer at all. */
export async function acceptsWrites(env: TopologyEnv, name: string): Promise<boolean | null> {
  try {
    return await withSession(env, ref(env, name), async (s) => {
      const rows = await s.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      return rows[0]?.r === false;
    });
  } catch (err) {
    if (err instanceof SqlConnectError && (err.kind === 'refused' || err.kind === 'starting')) return false;
    return null;
  }
}

export async function fenceServer(env: TopologyEnv, name: string): Promise<FenceResult> {
  const stop = await control(env, name, 'stop');
  let state = await running(env, name);
  if (state === false) return { fenced: true, how: 'stopped', details: `${name} stopped (${stop.details})` };
  if (state === true) {
    await control(env, name, 'faststop');
    state = await running(env, name);
    if (state === false) return { fenced: true, how: 'stopped', details: `${name} stopped in immediate mode` };
    const kill = await control(env, name, 'kill');
    state = await running(env, name);
    if (state === false || kill.ok) return { fenced: true, how: 'killed', details: `${name} ignored stop requests; its processes were killed (${kill.details})` };
    return { fenced: false, details: `${name} is still running and cannot be stopped: ${stop.details}; ${kill.details}` };
  }
  // No control channel answer: decide by the database port.
  const writable = await acceptsWrites(env, name);
  if (writable === true) return { fenced: false, details: `${name} cannot be stopped (${stop.details}) and still accepts writes` };
  if (writable === false) {
    return { fenced: true, how: 'unreachable', details: `${name} cannot be stopped (${stop.details}) but refuses connections or is read-only` };
  }
  return { fenced: true, how: 'unreachable', details: `${name} cannot be reached at all (${stop.details}); it will be stopped as soon as it reappears` };
}
