/**
 * The controller's one episode of repeated automatic-failover refusals (engine/refusal-episode.ts
 * decides); in memory only, on purpose (a restart records the refusal once more).
 */
import { judgeRefusal, type RefusalEpisode, type RefusalSignature, type RefusalVerdict } from '../engine/refusal-episode.js';

export class RefusalEpisodes {
  #episode: RefusalEpisode | null = null;

  constructor(private readonly reminderMs?: number) {}

  /** Judges a refusal about to be recorded, and keeps the episode it leaves. */
  judge(signature: RefusalSignature, nowMs: number): RefusalVerdict {
    const verdict = judgeRefusal(this.#episode, signature, nowMs, this.reminderMs);
    this.#episode = verdict.episode;
    return verdict;
  }

  /** Anything but a refusal happened (the master answered, a change ran): the next refusal is news. */
  end(): void {
    this.#episode = null;
  }

  get current(): RefusalEpisode | null {
    return this.#episode;
  }
}
