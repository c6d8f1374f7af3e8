/**
 * Old masters stay fenced: every check cycle asks each fenced server whether it accepts writes,
 * and stops it at once if it does (it came back from a partition or a freeze). A fence that was
 * unconfirmed (unreachable at the failover) becomes confirmed once its control channel says it
 * is stopped, or it answers read-only. With auto_rejoin, a fenced server that is reachable and
 * stopped is rewound and rejoined as a replica.
 */
import { databaseAnswer, fenceServer } from './fence.js';
import { rejoinAsReplica } from './rejoin.js';
import { observeRunning } from '../observe.js';
import { ref, type TopologyEnv } from './env.js';

/** Servers HandyRep keeps fenced. */
export function fencedServers(env: TopologyEnv): string[] {
  return env.book.names().filter((n) => env.book.get(n).fenced);
}

/** Re-fence any fenced server that accepts writes again. Returns one sentence per action taken. */
export async function enforceFencing(env: TopologyEnv): Promise<string[]> {
  const notes = await Promise.all(
    fencedServers(env).map(async (name) => {
      const answer = await databaseAnswer(env, name);
      if (answer === 'writable') {
        env.log.error('FENCE', `fenced old master ${name} is accepting writes again: stopping it`, name, 'CRITICAL');
        const result = await fenceServer(env, name);
        env.book.applyStatus(name, { status: 'down', message: `fenced again after it came back writable: ${result.details}` });
        if (result.fenced) confirmFence(env, name, result.details);
        return result.fenced ? `re-fenced ${name}` : `could NOT re-fence ${name}: ${result.details}`;
      }
      if (env.book.get(name).fence_unconfirmed === true) {
        // Proof is its own read-only answer, or its control channel saying it is not running.
        if (answer === 'read_only') confirmFence(env, name, 'it answers read-only');
        else if ((await observeRunning({ ctx: env.ctx(), plugins: env.plugins }, ref(env, name))) === false) confirmFence(env, name, 'its control channel says it is not running');
        else return null;
        return `fence of ${name} confirmed`;
      }
      return null;
    }),
  );
  return notes.filter((n): n is string => n !== null);
}

function confirmFence(env: TopologyEnv, name: string, how: string): void {
  const record = env.book.get(name);
  if (record.fence_unconfirmed !== true) return;
  env.book.putServer(name, { ...record, fence_unconfirmed: false }, `fence confirmed: ${how}`);
  env.log.warn('FENCE', `fence of old master ${name} confirmed: ${how}`, name);
}

/** With auto_rejoin, rejoin fenced servers that are stopped and reachable. */
export async function rejoinFenced(env: TopologyEnv): Promise<string[]> {
  const master = env.book.masterName();
  if (master === null || !env.ctx().config.failover.auto_rejoin) return [];
  const notes: string[] = [];
  for (const name of fencedServers(env)) {
    const running = await observeRunning({ ctx: env.ctx(), plugins: env.plugins }, ref(env, name));
    if (running !== false) continue;
    const result = await rejoinAsReplica(env, name, master, true);
    notes.push(result.details);
    if (!result.ok) env.book.applyStatus(name, { status: 'down', message: `fenced old master; ${result.details}` });
  }
  return notes;
}
