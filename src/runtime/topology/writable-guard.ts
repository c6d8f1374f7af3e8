/**
 * Never create the second master (issue: failover correctness, path 8): before any promotion and
 * before restarting an old master, every other database server HandyRep knows (enabled, or a
 * fenced old master) is asked whether it accepts writes. One that does stops the change.
 */
import { isDatabaseRole } from '../../model/server.js';
import { acceptsWrites } from './fence.js';
import type { TopologyEnv } from './env.js';

/** Database servers other than `except` that accept writes right now. */
export async function otherWritableServers(env: TopologyEnv, except: readonly string[]): Promise<string[]> {
  const names = env.book.names().filter((n) => {
    const s = env.book.get(n);
    return !except.includes(n) && isDatabaseRole(s.role) && (s.enabled || s.fenced);
  });
  const answers = await Promise.all(names.map(async (n) => [n, await acceptsWrites(env, n)] as const));
  return answers.filter(([, writable]) => writable === true).map(([n]) => n);
}

/** null when `name` may become (or be restarted as) the master; else why not. */
export async function secondMasterRisk(env: TopologyEnv, name: string): Promise<string | null> {
  const writable = await otherWritableServers(env, [name]);
  return writable.length === 0 ? null : `${writable.join(', ')} ${writable.length === 1 ? 'accepts' : 'accept'} writes: ${name} would be a second master`;
}
