/**
 * WAL file names (PostgreSQL's XLogFileName): `TTTTTTTTXXXXXXXXYYYYYYYY`, timeline then segment
 * number split in two, all upper-case hex. Pure helpers for the archive decisions.
 */
import { lsnToBigInt, type Lsn } from '../model/lsn.js';

export const SEGMENT_PATTERN = /^[0-9A-F]{24}$/;

/** The segment file holding `lsn` on `timeline`, for a cluster with `segmentBytes` segments. */
export function walSegmentName(timeline: number, lsn: Lsn, segmentBytes: number): string {
  if (!Number.isInteger(timeline) || timeline < 1 || timeline > 0xffffffff) throw new Error(`not a timeline: ${timeline}`);
  if (!Number.isInteger(segmentBytes) || segmentBytes < 1048576 || (segmentBytes & (segmentBytes - 1)) !== 0) {
    throw new Error(`not a WAL segment size: ${segmentBytes}`);
  }
  const size = BigInt(segmentBytes);
  const segno = lsnToBigInt(lsn) / size;
  const perId = 0x100000000n / size;
  return hex8(BigInt(timeline)) + hex8(segno / perId) + hex8(segno % perId);
}

/** The position part of a segment name (without the timeline): comparable across timelines. */
export function segmentPosition(segment: string): string {
  if (!SEGMENT_PATTERN.test(segment)) throw new Error(`not a WAL segment name: ${segment}`);
  return segment.slice(8);
}

function hex8(value: bigint): string {
  return value.toString(16).toUpperCase().padStart(8, '0');
}

/** What an archive file is, from its name alone. */
export type ArchiveFileKind =
  | { kind: 'segment'; segment: string }
  | { kind: 'backup'; segment: string }
  | { kind: 'history' }
  | { kind: 'unknown' };

/** Compressed copies some archive scripts write: treated as the segment they hold. */
const COMPRESSION = '(?:\\.(?:gz|bz2|xz|zst|lz4))?';
const SEGMENT_FILE = new RegExp(`^([0-9A-F]{24})(?:\\.partial)?${COMPRESSION}$`);
const BACKUP_FILE = new RegExp(`^([0-9A-F]{24})\\.[0-9A-F]{8}\\.backup${COMPRESSION}$`);
const HISTORY_FILE = new RegExp(`^[0-9A-F]{8}\\.history${COMPRESSION}$`);

export function classifyArchiveFile(name: string): ArchiveFileKind {
  const segment = SEGMENT_FILE.exec(name);
  if (segment) return { kind: 'segment', segment: segment[1] as string };
  const backup = BACKUP_FILE.exec(name);
  if (backup) return { kind: 'backup', segment: backup[1] as string };
  if (HISTORY_FILE.test(name)) return { kind: 'history' };
  return { kind: 'unknown' };
}
