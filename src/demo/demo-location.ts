/**
 * Where the demo's PostgreSQL nodes live. The demo folder (`--dir`) always holds HandyRep's own
 * files (handyrep.yaml, servers.save, handyrep.log); the nodes' data folders go there too when
 * PostgreSQL can use it. Run as root, PostgreSQL runs as `postgres`, which must be able to enter
 * (search, the x bit) every folder from / down to its data folder: a folder such as /root (0700)
 * or a mkdtemp folder (0700) blocks it. Then the nodes go under a folder postgres can reach
 * (postgres's home, else /var/tmp), one per demo folder, and the demo says so. The same happens
 * when the path does not suit PostgreSQL or the configuration (shell characters or spaces, or a
 * Unix socket path over the 107-byte limit).
 *
 * The decision (`chooseNodeRoot`) is pure; `probeDirs` reads the folders it needs.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { pathProblem } from '../config/validators.js';

/** Owner, group and mode of a folder on the way to the data. */
export interface DirInfo {
  path: string;
  uid: number;
  gid: number;
  mode: number;
}

/** The OS user PostgreSQL runs as (only its primary group counts: LocalShell drops the others). */
export interface PgAccount {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** Longest socket folder path: sun_path holds 107 bytes, `/.s.PGSQL.5432` takes 14. */
const MAX_SOCKET_DIR = 107 - '/.s.PGSQL.5432'.length;

/** Whether `user` may enter `dir` (the search bit of its class: owner, else group, else others). */
export function canTraverse(dir: DirInfo, user: { uid: number; gid: number }): boolean {
  if (user.uid === 0) return true;
  if (dir.uid === user.uid) return (dir.mode & 0o100) !== 0;
  if (dir.gid === user.gid) return (dir.mode & 0o010) !== 0;
  return (dir.mode & 0o001) !== 0;
}

/** Every existing folder from / down to `path` (or its deepest existing ancestor). */
export function probeDirs(path: string): DirInfo[] {
  const chain: string[] = [];
  for (let p = resolve(path); ; p = dirname(p)) {
    chain.unshift(p);
    if (p === dirname(p)) break;
  }
  const infos: DirInfo[] = [];
  for (const p of chain) {
    try {
      const st = statSync(p);
      if (!st.isDirectory()) break;
      infos.push({ path: p, uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 });
    } catch {
      break; // not created yet: the demo creates it (0755)
    }
  }
  return infos;
}

/** Why a folder cannot hold the nodes, or null when it can. */
export function unsuitable(nodeRoot: string, chain: readonly DirInfo[], pg: PgAccount | null, currentUid: number): string | null {
  // Below a shared folder such as /tmp, a folder someone else made could be a trap (a symlink, their data).
  const shared = chain.findIndex((d) => (d.mode & 0o1002) === 0o1002);
  const foreign = shared < 0 ? undefined : chain.slice(shared + 1).find((d) => d.uid !== currentUid && d.uid !== pg?.uid);
  if (foreign) return `${foreign.path} belongs to another user (uid ${foreign.uid})`;
  if (pathProblem(nodeRoot) !== null) return `its path ${nodeRoot} has characters a configuration path may not have (spaces, quotes, shell characters)`;
  const socketDir = join(nodeRoot, 'george', 'socket');
  if (Buffer.byteLength(socketDir) > MAX_SOCKET_DIR) return `its path is too long for a PostgreSQL Unix socket (${socketDir})`;
  if (pg) {
    const blocked = chain.find((d) => !canTraverse(d, pg));
    if (blocked) return `PostgreSQL runs as ${pg.name}, which cannot enter ${blocked.path} (mode ${blocked.mode.toString(8).padStart(4, '0')}, owner uid ${blocked.uid})`;
  }
  return null;
}

/** A folder name for one demo folder: its name and a hash of its absolute path. */
export function demoSlug(demoDir: string): string {
  const abs = resolve(demoDir);
  const name = basename(abs).replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[._-]+/, '') || 'demo';
  return `${name.slice(0, 24)}-${createHash('sha256').update(abs).digest('hex').slice(0, 8)}`;
}

export interface NodeRootChoice {
  /** Folder holding john/, paul/, george/. */
  nodeRoot: string;
  /** Why the demo folder was not used (printed), or null when it was. */
  moved: string | null;
}

/**
 * Where the nodes go: the demo folder when it suits, else `<postgres home>/handyrep-demo/<slug>`
 * (root) or `/tmp/handyrep-demo-<uid>/<slug>` (a normal user), else `/var/tmp/handyrep-demo/<slug>`.
 * `pg` is the account PostgreSQL runs as when it differs from the demo's own user (root), else null.
 * `probe` reads a folder chain (probeDirs; replaced in tests).
 */
export function chooseNodeRoot(demoDir: string, pg: PgAccount | null, currentUid: number, probe: (path: string) => DirInfo[] = probeDirs): NodeRootChoice {
  const wanted = resolve(demoDir);
  const why = unsuitable(wanted, probe(wanted), pg, currentUid);
  if (why === null) return { nodeRoot: wanted, moved: null };
  const slug = demoSlug(demoDir);
  // postgres's home only when it exists (the demo creates folders inside it, never the home itself).
  const homeExists = pg !== null && probe(pg.home).at(-1)?.path === resolve(pg.home);
  const candidates = pg
    ? [...(homeExists ? [join(pg.home, 'handyrep-demo', slug)] : []), join('/var/tmp', 'handyrep-demo', slug)]
    : [join('/tmp', `handyrep-demo-${currentUid}`, slug), join('/var/tmp', `handyrep-demo-${currentUid}`, slug)];
  for (const candidate of candidates) {
    if (!candidate.startsWith(sep)) continue;
    if (unsuitable(candidate, probe(candidate), pg, currentUid) === null) return { nodeRoot: candidate, moved: why };
  }
  throw new Error(`no folder for the demo's PostgreSQL data: ${why}; tried ${candidates.join(', ')} too. Give another --dir.`);
}
