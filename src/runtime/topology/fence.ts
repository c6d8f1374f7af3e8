/**
 * Fencing an old master (design.md §5.2): it must not accept writes once another server is
 * promoted. Escalates: clean fast stop, immediate stop, kill of the whole instance (a frozen
 * master ignores everything else). When its control channel is gone too, it counts as fenced
 * only if it answers read-only (a refused connection may be a firewall's). A master that
 * cannot be reached at all is NOT fenced ("unreachable" proves nothing: it may be taking writes
 * behind a partition); the caller decides, by configuration, whether to refuse the failover.
 */
import { describeError } from '../../model/errors.js';
import { SqlConnectError } from '../../nodes/sql-client.js';
import type { ControlAction } from '../../plugins/types.js';
import { observeRunning } from '../observe.js';
import { assertMayAct, ref, withinQuickDeadline, withMonitoringSession, type TopologyEnv } from './env.js';

export type FenceResult =
  | { fenced: true; how: 'stopped' | 'killed' | 'not_accepting' | 'lease_released'; details: string }
  /** unreachable: nothing answered at all (neither control channel nor database port). */
  | { fenced: false; unreachable: boolean; details: string };

/** Short waits: a master that does not stop in a few seconds is escalated, not waited for. */
const KILL_CONFIRM_LOOKS = 10;
const KILL_CONFIRM_INTERVAL_MS = 200;
const FENCE_WAIT_SECONDS: Partial<Record<ControlAction, number>> = { stop: 3, faststop: 2 };

async function control(env: TopologyEnv, name: string, action: ControlAction): Promise<{ ok: boolean; details: string }> {
  const server = ref(env, name);
  try {
    assertMayAct(env, `${action} of ${name}`);
    const waitSeconds = FENCE_WAIT_SECONDS[action];
    return await env.plugins.get('restart', server.restart_method).control(env.ctx(), server, action, waitSeconds ? { waitSeconds } : {});
  } catch (err) {
    return { ok: false, details: describeError(err) };
  }
}

/**
 * null: no answer. `quick`: within the short deadline (env.ts withinQuickDeadline) — only where the
 * lease already proved the fence and the database port is asked with its full timeout beside it.
 */
async function running(env: TopologyEnv, name: string, quick = false): Promise<boolean | null> {
  const asked = observeRunning({ ctx: env.ctx(), plugins: env.plugins }, ref(env, name));
  return quick ? withinQuickDeadline(env, name, asked, null) : asked;
}

export type DatabaseAnswer = 'writable' | 'read_only' | 'refused' | 'starting' | 'no_answer';

/**
 * What the server's database port says right now, within the full connect timeout, always: with
 * the lease gone, a port that answers writable is the only sign of an agent killed while its
 * PostgreSQL runs (the documented hole), and one lost SYN alone takes a second.
 */
export async function databaseAnswer(env: TopologyEnv, name: string): Promise<DatabaseAnswer> {
  // After a lapse: the answer of the same full-timeout question asked back-to-back since its silence.
  const known = (await env.recentDatabaseAnswer?.(name)) ?? null;
  return known ?? askDatabase(env, name);
}

/** The database port asked now, with the full connect timeout. */
export async function askDatabase(env: TopologyEnv, name: string): Promise<DatabaseAnswer> {
  try {
    return await withMonitoringSession(env, ref(env, name), async (s) => {
      const rows = await s.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      return rows[0]?.r === false ? 'writable' : 'read_only';
    });
  } catch (err) {
    if (err instanceof SqlConnectError && err.kind === 'refused') return 'refused';
    if (err instanceof SqlConnectError && err.kind === 'starting') return 'starting';
    return 'no_answer';
  }
}

/** Does the server accept a database session and is it writable? null: no answer at all. */
export async function acceptsWrites(env: TopologyEnv, name: string): Promise<boolean | null> {
  const answer = await databaseAnswer(env, name);
  return answer === 'no_answer' ? null : answer === 'writable';
}

/** After a kill the instance may take a moment to be gone (reaped): look a few times. */
async function stoppedSoon(env: TopologyEnv, name: string): Promise<boolean | null> {
  let state = await running(env, name);
  for (let i = 0; i < KILL_CONFIRM_LOOKS && state === true; i += 1) {
    await env.sleep(KILL_CONFIRM_INTERVAL_MS);
    state = await running(env, name);
  }
  return state;
}

