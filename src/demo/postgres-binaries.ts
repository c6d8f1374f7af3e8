/**
 * Finds the local PostgreSQL server binaries for the demo: a folder holding initdb, pg_ctl,
 * pg_basebackup, pg_rewind, psql and postgres, from PATH or Debian's /usr/lib/postgresql/<version>/bin (newest first).
 */
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { HandyRepError } from '../model/errors.js';

const NEEDED = ['initdb', 'pg_ctl', 'pg_basebackup', 'pg_rewind', 'psql', 'postgres'];

function complete(dir: string): boolean {
  return NEEDED.every((b) => existsSync(join(dir, b)));
}

export function findPostgresBinDir(env: NodeJS.ProcessEnv = process.env): string {
  for (const dir of (env.PATH ?? '').split(delimiter)) if (dir && complete(dir)) return dir;
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))
    : [];
  for (const v of versions) {
    const dir = join(base, v, 'bin');
    if (complete(dir)) return dir;
  }
  throw new HandyRepError(
    'REFUSED',
    'PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup, pg_rewind, psql) not found on PATH or under /usr/lib/postgresql/*/bin: install the Debian package postgresql-15 (apt-get install postgresql-15), or run scripts/ensure-system-packages.sh as root',
  );
}
