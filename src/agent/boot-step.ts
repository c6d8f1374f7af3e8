/**
 * What the agent's boot is doing (issue 14): the step of role discovery that holds the node, as
 * the member record publishes it (`boot_step`, boot-step-keeper.ts) and the controller reads it
 * (src/nodes/boot-step-busy.ts). Shared by both sides: the names, the record's shape, and which
 * steps a command queued behind is answered busy at once.
 */

/**
 * - `copy`: a clone or reclone of the recorded master (with its CHECKPOINT, folder work and the
 *   standby configuration after it): minutes to hours;
 * - `rewind`: the master's CHECKPOINT and slot, then pg_rewind (its own time limit: 2 minutes);
 * - `initdb`: a new cluster on the bootstrap node;
 * - `standby_settings`: primary_conninfo and the slot appended to postgresql.auto.conf (a file write);
 * - `start`: pg_ctl start (as standby or master), bounded by its own time limit.
 */
export type BootStepName = 'copy' | 'rewind' | 'initdb' | 'standby_settings' | 'start';

/**
 * What a command queued behind the boot says it waits for (`queued.behind` in its record): the
 * controller answers busy behind a long boot step only then (a member record may be stale).
 */
export const BOOT_LOCK_LABEL = "the agent's boot (role discovery)";

export const BOOT_STEP_NAMES: readonly BootStepName[] = ['copy', 'rewind', 'initdb', 'standby_settings', 'start'];

/** A boot step as the agent knows it. */
export interface BootStep {
  readonly step: BootStepName;
  /** The server the step reads from: the copy's or the rewind's source; null for the others. */
  readonly source: string | null;
  /** The master the node will follow (the recorded master); null when it becomes the master itself. */
  readonly master: string | null;
  /** When the step began (ISO, the agent's clock: for people). */
  readonly since: string;
  /** A copy that replaces data pg_rewind could not join (the old folder kept aside); false for the others. */
  readonly reclone: boolean;
}

/** The member record's `boot_step` (optional: older agents write none; readers accept its absence). */
export interface BootStepRecord {
  readonly step: BootStepName;
  readonly since: string;
  readonly source: string | null;
  readonly reclone: boolean;
}

export function bootStepRecord(step: BootStep): BootStepRecord {
  return { step: step.step, since: step.since, source: step.source, reclone: step.reclone };
}

/**
 * Whether a controller's command queued behind this step is answered busy at once. Yes for the
 * long steps (copy, rewind, initdb): the node has no PostgreSQL to stop, start, probe or rewind
 * until they end, and no operation's contract is to wait that long. No for the short ones (the
 * standby settings: a file write; the start: bounded by pg_ctl's limit): a command behind them gets
 * a real answer seconds later, and refusing it would turn a short overlap into an error, as for
 * two commands ("One command at a time" in docs/node-agent.md).
 */
export function answeredBusyBehind(step: BootStepName): boolean {
  return step === 'copy' || step === 'rewind' || step === 'initdb';
}
