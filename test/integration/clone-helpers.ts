/**
 * Helpers of the clone and archive integration tests: a node turned into an empty, prepared host
 * (Debian layout: its configuration in its own folder, an empty data folder), fingerprints of a
 * data folder to prove a refusal changed nothing, and bounded waits.
 */
import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { TestCluster, TestNode } from '../fixtures/cluster.js';
import { postgresUser, run } from '../fixtures/exec.js';
import type { HandyRepConfigInput } from '../../src/config/schema.js';
import type { DeepPartial } from '../fixtures/config.js';

export function nodeOf(cluster: TestCluster, name: string): TestNode {
  const n = cluster.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
}

/** A folder owned by the postgres OS user. */
export function postgresDir(path: string, mode = 0o700): string {
  mkdirSync(path, { recursive: true, mode });
  const user = postgresUser();
  chownSync(path, user.uid, user.gid);
  return path;
}

/**
 * Stop `node` and make it a fresh host: its configuration moves to `<node>/conf` (pgconf, with
 * data_directory pointing at the data folder), the data folder is replaced by an empty one.
 * Returns the pgconf folder.
 */
export async function makeEmptyHost(node: TestNode): Promise<string> {
  await node.stop('fast');
  const conf = postgresDir(join(node.dataDir, '..', 'conf'), 0o700);
  const user = postgresUser();
  for (const file of ['postgresql.conf', 'pg_hba.conf', 'pg_ident.conf']) {
    copyFileSync(join(node.dataDir, file), join(conf, file));
    chownSync(join(conf, file), user.uid, user.gid);
  }
  const text = readFileSync(join(conf, 'postgresql.conf'), 'utf8');
  writeFileSync(join(conf, 'postgresql.conf'), `${text}\ndata_directory = '${node.dataDir}'\n`);
  rmSync(node.dataDir, { recursive: true, force: true });
  postgresDir(node.dataDir, 0o700);
  return conf;
}

/** A configuration without some servers (they are added later with add_server), written as YAML. */
export function writeConfigWithout(cluster: TestCluster, without: readonly string[], overrides: DeepPartial<HandyRepConfigInput> = {}, file = 'handyrep.yaml'): string {
  const config = cluster.config(overrides) as { servers: Record<string, unknown> };
  for (const name of without) delete config.servers[name];
  const path = join(cluster.root, file);
  writeFileSync(path, stringify(config), 'utf8');
  return path;
}

/**
 * What a refusal must not change: every entry of the data folder with its size and, for files
 * PostgreSQL does not rewrite while running (configuration, signal files, PG_VERSION, the
 * postmaster.pid's pid), its content.
 */
export function fingerprint(dataDir: string): string {
  const hash = createHash('sha256');
  if (!existsSync(dataDir)) return 'missing';
  const entries = readdirSync(dataDir).sort();
  hash.update(entries.join('\n'));
  for (const name of ['PG_VERSION', 'postgresql.conf', 'postgresql.auto.conf', 'pg_hba.conf', 'pg_ident.conf', 'standby.signal']) {
    const path = join(dataDir, name);
    hash.update(`${name}:${existsSync(path) ? readFileSync(path).toString('base64') : '-'}`);
  }
  const pid = join(dataDir, 'postmaster.pid');
  hash.update(`pid:${existsSync(pid) ? (readFileSync(pid, 'utf8').split('\n')[0] ?? '') : '-'}`);
  hash.update(`base:${existsSync(join(dataDir, 'base')) ? statSync(join(dataDir, 'base')).ino : '-'}`);
  return hash.digest('hex');
}

export async function waitUntil<T>(what: string, timeoutMs: number, check: () => Promise<T | null | undefined | false>, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== null && value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = String(err);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError}` : ''}`);
}

/** Processes (pid, command line) whose command line mentions `text`, for checking nothing was left behind. */
export async function processesMentioning(text: string): Promise<string[]> {
  const out = await run('/usr/bin/ps', ['-eo', 'pid=,args=']);
  return out.stdout
    .split('\n')
    .filter((l) => l.includes(text) && !l.includes('/usr/bin/ps'))
    .map((l) => l.trim());
}

/** Application names streaming from `master`. */
export async function streamingFrom(cluster: TestCluster, master: TestNode): Promise<string[]> {
  const out = await cluster.psql(master, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1").catch(() => '');
  return out.split('\n').filter(Boolean);
}