export async function fenceServer(env: TopologyEnv, name: string): Promise<FenceResult> {
  // Asked first: a crashed master (the usual failover) is seen stopped in one command, not two.
  // The agent's lease is read at the same time: for a host that is gone, every control command
  // below would only wait out its connect timeout (seconds of write unavailability).
  // Its database port too (under agent_lease), so the three timeouts of a gone host run side by side.
  const leasePath = env.ctx().config.failover.unreachable_master === 'agent_lease';
  const port = leasePath ? databaseAnswer(env, name) : null;
  // The lease first (one etcd read): only once it is gone (seen held while healthy) may the control
  // channel's question be cut short; the port keeps its full timeout either way.
  const byLease = await fencedByAgentLease(env, name);
  const [before, portAnswer] = await Promise.all([running(env, name, byLease !== null), port]);
  if (before === false) return { fenced: true, how: 'stopped', details: `${name} is not running` };
  // No control channel and the lease is gone: still, a database port that answers writable
  // (an agent killed without fencing, the documented hole) is no proof of anything.
  if (before === null && byLease !== null && (portAnswer === 'refused' || portAnswer === 'no_answer')) {
    return { fenced: true, how: 'lease_released', details: `${name}'s control channel does not answer; ${byLease}` };
  }
  const stop = await control(env, name, 'stop');
  let state = await running(env, name);
  if (state === false) return { fenced: true, how: 'stopped', details: `${name} stopped (${stop.details})` };
  if (state === true) {
    await control(env, name, 'faststop');
    state = await running(env, name);
    if (state === false) return { fenced: true, how: 'stopped', details: `${name} stopped in immediate mode` };
    const kill = await control(env, name, 'kill');
    state = await stoppedSoon(env, name);
    if (state === false || (kill.ok && state === null)) return { fenced: true, how: 'killed', details: `${name} ignored stop requests; its processes were killed (${kill.details})` };
    return { fenced: false, unreachable: false, details: `${name} is still running and cannot be stopped: ${stop.details}; ${kill.details}` };
  }
  // No control channel answer: only a database port that positively refuses (or answers
  // read-only) proves it takes no writes.
  const answer = await databaseAnswer(env, name);
  if (answer === 'refused' || answer === 'no_answer') {
    const byLease = await fencedByAgentLease(env, name);
    if (byLease !== null) return { fenced: true, how: 'lease_released', details: `${name} cannot be stopped (${stop.details}); ${byLease}` };
  }
  switch (answer) {
    case 'refused':
      // A refusal could come from a firewall between us while clients on its side still write:
      // without the control channel confirming the instance is down, it proves nothing.
      return { fenced: false, unreachable: true, details: `${name} cannot be stopped (${stop.details}) and refuses our database connections, which proves nothing without its control channel` };
    case 'read_only':
      return { fenced: true, how: 'not_accepting', details: `${name} cannot be stopped (${stop.details}) but answers read-only (in recovery)` };
    case 'writable':
      return { fenced: false, unreachable: false, details: `${name} cannot be stopped (${stop.details}) and still accepts writes` };
    case 'starting':
      return { fenced: false, unreachable: false, details: `${name} cannot be stopped (${stop.details}) and its PostgreSQL is starting up` };
    case 'no_answer':
      return { fenced: false, unreachable: true, details: `${name} cannot be reached at all (${stop.details}): not fenced, it may still be taking writes` };
  }
}

/**
 * failover.unreachable_master agent_lease: a master nobody reaches counts as fenced once its node
 * agent, seen holding the master lease while the master was healthy, no longer holds it — the
 * agent stops its PostgreSQL before it lets the lease lapse (design §9 rule 1). Else null.
 */
export async function fencedByAgentLease(env: TopologyEnv, name: string): Promise<string | null> {
  if (env.ctx().config.failover.unreachable_master !== 'agent_lease' || !env.masterLease) return null;
  const lease = await env.masterLease.state(name);
  return lease === 'released' ? `its node agent's master lease is gone from etcd (the agent stops PostgreSQL before the lease lapses)` : null;
}
