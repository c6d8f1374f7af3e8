/**
 * The one table of topology-change steps (design.md §5.5): what each step does, and what undoes
 * it. Every step is journaled before it runs. The plan builders below are the only source of the
 * order of steps: the executor checks each step it runs against the plan (step-runner.ts), and
 * dry runs print the same plan, so the two cannot drift apart.
 */

export const STEP_NAMES = [
  'revalidate',
  'select',
  'stop_master',
  'final_checkpoint',
  'wait_replay',
  'fence',
  'connection_failover',
  'promote',
  'settle_promotion',
  'remaster',
  'extra_command',
  'rejoin',
  'rollback',
  'restart_old_master',
  'adopt',
] as const;
export type StepName = (typeof STEP_NAMES)[number];

export interface StepSpec {
  /** What the step does, in an operator's words (dry runs and docs). */
  effect: string;
  /** 'plan': a step of the forward path; 'recovery': runs only when a planned step failed. */
  path: 'plan' | 'recovery';
  /** What undoes it when the change is rolled back; null when nothing needs undoing. */
  rollback: string | null;
  /**
   * The journaled outcomes of this step that prove its server is the new master: a recovery rolls
   * forward to it even when it does not answer then (runtime/topology/recovery.ts). Absent: none.
   */
  provesTarget?: readonly ('ok' | 'running')[];
}

export const STEP_TABLE: Readonly<Record<StepName, StepSpec>> = {
  revalidate: {
    effect: 'inside the action queue: the same master in the book, no topology change since the verdict, a fresh poll still fails',
    path: 'plan',
    rollback: null,
  },
  select: { effect: 'order the candidates from fresh facts (received WAL against the master\'s last position, lag limits)', path: 'plan', rollback: null },
  stop_master: { effect: 'stop the master cleanly (switchover); under synchronous_mode a target outside the synchronous set is first named synchronous and caught up', path: 'plan', rollback: 'start the old master again' },
  final_checkpoint: { effect: 'read the stopped master\'s shutdown checkpoint (pg_controldata)', path: 'plan', rollback: null },
  wait_replay: { effect: 'wait until the target replayed past the final checkpoint', path: 'plan', rollback: null },
  fence: {
    effect: 'stop the old master (fast, immediate, then kill of the whole instance); unreachable is not fenced; under synchronous_mode the candidates are then judged again from positions read after it',
    path: 'plan',
    rollback: 'start the old master again',
  },
  connection_failover: { effect: 'point every connection proxy at the new master', path: 'plan', rollback: null },
  promote: {
    effect: 'promote the candidate, after checking no other server is writable (under etcd_lease first recording it in the etcd `master` key: only while this controller leads, the key is unchanged since read and the old master\'s agent lease is gone); confirmed by a committed write',
    path: 'plan',
    rollback: 'settle_promotion: wait for it or stop it, never leave it pending',
    // Confirmed by a committed write; running or failed it may not have happened (settled instead).
    provesTarget: ['ok'],
  },
  settle_promotion: { effect: 'an unconfirmed promotion is waited for or stopped; if neither, nobody else is promoted', path: 'recovery', rollback: null },
  remaster: { effect: 'point a replica at the new master (ALTER SYSTEM + reload)', path: 'plan', rollback: null },
  extra_command: { effect: 'run a configured post-failover command', path: 'plan', rollback: null },
  rejoin: { effect: 'rewind the old master and start it as a replica of the new one', path: 'plan', rollback: null },
  rollback: { effect: 'bring the old master back (no candidate could be promoted)', path: 'recovery', rollback: null },
  restart_old_master: { effect: 'restart the old master (no candidate at all)', path: 'recovery', rollback: null },
  adopt: {
    effect: "record the master an agents' election made (it answers writable, its agent holds its master lease, nobody else is writable): nothing promoted; the old master fenced, or kept as a replica when already read-only",
    path: 'plan',
    rollback: null,
    // Running counts too: the step is an in-memory book change that starts only after the adopted
    // master answered writable with its lease held (re-read inside the queue) and the leadership
    // was asserted; the persister may save that book before the journal says ok.
    provesTarget: ['ok', 'running'],
  },
};

export interface PlannedStep {
  name: string;
  server: string | null;
  /** Runs only when the previous promotion failed (another candidate). */
  alternative?: boolean;
}

/** Whether a journaled step with this outcome proves its server is the new master (StepSpec.provesTarget). */
export function provesTarget(step: { name: string; outcome: string }): boolean {
  return (stepSpec(step.name)?.provesTarget ?? []).some((o) => o === step.outcome);
}

