/**
 * The one call the failover check makes with its judgement of an unanswering master: the book
 * records it (valid until the next cycle's judgement is due), sets the statuses it implies and
 * alerts the episode once per situation. See engine/master-vantage.ts.
 */
import type { HandyRepConfig } from '../config/schema.js';
import type { MasterFailureVerdict } from '../engine/master-failure.js';
import { judgementValidSeconds, type HeldFailover, type MasterJudgement } from '../engine/master-vantage.js';
import type { ServerBook } from './server-book.js';

export function recordJudgement(book: ServerBook, config: HandyRepConfig, master: string, verdict: MasterFailureVerdict, held: HeldFailover | null = null): MasterJudgement {
  const validSeconds = judgementValidSeconds({ ...config.failover, connect_timeout_seconds: config.handyrep.connect_timeout_seconds });
  return book.recordMasterJudgement(master, verdict, validSeconds, held);
}
