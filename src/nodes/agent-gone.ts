/**
 * Whether the agent running a command is gone (issue 14, clone-guard): while a command runs, its
 * agent keeps `members/<node>` alive under its member lease (its rounds go on beside the command).
 * The key vanishing means the lease expired: the agent process died, or its node lost etcd for a
 * whole TTL. The controller then answers at once instead of waiting for the command's time limit
 * (a clone's: hours). Pure: the controller's waiting loop (agent-shell.ts) feeds it each read.
 *
 * A key never seen during this wait proves nothing by itself (an agent whose member record is not
 * written yet); it counts as gone only after `neverSeenLimitMs` without it.
 */
export interface MemberWatch {
  /** The member key was present at some read since the command started. */
  readonly seen: boolean;
  /** Since when (monotonic ms) every read found it absent; null: present at the last read. */
  readonly absentSinceMs: number | null;
}

export const NO_MEMBER_SEEN: MemberWatch = { seen: false, absentSinceMs: null };

export function judgeMember(previous: MemberWatch, present: boolean, nowMs: number, neverSeenLimitMs: number): { readonly watch: MemberWatch; readonly gone: boolean } {
  if (present) return { watch: { seen: true, absentSinceMs: null }, gone: false };
  const absentSinceMs = previous.absentSinceMs ?? nowMs;
  const gone = previous.seen || (Number.isFinite(neverSeenLimitMs) && nowMs - absentSinceMs >= neverSeenLimitMs);
  return { watch: { seen: previous.seen, absentSinceMs }, gone };
}
