/**
 * Rejoin an old master as a replica of the new one. After a clean switchover its WAL ends at the
 * shutdown checkpoint the new master replayed, so it only needs standby.signal; after a crash or
 * a partition its timeline may have diverged, so pg_rewind first (PostgreSQL 13+ finishes crash
 * recovery itself). The rewind's password travels through a temporary passfile written over
 * stdin, never on a command line (nodes/passfile.ts).
 */
import { randomBytes } from 'node:crypto';
import { describeError } from '../../model/errors.js';
import { passfileLine, withPassfile } from '../../nodes/passfile.js';
import { confLines, conninfoString } from '../../nodes/pg-conf-quote.js';
import type { ServerRef } from '../../plugins/types.js';
import { observeRunning } from '../observe.js';
import { assertMayAct, ref, withSession, type TopologyEnv } from './env.js';
import { primaryConninfo, remasterReplica } from './remaster.js';

/** Configuration files that belong to the node, not to the cluster's data. */
function configFiles(server: ServerRef): string[] {
  return ['postgresql.conf', 'postgresql.auto.conf', 'pg_hba.conf', 'pg_ident.conf'].map((f) => `${server.pgdata}/${f}`);
}

async function runOnNode(env: TopologyEnv, server: ServerRef, argv: string[], timeoutMs: number, stdin?: string): Promise<{ ok: boolean; output: string }> {
  const result = await env.ctx().shellFor(server).run(argv, stdin === undefined ? { timeoutMs } : { timeoutMs, stdin });
  const output = `${result.stdout}${result.stderr}`.trim().split('\n').slice(-4).join(' | ');
  return { ok: result.exitCode === 0 && !result.timedOut, output: result.timedOut ? `timed out: ${output}` : output };
}

async function rewind(env: TopologyEnv, old: ServerRef, master: ServerRef): Promise<{ ok: boolean; details: string }> {
  const config = env.ctx().config;
  // pg_rewind reads the source's timeline from its control file, which a just-promoted master
  // updates only at its next checkpoint: without this the target is rewound onto the old timeline.
  await withSession(env, master, (s) => s.query('CHECKPOINT'), 120000);
  const conninfo = conninfoString([
    { key: 'host', value: master.hostname, setting: `servers.${master.name}.hostname` },
    { key: 'port', value: String(master.port), setting: `servers.${master.name}.port` },
    { key: 'user', value: config.handyrep.handyrep_user, setting: 'handyrep.handyrep_user' },
    { key: 'dbname', value: config.handyrep.handyrep_db, setting: 'handyrep.handyrep_db' },
  ]);
  const timeoutMs = Math.max(env.ctx().timeouts.commandMs, 120000);
  const rewindArgv = [`${old.pg_bin_dir}/pg_rewind`, '-D', old.pgdata, '--source-server', conninfo];
  const password = config.passwords.handyrep_db_pass;
  const line = password ? passfileLine(master.hostname, master.port, config.handyrep.handyrep_user, password) : null;
  try {
    const result = await withPassfile(env.ctx().shellFor(old), line, (passfile) =>
      runOnNode(env, old, passfile === null ? rewindArgv : ['env', `PGPASSFILE=${passfile}`, ...rewindArgv], timeoutMs),
    );
    return { ok: result.ok, details: `pg_rewind: ${result.output}` };
  } catch (err) {
    // Returned, not thrown: the caller must still restore the node's configuration files.
    return { ok: false, details: `pg_rewind not run: ${describeError(err)}` };
  }
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
      // A leftover standby.signal (an earlier attempt) would stop pg_rewind's crash recovery run.
      await runOnNode(env, old, ['rm', '-f', `${old.pgdata}/standby.signal`], 10000);
      // pg_rewind copies the source's configuration files; the node keeps its own (listen address, ...).
      // The copies live outside the data folder: pg_rewind deletes files the source does not have.
      const keep = `/tmp/handyrep-rewind-${randomBytes(6).toString('hex')}`;
      const saved = await runOnNode(env, old, ['sh', '-c', 'd=$1; shift; mkdir -m 700 "$d" && for f in "$@"; do if [ -f "$f" ]; then cp -p "$f" "$d/"; fi; done', 'keep_config', keep, ...configFiles(old)], 10000);
      if (!saved.ok) return { ok: false, details: `${oldName}: cannot save its configuration files before pg_rewind: ${saved.output}` };
      assertMayAct(env, `pg_rewind of ${oldName}`);
      const rewound = await rewind(env, old, master);
      const restored = await runOnNode(env, old, ['sh', '-c', 'd=$1; p=$2; cp -p "$d"/* "$p"/ && rm -rf "$d"', 'restore_config', keep, old.pgdata], 10000);
      if (!restored.ok) return { ok: false, details: `${oldName}: cannot restore its configuration files after pg_rewind (saved in ${keep}): ${restored.output}` };
      if (!rewound.ok) return { ok: false, details: `${oldName}: rewind failed, reclone needed: ${rewound.details}` };
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
