/**
 * The checks a copy onto this node must pass (issue 14, the clone's review): no postmaster runs on
 * the data folder (nor on the old data kept aside), and the copy fits the free space. They are made
 * before the master is asked for anything, again once the master's CHECKPOINT is done, before the
 * folder is touched (the checkpoint can take long; someone may have started PostgreSQL meanwhile),
 * and once more right before the copy program starts (the folder emptied or moved aside by then:
 * the room measured is the room the copy gets). Data a reclone deletes counts as room before it is
 * deleted, so a copy that could never fit is refused while the data is still there. Each refusal
 * names its reason code, the same at every point. Pure decision (copyRefusal) over facts the
 * effects below read.
 */
import { readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { lstat, readdir, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { NODE_CONFIG_FILES } from '../runtime/clone/target-node.js';
import { processesInFolder } from './local-postgres.js';

export type CopyCheckCode = 'postgres_running' | 'free_space';

export interface CopyRefusal {
  readonly code: CopyCheckCode;
  readonly message: string;
}

/** What happens to the data the folder held: renamed aside (kept), emptied (deleted), none held. */
export type OldDataFate = 'kept' | 'deleted' | 'none';

export interface CopyCheckFacts {
  readonly node: string;
  /** The server copied. */
  readonly source: string;
  readonly pgdata: string;
  /**
   * A postmaster (or what is left of it) running on the data folder or the old data kept aside, or
   * null; `pidFile`: named by the folder's postmaster.pid, else a process working in the folder.
   */
  readonly postmaster: { readonly pid: number; readonly folder: string; readonly pidFile: boolean } | null;
  /**
   * Null: not checked here. `freedBytes`: the data the copy replaces, still there, counted as room
   * (a reclone deleting it); 0 once it is gone.
   */
  readonly space: { readonly freeBytes: number; readonly freedBytes: number; readonly neededBytes: number } | null;
  readonly oldData: OldDataFate;
  /** The data folder was already emptied or moved aside (the last check, right before the copy). */
  readonly folderTouched: boolean;
}

/** Room a copy of `databaseBytes` needs besides what is there: the data, 10 % and 64 MB of WAL and slack. */
export function spaceNeededBytes(databaseBytes: number): number {
  return Math.ceil(databaseBytes * 1.1) + 64 * 1024 * 1024;
}

export function copyRefusal(f: CopyCheckFacts): CopyRefusal | null {
  // Before the folder is touched the master may have run a CHECKPOINT and made a slot (dropped again): nothing changed on the node.
  const refused = (code: CopyCheckCode, why: string): CopyRefusal => ({ code, message: `${why}${f.folderTouched ? '' : `. Nothing changed on ${f.node}`} (reason ${code})` });
  if (f.postmaster !== null) {
    const { pid, folder, pidFile } = f.postmaster;
    const where = folder === f.pgdata ? f.node : `${f.node}'s old data folder ${folder}`;
    if (pidFile) return refused('postgres_running', `not cloned: PostgreSQL runs on ${where} (postmaster ${pid}); stop it first`);
    return refused('postgres_running', `not cloned: process ${pid} works in ${folder === f.pgdata ? `${f.node}'s data folder` : where} (a PostgreSQL whose postmaster.pid is gone, or a shell there); stop it first`);
  }
  const space = f.space;
  if (space !== null && space.freeBytes + space.freedBytes < space.neededBytes) {
    const mb = (bytes: number, round: (x: number) => number): number => round(bytes / 1048576);
    const free = `${mb(space.freeBytes, Math.floor)} MB free under ${dirname(f.pgdata)}`;
    const place =
      f.oldData === 'kept' ? ' next to the data kept'
      : f.oldData === 'deleted' ? (f.folderTouched ? ` in ${f.node}'s emptied folder` : ` even with ${f.node}'s data deleted`)
      : '';
    const freed = space.freedBytes > 0 ? ` and ${mb(space.freedBytes, Math.floor)} MB of data to delete` : '';
    return refused('free_space', `not enough free space for a copy of ${f.source}${place}: ${free}${freed}, ${mb(space.neededBytes, Math.ceil)} MB needed`);
  }
  return null;
}

/** What the checks read from the node; replaced in tests. */
export interface CopyCheckPort {
  /** The pid in `folder`'s postmaster.pid when that process works in the folder, or null. */
  postmaster(folder: string): number | null;
  /** A process working in `folder` (its cwd: every PostgreSQL process chdirs there), pid file or not, or null. */
  processIn(folder: string): number | null;
  /** Free bytes for an unprivileged user on the file system that receives `pgdata`. */
  freeBytes(pgdata: string): Promise<number>;
  /** Bytes the data in `pgdata` occupies on its own file system (what emptying it frees), the configuration files not counted. */
  dataBytes(pgdata: string): Promise<number>;
}

/**
 * Whether `pid` is a process working in `dir` (every PostgreSQL process chdirs to its data folder).
 * A pid whose folder cannot be read (another user's process) counts: a refusal is the safe side.
 */
function worksIn(pid: number, dir: string): boolean {
  try {
    return readlinkSync(`/proc/${pid}/cwd`) === dir;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EACCES';
  }
}

export const localCopyChecks: CopyCheckPort = {
  postmaster(folder) {
    try {
      const dir = realpathSync(folder);
      const pid = Number(readFileSync(join(folder, 'postmaster.pid'), 'utf8').split('\n')[0]);
      // Only when it works in the folder: a stale file's pid (a host crash) may belong to anything now.
      return Number.isInteger(pid) && pid > 0 && worksIn(pid, dir) ? pid : null;
    } catch {
      return null;
    }
  },
  processIn(folder) {
    // A postmaster started just before the folder was emptied keeps it as its cwd, its pid file deleted.
    return processesInFolder(folder)[0] ?? null;
  },
  async freeBytes(pgdata) {
    // The folder itself may be missing (a new node): its parent's file system receives the copy.
    for (const path of [pgdata, dirname(pgdata)]) {
      try {
        const fs = await statfs(path);
        return fs.bavail * fs.bsize;
      } catch {
        // try the parent
      }
    }
    throw new Error(`cannot read the free space under ${dirname(pgdata)}`);
  },
  async dataBytes(pgdata) {
    const top = await lstat(pgdata);
    const keep = new Set<string>(NODE_CONFIG_FILES.map((f) => join(pgdata, f)));
    // Blocks allocated, not sizes (what a delete frees); symlinks (pg_wal, tablespaces) and other file systems not followed.
    const walk = async (dir: string): Promise<number> => {
      let total = 0;
      for (const entry of await readdir(dir)) {
        const path = join(dir, entry);
        const st = await lstat(path).catch(() => null);
        if (st === null || st.dev !== top.dev || keep.has(path)) continue;
        total += st.blocks * 512;
        if (st.isDirectory()) total += await walk(path);
      }
      return total;
    };
    return walk(pgdata);
  },
};

export interface CopyCheckPoint {
  readonly node: string;
  readonly source: string;
  readonly pgdata: string;
  /** Null: the postmaster only (before the master was asked its size). */
  readonly databaseBytes: number | null;
  readonly oldData?: OldDataFate;
  /** The old data folder renamed aside, checked for a postmaster too (it moved along with the folder). */
  readonly keptAt?: string | null;
  readonly folderTouched?: boolean;
}

/** The checks at one point. */
export async function refuseCopy(port: CopyCheckPort, f: CopyCheckPoint): Promise<CopyRefusal | null> {
  const oldData = f.oldData ?? 'none';
  const folderTouched = f.folderTouched === true;
  const facts = { node: f.node, source: f.source, pgdata: f.pgdata, oldData, folderTouched };
  for (const folder of [f.pgdata, ...(f.keptAt ? [f.keptAt] : [])]) {
    const named = port.postmaster(folder);
    const pid = named ?? port.processIn(folder);
    if (pid !== null) return copyRefusal({ ...facts, postmaster: { pid, folder, pidFile: named !== null }, space: null });
  }
  if (f.databaseBytes === null) return null;
  const freedBytes = oldData === 'deleted' && !folderTouched ? await port.dataBytes(f.pgdata) : 0;
  return copyRefusal({ ...facts, postmaster: null, space: { freeBytes: await port.freeBytes(f.pgdata), freedBytes, neededBytes: spaceNeededBytes(f.databaseBytes) } });
}
