/**
 * An automatic failover that the snapshot shows to be the same refusal as the episode's
 * (engine/refusal-repeat.ts): answered without an attempt — no journal written or cleared, no
 * restart of the old master (its backoff is not due), nothing recorded or alerted, one log line.
 * The same checks as the attempt's first two steps run first (no candidate from the same
 * selection, the master still fails a fresh poll); anything else, and the attempt runs as before.
 */
import { describeRefusals } from '../../engine/candidates.js';
import { noCandidateAbout, restartOkIn } from '../../engine/refusal-repeat.js';
import { refusalNote } from '../../engine/refusal-episode.js';
import { failure } from '../../model/rd.js';
import type { TopologyEnv } from './env.js';
import { snapshotReplicas, type ReplicaSnapshot } from './facts.js';
import type { FailoverExpectation, TopologyRd } from './failover.js';
import { answeredWithoutAttempt } from './no-attempt.js';
import { selectCandidates } from './select.js';

export interface QuietRepeatInput {
  expect: FailoverExpectation;
  snapshots?: readonly ReplicaSnapshot[];
  preferred: string | null;
  proxiesFirst: boolean;
  /** The attempt's revalidate step, unjournaled (it only reads). */
  revalidate: () => Promise<{ ok: boolean; details: string }>;
}

/**
 * The episode's refusal again, without an attempt; null: run the attempt. Anything failing in here
 * runs the attempt too: a throw must not leave the episode without its reminders and restarts.
 */
export async function quietRepeat(env: TopologyEnv, input: QuietRepeatInput): Promise<TopologyRd | null> {
  try {
    return await repeatWithoutAttempt(env, input);
  } catch {
    return null;
  }
}

async function repeatWithoutAttempt(env: TopologyEnv, input: QuietRepeatInput): Promise<TopologyRd | null> {
  const episodes = env.refusals;
  const episode = episodes?.current ?? null;
  const { master, topologyRevision } = input.expect;
  // Cheap first: only an episode of this very refusal can be repeated (the plan below checks it all).
  if (episodes === undefined || episode === null || master === null || episode.signature.reasonCode !== 'no_candidate') return null;
  if (episode.signature.master !== master || episode.signature.topologyRevision !== topologyRevision) return null;
  if (env.book.masterName() !== master || env.book.topologyRevision !== topologyRevision) return null;
  // The candidates first: with one, the attempt runs at once, without this poll of the master
  // before its own (a lost host's poll waits its whole connect timeout).
  const snapshots = input.snapshots ?? (await snapshotReplicas(env));
  const selection = await selectCandidates(env, snapshots, { preferred: input.preferred, ignoreLag: false, master });
  const order = input.proxiesFirst ? selection.order.slice(0, 1) : selection.order;
  if (order.length > 0) return null; // a candidate: the attempt runs (and may fail over)
  if (!(await input.revalidate()).ok) return null;
  // The restart's part of the signature is the outcome of an attempt, not a fact the snapshot can
  // show: the episode's is kept (a restart that reported success yet the master still fails a poll
  // is backed off too).
  const foreseen = { master, reasonCode: 'no_candidate', about: noCandidateAbout(selection.refusals, restartOkIn(episode.signature.about)), topologyRevision };
  const nowMs = env.clock().getTime();
  const plan = episodes.plan(foreseen, nowMs);
  if (plan.attempt) return null;
  const verdict = episodes.judge(foreseen, nowMs);
  const warned = selection.warning !== undefined ? `; ${selection.warning}` : '';
  const tries = episodes.current?.restartTries ?? 0;
  const details =
    `no viable replica to fail over to (no candidate: ${describeRefusals(selection.refusals)}${warned}); ` +
    `old master ${master} not restarted this time (${tries} restart${tries === 1 ? '' : 's'} tried in this episode, the next from ${new Date(plan.nextRestartMs).toISOString()}); ` +
    `no failover attempted, nothing journaled${refusalNote(verdict)}`;
  env.log.error('FAILOVER', `failover refused again: ${details}`);
  return answeredWithoutAttempt(failure(details, { reason_code: 'no_candidate', refusals: [...selection.refusals] }));
}
