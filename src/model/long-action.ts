/**
 * Long actions (a clone today) run off the poll loop; their progress is reported on the target
 * server's record (`action`, `action_progress`) so get_server_info, the log and the dashboard show
 * it. Plain data, written only by the long-action tracker.
 */

export type LongActionKind = 'clone';

/** Where a long action stands. `running` until it ends in one of the other three. */
export type LongActionState = 'running' | 'done' | 'failed' | 'cancelled';

export interface ActionProgress {
  kind: LongActionKind;
  state: LongActionState;
  /** What it is doing now, e.g. "copying from john", "starting", "waiting for streaming". */
  phase: string;
  /** Bytes copied so far and the expected total (from pg_basebackup -P / rsync progress2); null when unknown. */
  bytes_done: number | null;
  bytes_total: number | null;
  /** 0-100, or null when unknown. */
  percent: number | null;
  started: string;
  updated: string;
  /** Set when the action ended. */
  finished: string | null;
  /** The outcome sentence once it ended. */
  details: string | null;
}
