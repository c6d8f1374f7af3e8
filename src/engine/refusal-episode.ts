/**
 * A refused automatic failover that repeats (no candidate, or a second master would be made) is
 * one episode, not one incident per failover check: the first refusal is recorded in the failover
 * history and alerted (CRITICAL); the same refusal again, while nothing it depends on changed, is
 * only logged, with a reminder (recorded and alerted) every failover.refusal_reminder_minutes
 * (REFUSAL_REMINDER_MS by default). Anything that
 * changes the refusal — another master, another reason, other refused candidates, a changed server
 * list — starts a new episode, recorded as usual; any other outcome (the master answers, a
 * failover runs) ends it.
 *
 * The episode lives in the controller's memory only: a restarted controller (or a new leader)
 * records and alerts the refusal once more. That is bounded (once per start) and wanted: whoever
 * restarted it may not have seen the first alert, and keeping it in the saved state would let a
 * stale episode hide the first refusal a new leader meets.
 */

/** A reminder of a still-refused failover is recorded and alerted this often (the schema's default). */
export const REFUSAL_REMINDER_MS = 10 * 60 * 1000;

/** What makes two refusals "the same": equal in every field. */
export interface RefusalSignature {
  master: string | null;
  reasonCode: string;
  /** What the refusal is about, without changing numbers (refused candidates with their codes, ...). */
  about: string;
  /** The book's server definitions revision (an operator's change to the servers is news). */
  topologyRevision: number;
}

export interface RefusalEpisode {
  signature: RefusalSignature;
  startedMs: number;
  /** When a refusal of this episode was last recorded (the first, or the last reminder). */
  recordedMs: number;
  /** Refusals logged only, since the last recorded one. */
  suppressed: number;
  /** Restarts of the old master tried in this episode (engine/refusal-repeat.ts spaces them). */
  restartTries: number;
  /** When the last of them was tried; null: none yet. */
  restartTriedMs: number | null;
}

export type RefusalVerdict =
  | { record: true; why: 'first' | 'changed' | 'reminder'; episode: RefusalEpisode; /** Repeats not recorded since the previous record (reminder only). */ suppressedBefore: number }
  | { record: false; why: 'repeat'; episode: RefusalEpisode };

export function sameRefusal(a: RefusalSignature, b: RefusalSignature): boolean {
  return a.master === b.master && a.reasonCode === b.reasonCode && a.about === b.about && a.topologyRevision === b.topologyRevision;
}

/** A clock stepped back counts as due: better one reminder too many than silence for hours. */
export function reminderDue(episode: RefusalEpisode, nowMs: number, reminderMs: number): boolean {
  const elapsed = nowMs - episode.recordedMs;
  return elapsed >= reminderMs || elapsed < 0;
}

/**
 * Decides whether this refusal is recorded and alerted, and the episode it leaves.
 * `restartTried`: this refusal tried to restart the old master (counted for the episode's backoff).
 */
export function judgeRefusal(previous: RefusalEpisode | null, signature: RefusalSignature, nowMs: number, reminderMs: number = REFUSAL_REMINDER_MS, restartTried = false): RefusalVerdict {
  const restart = (tries: number, triedMs: number | null): Pick<RefusalEpisode, 'restartTries' | 'restartTriedMs'> =>
    restartTried ? { restartTries: tries + 1, restartTriedMs: nowMs } : { restartTries: tries, restartTriedMs: triedMs };
  const fresh: RefusalEpisode = { signature, startedMs: nowMs, recordedMs: nowMs, suppressed: 0, ...restart(0, null) };
  if (previous === null) return { record: true, why: 'first', episode: fresh, suppressedBefore: 0 };
  if (!sameRefusal(previous.signature, signature)) return { record: true, why: 'changed', episode: fresh, suppressedBefore: 0 };
  const kept = restart(previous.restartTries, previous.restartTriedMs);
  if (reminderDue(previous, nowMs, reminderMs)) return { record: true, why: 'reminder', episode: { ...previous, ...kept, recordedMs: nowMs, suppressed: 0 }, suppressedBefore: previous.suppressed };
  return { record: false, why: 'repeat', episode: { ...previous, ...kept, suppressed: previous.suppressed + 1 } };
}

/** The note a recorded or logged refusal carries about its episode ('' for the first of one). */
export function refusalNote(verdict: RefusalVerdict): string {
  const since = new Date(verdict.episode.startedMs).toISOString();
  switch (verdict.why) {
    case 'first':
    case 'changed':
      return '';
    case 'reminder':
      return `; still refused since ${since} (reminder; ${verdict.suppressedBefore} identical refusals since the last record were logged only)`;
    case 'repeat':
      return `; the same refusal as since ${since}: logged only, not recorded or alerted again until it changes or a reminder is due`;
  }
}
