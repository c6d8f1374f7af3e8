/**
 * Candidate order for a promotion: the selection plugin over fresh facts, with an operator's
 * preferred replica moved first when it is viable. Under synchronous_mode the recorded
 * synchronous set then narrows it (engine/sync-promotion.ts): only a member known to hold every
 * acknowledged commit stays.
 */
import type { Refusal, RefusalCode } from '../../engine/selection.js';
import { syncPromotionRule } from '../../engine/sync-promotion.js';
import type { TopologyEnv } from './env.js';
import { candidateFacts, snapshotReplicas, type ReplicaSnapshot } from './facts.js';

export interface CandidateSelection {
  order: string[];
  refusals: Refusal[];
  /** Said with the selection (a synchronous_mode failover that may lose writes). */
  warning?: string;
}

export async function selectCandidates(
  env: TopologyEnv,
  snapshots: readonly ReplicaSnapshot[],
  /** `master`: the master failed over; the recorded synchronous set must describe it (null: none in the book, not checked). */
  options: { preferred: string | null; ignoreLag: boolean; sync?: 'restrict' | 'prefer'; master?: string | null },
): Promise<CandidateSelection> {
  const config = env.ctx().config;
  const plugin = env.plugins.get('select', config.failover.selection_method);
  const facts = candidateFacts(env, snapshots).map((c) => (options.ignoreLag ? { ...c, lagMb: null, replayLagBytes: null } : c));
  const selected = plugin.select({ candidates: facts, maxReplayLagMb: config.failover.max_replay_lag });
  // A switchover loses nothing whoever the target (the old master's final WAL is waited for): the
  // synchronous set only orders its candidates, members first.
  const result = options.sync === 'prefer' ? preferSyncMembers(env, selected) : withSyncRule(env, facts, selected, options.master ?? undefined);
  if (options.preferred === null) return result;
  if (result.order.includes(options.preferred)) {
    return { ...result, order: [options.preferred, ...result.order.filter((n) => n !== options.preferred)] };
  }
  return { ...result, order: [], refusals: result.refusals.filter((r) => r.name === options.preferred) };
}

/** The selection's order less what the recorded synchronous set forbids, each removal with its reason. */
function withSyncRule(env: TopologyEnv, facts: ReturnType<typeof candidateFacts>, result: { order: string[]; refusals: Refusal[] }, master: string | undefined): CandidateSelection {
  const rule = syncPromotionRule(env.ctx().config.failover.synchronous_mode, env.book.syncRecord(), facts, master);
  if (rule.kind === 'any_candidate') return rule.warning === null ? result : { ...result, warning: rule.warning };
  const refuse = (name: string, code: RefusalCode, why: string): Refusal => ({ name, code, reason: `${name} ${why}` });
  if (rule.kind === 'none') {
    return { order: [], refusals: [...result.refusals, ...result.order.map((n) => refuse(n, rule.code, `cannot be promoted: ${rule.reason}`))] };
  }
  const dropped = result.order.filter((n) => !rule.allowed.includes(n));
  const refusals = dropped.map((n) => refuse(n, rule.why[n]?.code ?? 'not_sync_member', rule.why[n]?.reason ?? 'is not in the recorded synchronous set'));
  return { order: result.order.filter((n) => rule.allowed.includes(n)), refusals: [...result.refusals, ...refusals] };
}

/** What the synchronous rule says about promoting `name` by hand (the `promote` operation). */
export type SyncVerdict = { allowed: true; warning: string | null } | { allowed: false; code: RefusalCode; reason: string };

/**
 * The rule a failover applies (engine/sync-promotion.ts), for one replica an operator named:
 * under synchronous_mode on/strict with a recorded quorum, only a member sure to hold every
 * acknowledged commit (n − k + 1 members reachable, and the furthest ahead of them) may be
 * promoted. Judged from `snapshots`, read just before.
 */
function syncVerdictFor(env: TopologyEnv, name: string, snapshots: readonly ReplicaSnapshot[], master: string | null): SyncVerdict {
  const mode = env.ctx().config.failover.synchronous_mode;
  const rule = syncPromotionRule(mode, env.book.syncRecord(), candidateFacts(env, snapshots), master ?? undefined);
  if (rule.kind === 'any_candidate') return { allowed: true, warning: rule.warning };
  const lead = `synchronous_mode ${mode}: only a member of the recorded synchronous set sure to hold every acknowledged commit may be promoted`;
  if (rule.kind === 'none') return { allowed: false, code: rule.code, reason: `${lead}; ${name} cannot be: ${rule.reason}` };
  if (rule.allowed.includes(name)) return { allowed: true, warning: null };
  const why = rule.why[name] ?? { code: 'not_sync_member', reason: `is not in the recorded synchronous set (${env.book.syncRecord()?.members.join(', ') ?? ''}): it may lack acknowledged commits` };
  return { allowed: false, code: why.code, reason: `${lead}; ${name} ${why.reason}${rule.allowed.length > 0 ? ` (allowed now: ${rule.allowed.join(', ')})` : ''}` };
}

/**
 * syncVerdictFor from positions read now; no round trip when synchronous_mode is off. `master`: the
 * book's master being replaced; null (none in the book: an operator's promote) leaves the set's
 * master unchecked.
 */
export async function syncVerdictNow(env: TopologyEnv, name: string, master: string | null): Promise<SyncVerdict> {
  if (env.ctx().config.failover.synchronous_mode === 'off') return { allowed: true, warning: null };
  return syncVerdictFor(env, name, await snapshotReplicas(env), master);
}

function preferSyncMembers(env: TopologyEnv, result: { order: string[]; refusals: Refusal[] }): CandidateSelection {
  const members = env.book.syncRecord()?.members ?? [];
  return { ...result, order: [...result.order.filter((n) => members.includes(n)), ...result.order.filter((n) => !members.includes(n))] };
}

/** Enabled replicas, less `except`. */
export function enabledReplicas(env: TopologyEnv, except: readonly string[] = []): string[] {
  return env.book.names().filter((n) => {
    const s = env.book.get(n);
    return s.role === 'replica' && s.enabled && !except.includes(n);
  });
}
