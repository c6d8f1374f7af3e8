/**
 * Which archived WAL files cleanup_archive may delete. Pure: the archive listing, what each
 * replica still needs and the clock in; the files to delete (with a reason for every file kept)
 * out.
 *
 * A file is deleted only when all of these hold:
 *  - it is a WAL segment (or .partial) or a base-backup history file: timeline history files and
 *    anything unrecognised are never deleted;
 *  - it is older than archive_delete_hours (by modification time, i.e. when it was archived);
 *  - its segment position is before the boundary: the oldest segment any replica still needs
 *    (restart point or replay position, and replication slots) and the start of the latest base
 *    backup (the newest .backup history file), so that backup stays restorable.
 *
 * Positions are compared without the timeline, as pg_archivecleanup does: a segment of an older
 * timeline at or after the boundary is kept too, which is never wrong, only conservative.
 */
import { classifyArchiveFile, segmentPosition, SEGMENT_PATTERN } from './wal-names.js';

/** One file of the archive folder. */
export interface ArchiveFile {
  name: string;
  /** Modification time (ms since the epoch): when it was archived. */
  mtimeMs: number;
  sizeBytes: number;
}

/** The oldest WAL segment one consumer (a replica, a slot) still needs. */
export interface WalNeed {
  /** Who needs it, for the report: "replica paul (restart point)". */
  who: string;
  /** Segment name, with the consumer's timeline. */
  segment: string;
}

export interface CleanupInput {
  files: readonly ArchiveFile[];
  needs: readonly WalNeed[];
  nowMs: number;
  deleteAfterHours: number;
}

export type KeepReason = 'not_expired' | 'needed' | 'latest_backup' | 'history' | 'unknown_file';

export interface CleanupPlan {
  /** Names to delete, sorted. */
  delete: string[];
  kept: { name: string; reason: KeepReason }[];
  /** The first segment kept because of a consumer or the latest backup; null when nothing bounds the deletion but age. */
  boundary: { segment: string; who: string } | null;
  summary: string;
}

export function planArchiveCleanup(input: CleanupInput): CleanupPlan {
  if (!(input.deleteAfterHours > 0)) throw new Error(`deleteAfterHours must be positive, got ${input.deleteAfterHours}`);
  for (const need of input.needs) {
    if (!SEGMENT_PATTERN.test(need.segment)) throw new Error(`${need.who}: not a WAL segment name: ${need.segment}`);
  }
  const expiryMs = input.deleteAfterHours * 3600_000;

  const backups = input.files
    .map((f) => ({ name: f.name, kind: classifyArchiveFile(f.name) }))
    .filter((f): f is { name: string; kind: { kind: 'backup'; segment: string } } => f.kind.kind === 'backup')
    .sort((a, b) => compareText(segmentPosition(a.kind.segment), segmentPosition(b.kind.segment)) || compareText(a.name, b.name));
  const latestBackup = backups.at(-1) ?? null;

  const candidates: { segment: string; who: string }[] = input.needs.map((n) => ({ segment: n.segment, who: n.who }));
  if (latestBackup) candidates.push({ segment: latestBackup.kind.segment, who: `latest base backup (${latestBackup.name})` });
  const boundary = candidates.reduce<{ segment: string; who: string } | null>(
    (min, c) => (min === null || segmentPosition(c.segment) < segmentPosition(min.segment) ? c : min),
    null,
  );
  const boundaryPosition = boundary ? segmentPosition(boundary.segment) : null;

  const toDelete: string[] = [];
  const kept: { name: string; reason: KeepReason }[] = [];
  for (const file of input.files) {
    const kind = classifyArchiveFile(file.name);
    let reason: KeepReason | null = null;
    if (kind.kind === 'history') reason = 'history';
    else if (kind.kind === 'unknown') reason = 'unknown_file';
    else if (latestBackup && file.name === latestBackup.name) reason = 'latest_backup';
    else if (input.nowMs - file.mtimeMs <= expiryMs) reason = 'not_expired';
    else if (boundaryPosition !== null && segmentPosition(kind.segment) >= boundaryPosition) reason = 'needed';
    if (reason === null) toDelete.push(file.name);
    else kept.push({ name: file.name, reason });
  }
  toDelete.sort(compareText);
  kept.sort((a, b) => compareText(a.name, b.name));
  const counts = countReasons(kept);
  const bound = boundary ? `; nothing from ${boundary.segment} on (needed by ${boundary.who})` : '';
  const summary = `${toDelete.length} file(s) to delete, ${kept.length} kept (${counts})${bound}`;
  return { delete: toDelete, kept, boundary, summary };
}

function countReasons(kept: readonly { reason: KeepReason }[]): string {
  const counts = new Map<KeepReason, number>();
  for (const k of kept) counts.set(k.reason, (counts.get(k.reason) ?? 0) + 1);
  return counts.size === 0 ? 'none' : [...counts.entries()].map(([r, n]) => `${n} ${r.replace('_', ' ')}`).join(', ');
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
