/**
 * The agent's round step for the election (deployment ha/agents): follow the winner of an agents'
 * election (follow.ts), else, on a running replica while another node is recorded master, one
 * election attempt (elector.ts). What it changes on the node goes through the agent's hands.
 */
import type { HandyRepConfig } from '../../config/schema.js';
import { describeError } from '../../model/errors.js';
import type { EtcdContext } from '../../store/etcd/client.js';
import type { MasterKeyView, PostgresView } from '../decide.js';
import { ElectionWatch } from './election-watch.js';
import { Elector, electorSettings, type ElectionHands } from './elector.js';
import { decideFollow } from './follow.js';

export interface AgentElectionHands extends ElectionHands {
  /** Stops the replica so that role discovery starts it again as a standby of the recorded master. */
  remaster(why: string): Promise<void>;
}

export interface ElectionSeat {
  readonly node: string;
  readonly elector: Elector;
  readonly hands: AgentElectionHands;
  /** The master this node's replica is known to follow (follow.ts). */
  following: string | null;
  /** Lets an idle replica skip its election snapshot while nothing changed (election-watch.ts); closed with the agent. */
  readonly watch: ElectionWatch;
}

export function electionSeatFor(config: HandyRepConfig, node: string, ctx: EtcdContext, callMs: number, now: () => number, log: (line: string) => void, hands: AgentElectionHands): ElectionSeat {
  const watch = new ElectionWatch(ctx, now, (line) => log(`agent ${node}: ${line}`));
  // A watch on an etcd member cut off from the others hears nothing: a snapshot at least every ttl / 2.
  const backstopMs = (config.etcd.ttl * 1000) / 2;
  return { node, elector: new Elector(ctx, electorSettings(config, node, callMs), hands, now, log, watch, backstopMs), hands, following: null, watch };
}

/** The round's election step; returns what to add to the round's sentence ('' when nothing happened). */
export async function electionStep(seat: ElectionSeat, postgres: PostgresView, master: MasterKeyView): Promise<string> {
  if (master.state !== 'present') return '';
  const record = master.record;
  const replicaRunning = postgres.state === 'running' && !postgres.writable;
  seat.following ??= record.name;
  const follow = decideFollow(seat.node, record, replicaRunning, seat.following);
  if (follow.kind === 'remaster') {
    seat.following = follow.master;
    await seat.hands.remaster(follow.sentence);
    return `; ${follow.sentence}`;
  }
  if (record.name === seat.node && record.written_by === `agent:${seat.node}` && record.timeline === null && postgres.state === 'running' && postgres.writable) {
    const confirmed = await seat.elector.confirmAgain().catch(() => false);
    return confirmed ? '; master key confirmed' : '';
  }
  if (!replicaRunning || record.name === seat.node) return '';
  try {
    const outcome = await seat.elector.attempt({ name: record.name, term: record.term });
    if (outcome.kind === 'won') seat.following = seat.node;
    return outcome.kind === 'refused' ? '' : `; ${outcome.sentence}`;
  } catch (err) {
    return `; election attempt failed: ${describeError(err)}`;
  }
}
