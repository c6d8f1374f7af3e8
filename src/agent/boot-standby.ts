/**
 * The agent's hands for booting its stopped PostgreSQL as a standby of the recorded master (boot.ts
 * decided so): on the master a CHECKPOINT (pg_rewind reads the source's timeline from its control
 * file) and the replica's slot when slots are configured; then pg_rewind keeping the node's own
 * configuration files (shared with the controller's rejoin, runtime/topology/rewind.ts);
 * primary_conninfo (quoted by pg-conf-quote.ts, appended over a file write, never a shell) and
 * standby.signal. The caller starts PostgreSQL only when this returned ok.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { HandyRepConfig } from '../config/schema.js';
import { resolveServer } from '../config/merge.js';
import { describeError } from '../model/errors.js';
import { LocalShell } from '../nodes/local-shell.js';
import { confLines } from '../nodes/pg-conf-quote.js';
import type { ServerRef } from '../plugins/types.js';
import { primaryConninfoFor, slotName } from '../runtime/topology/remaster.js';
import { rewindKeepingConfig } from '../runtime/topology/rewind.js';

type Resolved = Pick<ServerRef, 'name' | 'hostname' | 'port' | 'sslmode' | 'sslrootcert' | 'pgdata' | 'pg_bin_dir'>;

function resolved(config: Readonly<HandyRepConfig>, name: string): Resolved {
  const entry = config.servers[name];
  if (!entry) throw new Error(`no server ${JSON.stringify(name)} under servers`);
  return { ...resolveServer(config.server_defaults, entry), name };
}

/** CHECKPOINT on the master, and the replica's slot when configured (idempotent). */
async function prepareMaster(config: Readonly<HandyRepConfig>, master: Resolved, slot: string | null): Promise<void> {
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
  await client.connect();
  try {
    await client.query('CHECKPOINT');
    if (slot !== null) {
      await client.query('SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)', [slot]);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Makes the stopped data folder of `node` a standby of `masterName`. */
export async function prepareStandby(config: Readonly<HandyRepConfig>, node: string, masterName: string): Promise<{ ok: boolean; details: string }> {
  try {
    const self = resolved(config, node);
    const master = resolved(config, masterName);
    const slot = config.failover.use_replication_slots ? slotName(node) : null;
    await prepareMaster(config, master, slot);
    const rewound = await rewindKeepingConfig(new LocalShell(), config, self, master, 120_000);
    if (!rewound.ok) return rewound;
    const settings: Record<string, string> = { primary_conninfo: primaryConninfoFor(config, node, master) };
    if (slot !== null) settings['primary_slot_name'] = slot;
    // The last setting in the file wins; a controller's later remaster rewrites it with ALTER SYSTEM.
    appendFileSync(join(self.pgdata, 'postgresql.auto.conf'), confLines(settings), { mode: 0o600 });
    writeFileSync(join(self.pgdata, 'standby.signal'), '', { mode: 0o600 });
    return { ok: true, details: rewound.details };
  } catch (err) {
    return { ok: false, details: describeError(err) };
  }
}
