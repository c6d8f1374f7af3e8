/**
 * initdb of a new cluster on the agent's own node (after it won the master key, bootstrap-claim.ts),
 * and the database roles HandyRep needs, created once it runs: `handyrep_user` (superuser, with
 * `passwords.handyrep_db_pass`), `handyrep_db` when it is not `postgres`, and `replication_user`
 * (REPLICATION, with `passwords.replication_pass`) — the roles the demo and the test template make.
 *
 * Only a folder that is missing, empty, or holds only the node's own configuration files is used;
 * those files are kept aside and put back over initdb's, so an operator can prepare the node's
 * postgresql.conf (listen address, port, …) and pg_hba.conf before the first start. A folder with
 * anything else is never initdb'd over.
 */
import pg from 'pg';
import type { HandyRepConfig } from '../config/schema.js';
import type { ServerRef } from '../plugins/types.js';
import { emptyFolder, inspectFolder, restoreConfigFiles, runOnNode, saveConfigFiles, type NodeEnv } from '../runtime/clone/target-node.js';
import { serverRef } from './agent-plugin-context.js';

type BootstrapSettings = Pick<HandyRepConfig['agent'], 'bootstrap_locale' | 'bootstrap_encoding' | 'bootstrap_data_checksums'>;

/**
 * The initdb argv (pure). Superuser `postgres` (the agent's local connection), peer over the socket
 * and scram over TCP unless the node's own pg_hba.conf replaces it.
 */
export function initdbArgv(server: Pick<ServerRef, 'pgdata' | 'pg_bin_dir'>, settings: BootstrapSettings): string[] {
  return [
    `${server.pg_bin_dir}/initdb`,
    '-D', server.pgdata,
    '-U', 'postgres',
    `--locale=${settings.bootstrap_locale}`,
    `--encoding=${settings.bootstrap_encoding}`,
    ...(settings.bootstrap_data_checksums ? ['--data-checksums'] : []),
    '--auth-local=peer',
    '--auth-host=scram-sha-256',
  ];
}

/** initdb into the node's new folder, keeping its own configuration files. Not started. */
export async function initdbNode(env: NodeEnv, config: Readonly<HandyRepConfig>, node: string): Promise<{ ok: boolean; details: string }> {
  const self = serverRef(config, node);
  const inspected = await inspectFolder(env, self);
  if (inspected.folder !== 'missing' && inspected.folder !== 'empty' && inspected.folder !== 'config_only') {
    return { ok: false, details: `not initdb'd: ${inspected.detail}` };
  }
  const saved = inspected.folder === 'config_only' ? await saveConfigFiles(env, self) : null;
  if (inspected.folder === 'config_only') await emptyFolder(env, self);
  const result = await runOnNode(env, self, initdbArgv(self, config.agent), 600_000);
  if (!result.ok) {
    await emptyFolder(env, self).catch(() => undefined);
    if (saved !== null) await restoreConfigFiles(env, self, saved).catch(() => undefined);
    return { ok: false, details: `initdb failed: ${result.output}` };
  }
  if (saved !== null) await restoreConfigFiles(env, self, saved);
  return { ok: true, details: `initdb ${self.pgdata} (locale ${config.agent.bootstrap_locale}, encoding ${config.agent.bootstrap_encoding}, data checksums ${config.agent.bootstrap_data_checksums ? 'on' : 'off'})` };
}

/** Creates HandyRep's roles and database on the local PostgreSQL (idempotent; passwords set each time). */
export async function ensureHandyRepRoles(config: Readonly<HandyRepConfig>, socketDir: string, port: number): Promise<string> {
  const client = new pg.Client({ host: socketDir, port, user: 'postgres', database: 'postgres', application_name: 'handyrep-agent', connectionTimeoutMillis: 10_000, query_timeout: 60_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const h = config.handyrep;
    const made: string[] = [];
    const role = async (name: string, attributes: string, password: string | null): Promise<void> => {
      const exists = (await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).rowCount === 1;
      const ident = client.escapeIdentifier(name);
      if (!exists) {
        await client.query(`CREATE ROLE ${ident} ${attributes}`);
        made.push(`role ${name}`);
      }
      if (password) await client.query(`ALTER ROLE ${ident} PASSWORD ${client.escapeLiteral(password)}`);
    };
    await role(h.handyrep_user, 'SUPERUSER LOGIN', config.passwords.handyrep_db_pass ?? null);
    if (h.replication_user !== h.handyrep_user) await role(h.replication_user, 'REPLICATION LOGIN', config.passwords.replication_pass ?? null);
    if (h.handyrep_db !== 'postgres' && (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [h.handyrep_db])).rowCount === 0) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(h.handyrep_db)} OWNER ${client.escapeIdentifier(h.handyrep_user)}`);
      made.push(`database ${h.handyrep_db}`);
    }
    return made.length > 0 ? `created ${made.join(', ')}` : 'roles were there';
  } finally {
    await client.end().catch(() => undefined);
  }
}
