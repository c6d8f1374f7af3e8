/**
 * The timeline of a standby's WAL when its WAL receiver is not running (pg_stat_wal_receiver
 * empty): the highest timeline among the WAL segment files in pg_wal. A standby writes each
 * received segment under the timeline it streams, and recycles old ones under the timeline it
 * replays, so the highest one present is the timeline its received WAL is on. pg_control's
 * checkpoint timeline is not: it is the last restartpoint's, and lags behind a timeline switch
 * until the next one (often long on an idle cluster), which would make a replica that followed a
 * promotion look older than it is.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

const SEGMENT = /^([0-9A-F]{8})[0-9A-F]{16}$/;

/** The highest timeline among WAL segment file names (history, .partial, .backup and other files ignored); null when none. */
export function highestSegmentTimeline(names: readonly string[]): number | null {
  let highest: number | null = null;
  for (const name of names) {
    const m = SEGMENT.exec(name);
    if (m === null) continue;
    const tli = Number.parseInt(m[1] as string, 16);
    if (tli >= 1 && (highest === null || tli > highest)) highest = tli;
  }
  return highest;
}

/** The highest timeline among pg_wal's segment files; null when the folder cannot be read or holds none. */
export async function walDirTimeline(pgdata: string): Promise<number | null> {
  try {
    return highestSegmentTimeline(await readdir(join(pgdata, 'pg_wal')));
  } catch {
    return null;
  }
}
