/**
 * Whether the master's WAL archiving needs attention, from pg_stat_archiver and the archive
 * backlog (segments marked .ready). Pure: the observation and the failed_count seen at the last
 * verification in, a warning sentence (or null) out; `withArchiveWarning` folds it into the
 * master's verification verdict.
 */
import type { VerifyVerdict } from './server-status.js';

/** What the master's archiver looked like at one verification. */
export interface ArchiverObservation {
  /** archive_mode: off, on or always. */
  archiveMode: string;
  archivedCount: number;
  failedCount: number;
  lastArchivedWal: string | null;
  /** Seconds since the last successful archive; null when never. */
  lastArchivedAgeSeconds: number | null;
  lastFailedWal: string | null;
  lastFailedAgeSeconds: number | null;
  /** Completed segments waiting to be archived (archive_status/*.ready). */
  readyCount: number;
  /** Age of the oldest of them; null when none waits. */
  oldestReadyAgeSeconds: number | null;
}

/** A sentence when archiving needs attention, else null. */
export function archiveWarning(obs: ArchiverObservation, previousFailedCount: number | null, warnAfterSeconds: number): string | null {
  if (obs.archiveMode === 'off') return 'archive_mode is off on the master: WAL is not archived';
  const problems: string[] = [];
  // Failing now: the most recent attempt failed, and something still waits.
  const lastFailedIsNewest =
    obs.lastFailedAgeSeconds !== null && (obs.lastArchivedAgeSeconds === null || obs.lastFailedAgeSeconds <= obs.lastArchivedAgeSeconds);
  if (lastFailedIsNewest && obs.readyCount > 0) {
    const grew = previousFailedCount !== null && obs.failedCount > previousFailedCount ? `, ${obs.failedCount - previousFailedCount} new failure(s) since the last check` : '';
    problems.push(`archiving is failing: the last attempt (${obs.lastFailedWal ?? '?'}) failed ${Math.round(obs.lastFailedAgeSeconds ?? 0)} s ago${grew}`);
  }
  if (obs.oldestReadyAgeSeconds !== null && obs.oldestReadyAgeSeconds > warnAfterSeconds) {
    problems.push(`${obs.readyCount} WAL segment(s) waiting to be archived, the oldest for ${Math.round(obs.oldestReadyAgeSeconds)} s (archive_warn_seconds ${warnAfterSeconds})`);
  }
  return problems.length === 0 ? null : problems.join('; ');
}

/** The master's verdict with an archiving warning: a healthy master becomes `warning`. */
export function withArchiveWarning(verdict: VerifyVerdict, warning: string | null): VerifyVerdict {
  if (warning === null) return verdict;
  if (verdict.status === 'healthy') return { ...verdict, status: 'warning', message: `${verdict.message}; archiving: ${warning}` };
  if (verdict.status === 'warning') return { ...verdict, message: `${verdict.message}; archiving: ${warning}` };
  return verdict;
}
