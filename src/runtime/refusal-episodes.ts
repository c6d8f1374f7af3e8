/**
 * The controller's one episode of repeated automatic-failover refusals (engine/refusal-episode.ts
 * decides; engine/refusal-repeat.ts whether a repeat needs an attempt); in memory only, on purpose
 * (a restart records the refusal once more).
 */
import { judgeRefusal, REFUSAL_REMINDER_MS, type RefusalEpisode, type RefusalSignature, type RefusalVerdict } from '../engine/refusal-episode.js';
import { planRepeat, type RepeatPlan } from '../engine/refusal-repeat.js';

export interface RefusalTiming {
  /** failover.refusal_reminder_minutes, in ms (read at each refusal: a reload applies). */
  reminderMs: number;
  /** failover.poll_interval, in ms (the restart backoff's first step). */
  pollMs: number;
}

const DEFAULT_TIMING: RefusalTiming = { reminderMs: REFUSAL_REMINDER_MS, pollMs: 10_000 };

export class RefusalEpisodes {
  #episode: RefusalEpisode | null = null;

  constructor(private readonly timing: () => RefusalTiming = () => DEFAULT_TIMING) {}

  /** Judges a refusal about to be recorded, and keeps the episode it leaves. */
  judge(signature: RefusalSignature, nowMs: number, restartTried = false): RefusalVerdict {
    const verdict = judgeRefusal(this.#episode, signature, nowMs, this.timing().reminderMs, restartTried);
    this.#episode = verdict.episode;
    return verdict;
  }

  /** Whether a refusal the snapshot foresees needs the attempt (journal, restart) or repeats the episode's. */
  plan(foreseen: RefusalSignature, nowMs: number): RepeatPlan {
    const { reminderMs, pollMs } = this.timing();
    return planRepeat({ episode: this.#episode, foreseen, nowMs, reminderMs, pollMs });
  }

  /** Anything but a refusal happened (the master answered, a change ran): the next refusal is news. */
  end(): void {
    this.#episode = null;
  }

  get current(): RefusalEpisode | null {
    return this.#episode;
  }
}
