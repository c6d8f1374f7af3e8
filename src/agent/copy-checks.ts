/**
 * The checks a copy onto this node must pass (issue 14, the clone's review): no postmaster runs on
 * the data folder, and the copy fits the free space next to what stays there. They are made
 * before the master is asked for anything (the `clone` command's early refusal), again once the
 * master's CHECKPOINT is done, before the folder is touched (the checkpoint can take long; someone
 * may have started PostgreSQL meanwhile), and once more right before the copy program starts (the
 * folder emptied or moved aside by then: the room measured is the room the copy gets). Each
 * refusal names its reason code, the same at every point. Pure decision (copyRefusal) over facts
 * the effects below read.
 */
import { readFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { instanceLingers } from './local-postgres.js';

export type CopyCheckCode = 'postgres_running' | 'free_space';

export interface CopyRefusal {
  readonly code: CopyCheckCode;
  readonly message: string;
}

export interface CopyCheckFacts {
  readonly node: string;
  /** The server copied. */
  readonly source: string;
  readonly pgdata: string;
  /** A postmaster (or what is left of it) running on the data folder, or null. */
  readonly postmasterPid: number | null;
  /** Null: not checked here (the data is emptied first, which frees its room; checked again before the copy). */
  readonly space: { readonly freeBytes: number; readonly neededBytes: number } | null;
  /** The data folder was already emptied or moved aside (the last check, right before the copy). */
  readonly folderTouched: boolean;
}

/** Room a copy of `databaseBytes` needs besides what is there: the data, 10 % and 64 MB of WAL and slack. */
export function spaceNeededBytes(databaseBytes: number): number {
  return Math.ceil(databaseBytes * 1.1) + 64 * 1024 * 1024;
}

export function copyRefusal(f: CopyCheckFacts): CopyRefusal | null {
  const refused = (code: CopyCheckCode, why: string): CopyRefusal => ({ code, message: `${why}${f.folderTouched ? '' : '. Nothing changed'} (reason ${code})` });
  if (f.postmasterPid !== null) return refused('postgres_running', `not cloned: PostgreSQL runs on ${f.node} (postmaster ${f.postmasterPid}); stop it first`);
  if (f.space !== null && f.space.freeBytes < f.space.neededBytes) {
    const mb = (bytes: number, round: (x: number) => number): number => round(bytes / 1048576);
    return refused('free_space', `not enough free space for a copy of ${f.source} next to the data kept: ${mb(f.space.freeBytes, Math.floor)} MB free under ${dirname(f.pgdata)}, ${mb(f.space.neededBytes, Math.ceil)} MB needed`);
  }
  return null;
}

/** What the checks read from the node; replaced in tests. */
export interface CopyCheckPort {
  /** The pid of a postmaster (or what is left of it) running on `pgdata`, or null. */
  postmaster(pgdata: string): number | null;
  /** Free bytes for an unprivileged user on the file system that receives `pgdata`. */
  freeBytes(pgdata: string): Promise<number>;
}

export const localCopyChecks: CopyCheckPort = {
  postmaster(pgdata) {
    let text: string;
    try {
      text = readFileSync(join(pgdata, 'postmaster.pid'), 'utf8');
    } catch {
      return null;
    }
    const pid = Number(text.split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 && instanceLingers(pgdata, pid) ? pid : null;
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
};

/**
 * The checks at one point: `databaseBytes` null checks the postmaster only (before the master was
 * asked its size); `freed`: the data is emptied before the copy (its room not counted yet).
 */
export async function refuseCopy(
  port: CopyCheckPort,
  f: { readonly node: string; readonly source: string; readonly pgdata: string; readonly databaseBytes: number | null; readonly freed?: boolean; readonly folderTouched?: boolean },
): Promise<CopyRefusal | null> {
  const facts = { node: f.node, source: f.source, pgdata: f.pgdata, folderTouched: f.folderTouched === true };
  const postmasterPid = port.postmaster(f.pgdata);
  if (postmasterPid !== null) return copyRefusal({ ...facts, postmasterPid, space: null });
  const space = f.databaseBytes === null || f.freed === true ? null : { freeBytes: await port.freeBytes(f.pgdata), neededBytes: spaceNeededBytes(f.databaseBytes) };
  return copyRefusal({ ...facts, postmasterPid: null, space });
}
