/**
 * Point a replica at a (new) master: ALTER SYSTEM SET primary_conninfo and reload, which on
 * PostgreSQL 13+ restarts the WAL receiver without restarting the server; older versions are
 * restarted. Optionally a physical replication slot per replica on the master. The values are
 * quoted by the server itself (format %L), never by string concatenation.
 */
import type { HandyRepConfig } from '../../config/schema.js';
import { describeError } from '../../model/errors.js';
import { conninfoString, type ConninfoPart } from '../../nodes/pg-conf-quote.js';
import type { ServerRef } from '../../plugins/types.js';
import { assertMayAct, ref, withMonitoringSession, withSession, type TopologyEnv } from './env.js';

/** The replica's conninfo for `master`, every value quoted for libpq (see pg-conf-quote.ts). */
export function primaryConninfo(env: TopologyEnv, replica: ServerRef, master: ServerRef): string {
  return primaryConninfoFor(env.ctx().config, replica.name, master);
}

/** The same from the configuration alone (the node agent has no topology environment). */
export function primaryConninfoFor(config: Readonly<HandyRepConfig>, replicaName: string, master: Pick<ServerRef, 'name' | 'hostname' | 'port' | 'sslmode' | 'sslrootcert'>): string {
  const parts: ConninfoPart[] = [
    { key: 'host', value: master.hostname, setting: `servers.${master.name}.hostname` },
    { key: 'port', value: String(master.port), setting: `servers.${master.name}.port` },
    { key: 'user', value: config.handyrep.replication_user, setting: 'handyrep.replication_user' },
    { key: 'application_name', value: replicaName, setting: `the server name ${replicaName}` },
    // TLS as HandyRep connects to the master; the CA file must be at the same path on the replica.
    { key: 'sslmode', value: master.sslmode, setting: `servers.${master.name}.sslmode` },
  ];
  if (master.sslrootcert !== null) parts.push({ key: 'sslrootcert', value: master.sslrootcert, setting: `servers.${master.name}.sslrootcert` });
  if (config.passwords.replication_pass) parts.push({ key: 'password', value: config.passwords.replication_pass, setting: 'passwords.replication_pass' });
  return conninfoString(parts);
}

export function slotName(replica: string): string {
  return `handyrep_${replica.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
}

export async function alterSystem(session: { query: (t: string, p?: readonly (string | null)[]) => Promise<Record<string, unknown>[]> }, setting: string, value: string): Promise<void> {
  const rows = await session.query('SELECT format($1, $2::text) AS stmt', [`ALTER SYSTEM SET ${setting} = %L`, value]);
  await session.query(String(rows[0]?.stmt));
}

/** Repoint `replicaName` at `masterName`, then wait until it streams from it. */
export async function remasterReplica(env: TopologyEnv, replicaName: string, masterName: string, waitMs = 15000): Promise<{ ok: boolean; details: string }> {
  const replica = ref(env, replicaName);
  const master = ref(env, masterName);
  const useSlots = env.ctx().config.failover.use_replication_slots;
  try {
    assertMayAct(env, `remaster of ${replicaName}`);
    if (useSlots) {
      await withSession(env, master, (s) =>
        s.query('SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)', [slotName(replicaName)]),
      );
    }
    const versionNum = await withSession(env, replica, async (s) => {
      assertMayAct(env, `ALTER SYSTEM on ${replicaName}`);
      await alterSystem(s, 'primary_conninfo', primaryConninfo(env, replica, master));
      if (useSlots) await alterSystem(s, 'primary_slot_name', slotName(replicaName));
      await s.query('SELECT pg_reload_conf()');
      const rows = await s.query<{ v: number }>("SELECT current_setting('server_version_num')::int AS v");
      return rows[0]?.v ?? 0;
    });
    if (versionNum < 130000) {
      const restart = await env.nodeControl.restart(replicaName);
      if (restart.result !== 'SUCCESS') return { ok: false, details: `${replicaName}: configuration changed but restart failed: ${restart.details}` };
    }
  } catch (err) {
    return { ok: false, details: `${replicaName}: cannot change primary_conninfo: ${describeError(err)}` };
  }
  return waitStreamingFrom(env, replicaName, master.hostname, waitMs);
}

/** Wait until the replica's WAL receiver streams from `host`. */
export async function waitStreamingFrom(env: TopologyEnv, replicaName: string, host: string, waitMs: number): Promise<{ ok: boolean; details: string }> {
  const deadline = env.clock().getTime() + waitMs;
  let last = '';
  for (;;) {
    try {
      const row = await withMonitoringSession(env, ref(env, replicaName), async (s) =>
        (await s.query<{ status: string | null; sender_host: string | null }>('SELECT status, sender_host FROM pg_stat_wal_receiver'))[0],
      );
      if (row?.status === 'streaming' && row.sender_host === host) return { ok: true, details: `${replicaName} streams from ${host}` };
      last = row ? `WAL receiver ${String(row.status)} from ${String(row.sender_host)}` : 'no WAL receiver yet';
    } catch (err) {
      last = describeError(err);
    }
    if (env.clock().getTime() >= deadline) return { ok: false, details: `${replicaName} does not stream from ${host}: ${last}` };
    await env.sleep(200);
  }
}