/** The table entry of a journaled step name ("extra_command:notify" → extra_command). */
export function stepSpec(name: string): StepSpec | null {
  const base = name.split(':', 1)[0] as string;
  return (STEP_NAMES as readonly string[]).includes(base) ? STEP_TABLE[base as StepName] : null;
}

export interface AfterPromotionInput {
  to: string;
  from: string | null;
  /** Enabled replicas other than the one promoted. */
  others: readonly string[];
  remaster: boolean;
  /** Connection failover configured, and not already done before the promotion. */
  connectionFailover: boolean;
  extraCommands: readonly string[];
  rejoin: boolean;
}

/** Clients first (the original's flowchart), then the replicas, the commands, the old master. */
function afterPromotion(input: AfterPromotionInput): PlannedStep[] {
  return [
    ...(input.connectionFailover ? [{ name: 'connection_failover', server: input.to }] : []),
    ...(input.remaster ? input.others.map((r) => ({ name: 'remaster', server: r })) : []),
    ...input.extraCommands.map((c) => ({ name: `extra_command:${c}`, server: null })),
    ...(input.rejoin && input.from !== null ? [{ name: 'rejoin', server: input.from }] : []),
  ];
}

export interface FailoverPlanInput extends Omit<AfterPromotionInput, 'to' | 'others'> {
  /** Candidates, best first. */
  candidates: readonly string[];
  /** Every enabled replica (remaster targets are these less the promoted one). */
  replicas: readonly string[];
  /** The old master cannot be fenced and the configuration accepts repointing the proxies first. */
  proxiesFirst: boolean;
}

export function planFailover(input: FailoverPlanInput): PlannedStep[] {
  const [first, ...alternatives] = input.candidates;
  if (first === undefined) return [{ name: 'revalidate', server: input.from }, { name: 'select', server: null }];
  return [
    { name: 'revalidate', server: input.from },
    { name: 'select', server: null },
    ...(input.from !== null ? [{ name: 'fence', server: input.from }] : []),
    ...(input.proxiesFirst ? [{ name: 'connection_failover', server: first }] : []),
    { name: 'promote', server: first },
    ...alternatives.map((c) => ({ name: 'promote', server: c, alternative: true })),
    ...afterPromotion({ ...input, to: first, others: input.replicas.filter((r) => r !== first), connectionFailover: input.connectionFailover && !input.proxiesFirst }),
  ];
}

export interface SwitchoverPlanInput extends Omit<AfterPromotionInput, 'rejoin' | 'from'> {
  from: string;
}

export function planSwitchover(input: SwitchoverPlanInput): PlannedStep[] {
  return [
    { name: 'stop_master', server: input.from },
    { name: 'final_checkpoint', server: input.from },
    { name: 'wait_replay', server: input.to },
    { name: 'promote', server: input.to },
    ...afterPromotion({ ...input, rejoin: true }),
  ];
}

/**
 * A controller adopting an agents' master (runtime/topology/adopt-agents-master.ts): the book
 * change, then what a failover does after its promotion that the agents' election did not do
 * (proxies, post-failover commands). No remaster and no rejoin: the agents point their standbys
 * and the old master at the new one themselves.
 */
export function planAdoption(input: Pick<AfterPromotionInput, 'to' | 'from' | 'connectionFailover' | 'extraCommands'>): PlannedStep[] {
  return [{ name: 'adopt', server: input.to }, ...afterPromotion({ ...input, others: [], remaster: false, rejoin: false })];
}

export function planPromote(input: { from: string | null; to: string }): PlannedStep[] {
  return [...(input.from !== null ? [{ name: 'fence', server: input.from }] : []), { name: 'promote', server: input.to }];
}

/** "fence john → promote paul (or george) → remaster george → rejoin john" */
export function describePlan(steps: readonly PlannedStep[]): string[] {
  return steps.map((s) => `${s.name}${s.server !== null ? ` ${s.server}` : ''}${s.alternative ? ' (if the previous promotion failed)' : ''}`);
}

/** The executed steps that belong to the forward path, as "name server" (for plan comparisons). */
export function forwardPath(steps: readonly { name: string; server: string | null; outcome: string }[]): string[] {
  return steps.filter((s) => s.outcome !== 'skipped' && stepSpec(s.name)?.path === 'plan').map((s) => `${s.name}${s.server !== null ? ` ${s.server}` : ''}`);
}

/** The plan's forward path when every first choice works: alternatives left out. */
export function expectedPath(plan: readonly PlannedStep[]): string[] {
  return plan.filter((s) => !s.alternative).map((s) => `${s.name}${s.server !== null ? ` ${s.server}` : ''}`);
}
