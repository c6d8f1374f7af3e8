/**
 * Is the master really gone? (design.md §5.1) The controller's own failed polls are not enough:
 * every enabled replica is a second vantage point, asked to probe the master itself, and a WAL
 * receiver that heard from the master within the last few seconds also sees it. The master is
 * failed only when the controller could not reach it, no replica sees it, and at least one
 * replica positively does not (when no replica can be asked, the controller may be the one cut
 * off: that is ambiguity, not failure).
 */

export interface VantageReport {
  replica: string;
  /** pg_isready run on the replica host against the master. */
  probe: 'sees' | 'no_answer' | 'unknown';
  probeDetail: string;
  /** The replica's WAL receiver, read over SQL; null when the replica cannot be queried. */
  walReceiver: { streaming: boolean; lastMessageAgeSeconds: number | null } | null;
}

export type MasterFailureVerdict =
  | { failed: true; reason: string }
  | { failed: false; ambiguous: boolean; reason: string; seenBy: string[] };

export function judgeMasterFailure(controllerReached: boolean, vantage: readonly VantageReport[], recentSeconds: number): MasterFailureVerdict {
  if (controllerReached) return { failed: false, ambiguous: false, reason: 'the controller reaches the master', seenBy: ['controller'] };
  const seenBy: string[] = [];
  const notSeenBy: string[] = [];
  const unknown: string[] = [];
  for (const v of vantage) {
    const recent =
      v.walReceiver !== null &&
      v.walReceiver.streaming &&
      v.walReceiver.lastMessageAgeSeconds !== null &&
      v.walReceiver.lastMessageAgeSeconds <= recentSeconds;
    if (v.probe === 'sees') seenBy.push(`${v.replica} (probe: ${v.probeDetail})`);
    else if (recent) seenBy.push(`${v.replica} (WAL received ${v.walReceiver?.lastMessageAgeSeconds?.toFixed(1)} s ago)`);
    else if (v.probe === 'no_answer' || v.walReceiver !== null) notSeenBy.push(v.replica);
    else unknown.push(v.replica);
  }
  if (seenBy.length > 0) {
    return { failed: false, ambiguous: true, reason: `the controller cannot reach the master but ${seenBy.join(', ')} can`, seenBy };
  }
  if (notSeenBy.length === 0) {
    const who = unknown.length > 0 ? `replicas ${unknown.join(', ')} cannot be asked` : 'there is no replica to ask';
    return { failed: false, ambiguous: true, reason: `the controller cannot reach the master and ${who}`, seenBy };
  }
  return { failed: true, reason: `neither the controller nor ${notSeenBy.join(', ')} reach the master` };
}
