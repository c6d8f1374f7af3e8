/**
 * Whether a failover check that meets the same refusal again (engine/refusal-episode.ts) needs to
 * run the attempt at all. The attempt of a refused failover journals every step (an etcd write
 * under deployment `ha`, a state-file write in `single`) and tries `restart_old_master` (an ssh or
 * pg_ctl call at the old master): once a second while nothing changed. So a repeat that the
 * snapshot already shows to be the same refusal (same master, same refused candidates, same server
 * definitions, the master still fails a fresh poll) is answered without an attempt, unless the
 * reminder is due (recorded through the attempt, as before) or the next restart of the old master
 * is: restarts during an episode back off, doubling from the poll interval up to a cap.
 *
 * Only a refusal known before any journaled step qualifies (no candidate). A refusal found inside
 * the attempt (a second master seen before promoting, after the fence) is attempted every time.
 */
import { reminderDue, sameRefusal, type RefusalEpisode, type RefusalSignature } from './refusal-episode.js';

/** The longest wait between two restarts of the old master within one refusal episode. */
export const RESTART_BACKOFF_CAP_MS = 60_000;

/**
 * How long after the last restart try the next one is due, when `tries` were made in this
 * episode: the poll interval, then doubling, up to the cap (never below the poll interval: a
 * restart is at most tried once a check). 0 when none was tried.
 */
export function restartBackoffMs(tries: number, pollMs: number, capMs: number = RESTART_BACKOFF_CAP_MS): number {
  if (tries <= 0) return 0;
  const base = Math.max(pollMs, 0);
  // The exponent is bounded: past the cap the result no longer changes.
  const doubled = base * 2 ** Math.min(tries - 1, 30);
  return Math.min(doubled, Math.max(capMs, base));
}

export type RepeatPlan =
  | { attempt: true; why: 'no_episode' | 'changed' | 'reminder_due' | 'restart_due' }
  | { attempt: false; why: 'same_refusal'; nextRestartMs: number };

export interface RepeatInput {
  episode: RefusalEpisode | null;
  /** The refusal the snapshot foresees (no restart tried by this check). */
  foreseen: RefusalSignature;
  nowMs: number;
  reminderMs: number;
  pollMs: number;
  capMs?: number;
}

/** Run the attempt (journal, restart) or answer with the episode's refusal without one. */
export function planRepeat(input: RepeatInput): RepeatPlan {
  const { episode, nowMs } = input;
  if (episode === null) return { attempt: true, why: 'no_episode' };
  if (!sameRefusal(episode.signature, input.foreseen)) return { attempt: true, why: 'changed' };
  if (reminderDue(episode, nowMs, input.reminderMs)) return { attempt: true, why: 'reminder_due' };
  if (episode.restartTriedMs === null) return { attempt: true, why: 'restart_due' };
  const nextRestartMs = episode.restartTriedMs + restartBackoffMs(episode.restartTries, input.pollMs, input.capMs);
  // A clock stepped back counts as due, like the reminder: a restart too many rather than none for hours.
  if (nowMs >= nextRestartMs || nowMs < episode.restartTriedMs) return { attempt: true, why: 'restart_due' };
  return { attempt: false, why: 'same_refusal', nextRestartMs };
}

/** What a no-candidate refusal is about: the candidates refused with their codes (their lag figures aside), and the restart. */
export function noCandidateAbout(refusals: readonly { name: string; code: string }[], restartOk: boolean): string {
  return `${refusals.map((r) => `${r.name}:${r.code}`).sort().join(',')}; restart ${restartOk ? 'ok' : 'not done'}`;
}

/** Whether a no-candidate refusal's `about` (noCandidateAbout) says the restart worked. */
export function restartOkIn(about: string): boolean {
  return about.endsWith('; restart ok');
}
