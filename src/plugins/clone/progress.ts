/**
 * Progress lines of the copy tools, parsed from the tail of their output. pg_basebackup -P writes
 * "  123456/1048576 kB (11%), 0/1 tablespace" (one line a second, \n when not on a terminal);
 * rsync --info=progress2 writes "    123,456,789  45%   12.34MB/s    0:00:10 (xfr#12, to-chk=100/200)"
 * separated by \r.
 */
import type { CloneProgress } from '../types.js';

const BASEBACKUP = /(\d+)\/(\d+) kB \((\d+)%\)/g;

/** The newest pg_basebackup progress in `tail`, or null. */
export function parseBasebackupProgress(tail: string): CloneProgress | null {
  let last: RegExpExecArray | null = null;
  for (const match of tail.matchAll(BASEBACKUP)) last = match as RegExpExecArray;
  if (!last) return null;
  return { bytesDone: Number(last[1]) * 1024, bytesTotal: Number(last[2]) * 1024 };
}

const RSYNC = /^\s*([\d,.]+)\s+(\d+)%\s/;

/** The newest rsync progress2 line in `tail`, or null. The total is estimated from the percentage. */
export function parseRsyncProgress(tail: string): CloneProgress | null {
  const lines = tail.split(/[\r\n]+/).reverse();
  for (const line of lines) {
    const match = RSYNC.exec(line);
    if (!match) continue;
    const done = Number((match[1] as string).replace(/[,.]/g, ''));
    const percent = Number(match[2]);
    if (!Number.isFinite(done)) continue;
    return { bytesDone: done, bytesTotal: percent > 0 ? Math.round((done * 100) / percent) : null };
  }
  return null;
}
