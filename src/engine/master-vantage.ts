/**
 * What the failover check's judgement of an unanswering master (design.md §5.1) means for
 * statuses and alerts. Pure: a judgement, a verdict and the time in; a verdict or an alert out.
 *
 * Why: when only the controller is cut off from a master the replicas still see, the master is
 * serving clients. Marking it `unavailable` would turn the cluster `down`, page someone every
 * cycle and make `/primary/<master>` answer 503, so a load balancer would cut every session over
 * a fault of the monitoring path. While a fresh judgement says "seen by replicas", the master is
 * `warning` instead, and the episode is alerted once.
 */
import type { ServerStatusName } from '../model/status.js';
import type { MasterFailureVerdict } from './master-failure.js';

/** The outcome of the last judgement of the master, valid until `until` (ISO time). */
export type MasterJudgement =
  | { master: string; kind: 'seen'; seenBy: string[]; reason: string; until: string }
  | { master: string; kind: 'failed' | 'undecided'; reason: string; until: string }
  /** Failed, but a rule keeps HandyRep from failing over (e.g. it cannot be fenced): warning, alerted once. */
  | { master: string; kind: 'held'; code: string; reason: string; until: string };

/** Why a failed master is not failed over (the failover decision's reason). */
export interface HeldFailover {
  code: string;
  reason: string;
}

/** The failover settings that bound how long a judgement stays true without a new one. */
export interface JudgementTiming {
  poll_interval: number;
  fail_retries: number;
  fail_retry_interval: number;
  connect_timeout_seconds: number;
}

/**
 * Seconds a judgement stays valid: long enough to reach the next cycle's judgement (a poll
 * interval, the failed check and its retries, each up to a connect timeout, the vantage probes),
 * so a status does not flip back between two judgements; short enough that a judgement nobody
 * renews (monitoring stopped or paused) soon stops counting.
 */
export function judgementValidSeconds(t: JudgementTiming): number {
  const retries = t.fail_retries * (t.fail_retry_interval + t.connect_timeout_seconds);
  return 2 * t.poll_interval + retries + 4 * t.connect_timeout_seconds + 10;
}

/** The judgement recorded for `master` from the failure verdict, valid `validSeconds` from `nowMs`. */
export function judgementFromVerdict(master: string, verdict: MasterFailureVerdict, nowMs: number, validSeconds: number, held: HeldFailover | null = null): MasterJudgement {
  const until = new Date(nowMs + validSeconds * 1000).toISOString();
  if (verdict.failed && held !== null) return { master, kind: 'held', code: held.code, reason: held.reason, until };
  if (verdict.failed) return { master, kind: 'failed', reason: verdict.reason, until };
  if (verdict.seenBy.length > 0) return { master, kind: 'seen', seenBy: [...verdict.seenBy], reason: verdict.reason, until };
  return { master, kind: 'undecided', reason: verdict.reason, until };
}

/** The judgement when it concerns `master` and is still valid at `nowMs`; null otherwise. */
export function currentJudgement(judgement: MasterJudgement | null, master: string | null, nowMs: number): MasterJudgement | null {
  if (judgement === null || master === null || judgement.master !== master) return null;
  return Date.parse(judgement.until) > nowMs ? judgement : null;
}

/** The replica names of a `seenBy` list (each entry starts with the name: "paul (probe: …)"). */
export function vantageNames(seenBy: readonly string[]): string[] {
  return seenBy.map((entry) => entry.split(' ')[0] ?? entry).sort();
}

/** The status message of a master the controller cannot reach but the replicas see. */
export function cutOffMessage(judgement: Extract<MasterJudgement, { kind: 'seen' }>): string {
  return `HandyRep cannot reach it; replicas see it (${vantageNames(judgement.seenBy).join(', ')}): not failing over`;
}

/** A status verdict as the checks produce it (poll or verification of the master). */
export interface MasterCheckVerdict {
  status: ServerStatusName;
  message: string;
}

/**
 * The master's status after a check that got no answer (`unavailable`) while a valid judgement
 * says the replicas see it: `warning`. Any other verdict stands.
 */
export function statusWithJudgement<V extends MasterCheckVerdict>(verdict: V, judgement: MasterJudgement | null): V {
  if (judgement?.kind !== 'seen' || verdict.status !== 'unavailable') return verdict;
  return { ...verdict, status: 'warning', message: cutOffMessage(judgement) };
}

/**
 * A poll verdict for a master that answered again: a `warning` the cut-off set is lifted (a
 * poll cannot otherwise lift a warning); any other verdict stands.
 */
export function verdictOnAnswer<V extends MasterCheckVerdict | { keep: true; message: string }>(
  verdict: V,
  previous: ServerStatusName,
  judgement: MasterJudgement | null,
): V | MasterCheckVerdict {
  if (!('keep' in verdict) || judgement?.kind !== 'seen' || previous !== 'warning') return verdict;
  return { status: 'healthy', message: 'master responding to polling again' };
}

/** The situation an episode alert is about; a new alert goes out only when it changes. */
export function judgementSituation(judgement: MasterJudgement): string {
  const what = judgement.kind === 'seen' ? `seen by ${vantageNames(judgement.seenBy).join(', ')}` : judgement.kind === 'held' ? `held (${judgement.code})` : judgement.kind;
  return `${judgement.master} ${what}`;
}

export interface EpisodeAlert {
  message: string;
  severity: 'WARNING' | 'CRITICAL';
}

/**
 * The alert a new judgement raises, given the situation alerted last in this episode (null:
 * none yet). `failed` raises none here: the cluster going down alerts (CRITICAL), and the
 * failover reports its steps.
 */
export function judgementAlert(judgement: MasterJudgement, alerted: string | null): EpisodeAlert | null {
  if (judgement.kind === 'failed' || judgementSituation(judgement) === alerted) return null;
  if (judgement.kind === 'seen') {
    return { message: `master ${judgement.master}: ${cutOffMessage(judgement)} (${judgement.reason})`, severity: 'WARNING' };
  }
  // A failed master nobody fails over needs a human now.
  if (judgement.kind === 'held') return { message: `master ${judgement.master}: ${judgement.reason}`, severity: 'CRITICAL' };
  return { message: `master ${judgement.master}: HandyRep cannot reach it and cannot tell whether it is down: not failing over (${judgement.reason})`, severity: 'WARNING' };
}

/** The alert when the master answers HandyRep again after an alerted episode. */
export function episodeEndAlert(master: string, alerted: string | null): EpisodeAlert | null {
  if (alerted === null) return null;
  return { message: `master ${master}: HandyRep reaches it again; over: ${alerted}`, severity: 'WARNING' };
}
