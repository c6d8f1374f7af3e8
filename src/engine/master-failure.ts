/**
 * Is the master really gone? (design.md §5.1) The controller's own failed polls are not enough:
 * every enabled replica is a second vantage point, asked to probe the master itself, and a WAL
 * receiver that heard from the master within the last few seconds also sees it.
 *
 * The master is failed only when the controller cannot reach it, no vantage point sees it, and a
 * strict majority of the enabled replicas positively does not see it (their probe ran and got no
 * answer). A replica whose probe could not run (no control channel, pg_isready missing, a timeout)
 * is unknown: it counts against the majority, so a controller cut off together with a minority of
 * the replicas never promotes one of them.
 */

export type ProbeResult = 'sees' | 'no_answer' | 'unknown';

export interface VantageReport {
  replica: string;
  /** pg_isready run on the replica host against the master. */
  probe: ProbeResult;
  probeDetail: string;
  /** The replica's WAL receiver, read over SQL; null when the replica cannot be queried. */
  walReceiver: { streaming: boolean; lastMessageAgeSeconds: number | null } | null;
}

/** How a pg_isready run on a replica host ended: its exit, or why it could not run. */
export type ProbeRun = { exitCode: number | null; timedOut: boolean } | { error: string };

/**
 * pg_isready's exit codes: 0 accepting, 1 rejecting (starting or stopping: the server answers),
 * 2 no response, 3 no attempt (bad parameters). Anything else (127 not found, 255 ssh failure) or
 * a timeout of the control channel means the probe did not run: unknown, never "does not see".
 */
export function classifyProbe(replica: string, run: ProbeRun): { probe: ProbeResult; probeDetail: string } {
  if ('error' in run) return { probe: 'unknown', probeDetail: `cannot run pg_isready on ${replica}: ${run.error}` };
  if (run.timedOut) return { probe: 'unknown', probeDetail: `pg_isready on ${replica} timed out (control channel)` };
  switch (run.exitCode) {
    case 0:
      return { probe: 'sees', probeDetail: 'accepting connections' };
    case 1:
      return { probe: 'sees', probeDetail: 'answering (starting or stopping)' };
    case 2:
      return { probe: 'no_answer', probeDetail: 'no response' };
    case 3:
      return { probe: 'unknown', probeDetail: `pg_isready on ${replica} made no attempt (exit 3)` };
    default:
      return { probe: 'unknown', probeDetail: `pg_isready on ${replica} did not run (exit ${String(run.exitCode)})` };
  }
}

export type MasterFailureReasonCode =
  | 'controller_reaches_master'
  | 'vantage_sees_master'
  | 'vantage_none'
  | 'vantage_no_majority'
  | 'master_failed';

export type MasterFailureVerdict =
  | { failed: true; reason_code: 'master_failed'; reason: string; notSeenBy: string[]; unknown: string[] }
  | {
      failed: false;
      ambiguous: boolean;
      reason_code: Exclude<MasterFailureReasonCode, 'master_failed'>;
      reason: string;
      seenBy: string[];
      unknown: string[];
    };

/** The vantage point's answer: sees (and how), positively does not see, or unknown. */
function classifyVantage(v: VantageReport, recentSeconds: number): { sees: string } | 'not_seen' | 'unknown' {
  const receiver = v.walReceiver;
  const age = receiver?.lastMessageAgeSeconds ?? null;
  if (v.probe === 'sees') return { sees: `${v.replica} (probe: ${v.probeDetail})` };
  if (receiver !== null && receiver.streaming && age !== null && age <= recentSeconds) {
    return { sees: `${v.replica} (WAL received ${age.toFixed(1)} s ago)` };
  }
  // A quiet WAL receiver proves nothing (idle master, or a receiver not yet timed out): only
  // a probe that ran and got no answer is a "does not see".
  return v.probe === 'no_answer' ? 'not_seen' : 'unknown';
}

/** `vantage` holds one report per enabled replica (the majority is counted over them). */
export function judgeMasterFailure(controllerReached: boolean, vantage: readonly VantageReport[], recentSeconds: number): MasterFailureVerdict {
  if (controllerReached) {
    return { failed: false, ambiguous: false, reason_code: 'controller_reaches_master', reason: 'the controller reaches the master', seenBy: ['controller'], unknown: [] };
  }
  const seenBy: string[] = [];
  const notSeenBy: string[] = [];
  const unknown: string[] = [];
  for (const v of vantage) {
    const answer = classifyVantage(v, recentSeconds);
    if (answer === 'not_seen') notSeenBy.push(v.replica);
    else if (answer === 'unknown') unknown.push(`${v.replica} (${v.probeDetail})`);
    else seenBy.push(answer.sees);
  }
  const ambiguity = (reason_code: 'vantage_sees_master' | 'vantage_none' | 'vantage_no_majority', reason: string): MasterFailureVerdict => ({
    failed: false,
    ambiguous: true,
    reason_code,
    reason,
    seenBy,
    unknown,
  });
  if (seenBy.length > 0) {
    const others = [...(notSeenBy.length > 0 ? [`does not see it: ${notSeenBy.join(', ')}`] : []), ...(unknown.length > 0 ? [`unknown: ${unknown.join(', ')}`] : [])];
    return ambiguity('vantage_sees_master', `the controller cannot reach the master but ${seenBy.join(', ')} can${others.length > 0 ? ` (${others.join('; ')})` : ''}`);
  }
  if (vantage.length === 0) return ambiguity('vantage_none', 'the controller cannot reach the master and there is no replica to ask');
  if (notSeenBy.length * 2 <= vantage.length) {
    const positive = notSeenBy.length === 0 ? 'no replica positively does not see it' : `only ${notSeenBy.join(', ')} positively ${notSeenBy.length === 1 ? 'does' : 'do'} not see it`;
    const unknownNote = unknown.length > 0 ? `; unknown: ${unknown.join(', ')}` : '';
    return ambiguity(
      'vantage_no_majority',
      `the controller cannot reach the master and ${positive} (${notSeenBy.length} of ${vantage.length} enabled replicas, a strict majority is needed)${unknownNote}`,
    );
  }
  const unknownNote = unknown.length > 0 ? ` (unknown: ${unknown.join(', ')})` : '';
  return {
    failed: true,
    reason_code: 'master_failed',
    reason: `neither the controller nor ${notSeenBy.join(', ')} reach the master${unknownNote}`,
    notSeenBy,
    unknown,
  };
}
