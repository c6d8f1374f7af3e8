/**
 * The agent's hands for booting its stopped PostgreSQL as a standby of the recorded master (boot.ts
 * decided so): on the master a CHECKPOINT (pg_rewind reads the source's timeline from its control
 * file) and the replica's slot when slots are configured; then pg_rewind keeping the node's own
 * configuration files (shared with the controller's rejoin, runtime/topology/rewind.ts);
 * primary_conninfo (quoted by pg-conf-quote.ts, appended over a file write, never a shell) and
 * standby.signal. The caller starts PostgreSQL only when this returned ok.
 *
 * standby.signal is written FIRST, before anything can fail, and again right after pg_rewind (which
 * needs it gone: its crash-recovery run refuses standby mode), whether the rewind worked or not: a
 * folder the agent gave up on, started by hand with `pg_ctl start`, comes up as a standby, never
 * writable. Only while pg_rewind itself runs is the file absent.
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { HandyRepConfig } from '../config/schema.js';
import { resolveServer } from '../config/merge.js';
import { describeError } from '../model/errors.js';
import { LocalShell } from '../nodes/local-shell.js';
import { confLines } from '../nodes/pg-conf-quote.js';
import type { NodeShell } from '../nodes/ports.js';
import type { ServerRef } from '../plugins/types.js';
import { primaryConninfoFor, slotName } from '../runtime/topology/remaster.js';
import { rewindKeepingConfig } from '../runtime/topology/rewind.js';
import { rewindCannotJoin } from './boot.js';

type Resolved = Pick<ServerRef, 'name' | 'hostname' | 'port' | 'sslmode' | 'sslrootcert' | 'pgdata' | 'pgconf' | 'pg_bin_dir'>;

function resolved(config: Readonly<HandyRepConfig>, name: string): Resolved {
  const entry = config.servers[name];
  if (!entry) throw new Error(`no server ${JSON.stringify(name)} under servers`);
  return { ...resolveServer(config.server_defaults, entry), name };
}

/** A session to the master as handyrep_user (not yet connected). */
function masterClient(config: Readonly<HandyRepConfig>, master: Resolved): pg.Client {
  const client = new pg.Client({
    host: master.hostname,
    port: master.port,
    user: config.handyrep.handyrep_user,
    database: config.handyrep.handyrep_db,
    ...(config.passwords.handyrep_db_pass ? { password: config.passwords.handyrep_db_pass } : {}),
    application_name: 'handyrep-agent',
    connectionTimeoutMillis: 10_000,
    query_timeout: 120_000,
  });
  client.on('error', () => undefined);
  return client;
}

/**
 * CHECKPOINT on the master, and the replica's slot when configured (idempotent). Returns the size
 * of the master's databases in bytes (what a copy of it needs at least).
 */
export async function prepareMaster(config: Readonly<HandyRepConfig>, masterName: string, slot: string | null): Promise<{ databaseBytes: number; systemIdentifier: string }> {
  const master = resolved(config, masterName);
  const client = masterClient(config, master);
  try {
    await client.connect();
    await client.query('CHECKPOINT');
    if (slot !== null) {
      await client.query('SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)', [slot]);
    }
    const size = await client.query<{ bytes: number; sysid: string }>(
      'SELECT (SELECT sum(pg_database_size(oid))::float8 FROM pg_database) AS bytes, (SELECT system_identifier::text FROM pg_control_system()) AS sysid',
    );
    return { databaseBytes: size.rows[0]?.bytes ?? 0, systemIdentifier: size.rows[0]?.sysid ?? '' };
  } catch (err) {
    throw new Error(`the recorded master ${masterName} (${master.hostname}:${master.port}): ${describeError(err)}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * After a failed boot attempt: this node's slot on the master is dropped when no WAL receiver uses
 * it (a node that never joins must not make the master keep WAL; the next attempt creates it again
 * before its copy or rewind). Returns what happened, for the log; never throws.
 */
export async function dropIdleSlot(config: Readonly<HandyRepConfig>, masterName: string, slot: string): Promise<string> {
  const client = masterClient(config, resolved(config, masterName));
  try {
    await client.connect();
    const dropped = await client.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active', [slot]);
    return dropped.rowCount === 1 ? `slot ${slot} dropped on ${masterName}` : `slot ${slot} not dropped on ${masterName} (absent or in use)`;
  } catch (err) {
    return `slot ${slot} not dropped on ${masterName}: ${describeError(err)}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The replica's slot name when slots are configured. */
export function configuredSlot(config: Readonly<HandyRepConfig>, node: string): string | null {
  return config.failover.use_replication_slots ? slotName(node) : null;
}

/** primary_conninfo (and the slot) for `node` following `masterName`. */
export function standbySettingsFor(config: Readonly<HandyRepConfig>, node: string, masterName: string): Record<string, string> {
  const settings: Record<string, string> = { primary_conninfo: primaryConninfoFor(config, node, resolved(config, masterName)) };
  const slot = configuredSlot(config, node);
  if (slot !== null) settings['primary_slot_name'] = slot;
  return settings;
}

function writeStandbySignal(pgdata: string): void {
  if (existsSync(pgdata)) writeFileSync(join(pgdata, 'standby.signal'), '', { mode: 0o600 });
}

/**
 * Makes the stopped data folder of `node` a standby of `masterName`. `rewindFailed`: pg_rewind ran
 * and said it cannot join the timelines (WAL gone: boot.ts rewindCannotJoin; a reclone may help);
 * false for every other failure (master unreachable, timeout, another cluster, files).
 */
export async function prepareStandby(
  config: Readonly<HandyRepConfig>,
  node: string,
  masterName: string,
  shell: NodeShell = new LocalShell(),
  signal?: AbortSignal,
  /** Told as each step begins (the member record names it: boot-step-keeper.ts); the master's CHECKPOINT counts as the rewind's. */
  onStep: (step: 'rewind' | 'standby_settings') => void = () => undefined,
): Promise<{ ok: boolean; details: string; rewindFailed: boolean }> {
  let pgdata: string | null = null;
  try {
    const self = resolved(config, node);
    pgdata = self.pgdata;
    writeStandbySignal(pgdata);
    onStep('rewind');
    await prepareMaster(config, masterName, configuredSlot(config, node));
    if (signal?.aborted) return { ok: false, details: 'the agent is stopping: pg_rewind not started', rewindFailed: false };
    const rewound = await rewindKeepingConfig(shell, config, self, resolved(config, masterName), 120_000, undefined, config.agent.pg_log_file);
    writeStandbySignal(pgdata);
    if (!rewound.ok) return { ok: false, details: rewound.details, rewindFailed: rewound.rewindFailed === true && rewindCannotJoin(rewound.details) };
    onStep('standby_settings');
    // The last setting in the file wins; a controller's later remaster rewrites it with ALTER SYSTEM.
    appendFileSync(join(pgdata, 'postgresql.auto.conf'), confLines(standbySettingsFor(config, node, masterName)), { mode: 0o600 });
    return { ok: true, details: rewound.details, rewindFailed: false };
  } catch (err) {
    try {
      if (pgdata !== null) writeStandbySignal(pgdata);
    } catch {
      // reported below with the first failure
    }
    return { ok: false, details: describeError(err), rewindFailed: false };
  }
}
