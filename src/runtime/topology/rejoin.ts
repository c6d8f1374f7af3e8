/**
 * Rejoin an old master as a replica of the new one. After a clean switchover its WAL ends at the
 * shutdown checkpoint the new master replayed, so it only needs standby.signal; after a crash or
 * a partition its timeline may have diverged, so pg_rewind first (rewind.ts; PostgreSQL 13+
 * finishes crash recovery itself).
 */
import { describeError } from '../../model/errors.js';
import { confLines } from '../../nodes/pg-conf-quote.js';
import type { ServerRef } from '../../plugins/types.js';
import { observeRunning } from '../observe.js';
import { assertMayAct, ref, withSession, type TopologyEnv } from './env.js';
import { primaryConninfo, remasterReplica } from './remaster.js';
import { rewindKeepingConfig, runOn } from './rewind.js';

async function runOnNode(env: TopologyEnv, server: ServerRef, argv: string[], timeoutMs: number, stdin?: string): Promise<{ ok: boolean; output: string }> {
  return runOn(env.ctx().shellFor(server), argv, timeoutMs, stdin);
}

/**
 * Make `oldName` a streaming replica of `masterName`. `useRewind` false is for a clean
 * switchover. On success the server is an enabled, unfenced replica.
 */
export async function rejoinAsReplica(env: TopologyEnv, oldName: string, masterName: string, useRewind: boolean): Promise<{ ok: boolean; details: string }> {
  const old = ref(env, oldName);
  const master = ref(env, masterName);
  try {
    assertMayAct(env, `rejoin of ${oldName}`);
    const running = await observeRunning({ ctx: env.ctx(), plugins: env.plugins }, old);
    if (running !== false) {
      return { ok: false, details: `${oldName} must be stopped and reachable over its control channel to rejoin (running: ${String(running)})` };
    }
    if (useRewind) {
      // pg_rewind reads the source's timeline from its control file, which a just-promoted master
      // updates only at its next checkpoint: without this the target is rewound onto the old timeline.
      await withSession(env, master, (s) => s.query('CHECKPOINT'), 120000);
      const timeoutMs = Math.max(env.ctx().timeouts.commandMs, 120000);
      const rewound = await rewindKeepingConfig(env.ctx().shellFor(old), env.ctx().config, old, master, timeoutMs, () => assertMayAct(env, `pg_rewind of ${oldName}`));
      if (!rewound.ok) return rewound;
    }
    // The upstream must be known before start: a rewound standby needs the new master's WAL to
    // become consistent. Appended over stdin (the conninfo may hold a password); the last setting
    // in the file wins, and the remaster below rewrites it with ALTER SYSTEM.
    const settings = confLines({ primary_conninfo: primaryConninfo(env, old, master) });
    const append = await runOnNode(env, old, ['sh', '-c', 'cat >> "$1"', 'set_upstream', `${old.pgdata}/postgresql.auto.conf`], 10000, settings);
    if (!append.ok) return { ok: false, details: `${oldName}: cannot set primary_conninfo: ${append.output}` };
    const signal = await runOnNode(env, old, ['touch', `${old.pgdata}/standby.signal`], 10000);
    if (!signal.ok) return { ok: false, details: `${oldName}: cannot write standby.signal: ${signal.output}` };
    env.book.putServer(oldName, { ...env.book.get(oldName), role: 'replica', enabled: true, fenced: false, fence_unconfirmed: false }, `rejoining as a replica of ${masterName}`);
    const start = await env.nodeControl.startup(oldName);
    if (start.result !== 'SUCCESS' && !(await isUp(env, oldName))) {
      env.book.putServer(oldName, { ...env.book.get(oldName), enabled: false, fenced: true }, 'rejoin failed: does not start as a replica');
      return { ok: false, details: `${oldName}: does not start as a replica: ${start.details}` };
    }
    const remastered = await remasterReplica(env, oldName, masterName);
    if (!remastered.ok) return { ok: false, details: `${oldName}: started as a replica but ${remastered.details}` };
    await env.checks.verifyServer(oldName);
    return { ok: true, details: `${oldName} rejoined as a replica of ${masterName}${useRewind ? ' after pg_rewind' : ''}` };
  } catch (err) {
    return { ok: false, details: `${oldName}: rejoin failed: ${describeError(err)}` };
  }
}

async function isUp(env: TopologyEnv, name: string): Promise<boolean> {
  return (await env.checks.pollServer(name)).result === 'SUCCESS';
}
