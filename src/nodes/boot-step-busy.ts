/**
 * A command queued behind a long step of its agent's boot (issue 14): the agent's boot holds the
 * node while it copies the master onto it (hours, for a large master), rewinds it (the master's
 * CHECKPOINT, then pg_rewind) or runs initdb, and makes every command of the controller wait
 * (`queued` in the command record). Waiting is no operation's contract here: the node has no
 * PostgreSQL to stop, start, probe or rewind until the step ends, and a clone command would copy
 * what the boot copies already. So the controller answers such a command at once, `busy: boot
 * <step> since …`, instead of after its own timeout; the operation fails (or retries) under its own
 * rules. Behind a short step (the standby settings, the start: src/agent/boot-step.ts) it waits.
 * The agent names the step in its member record (`boot_step`; an agent older than that field
 * writes only `boot_copy` for a copy), kept alive meanwhile (src/agent/boot-step-keeper.ts), so the
 * agent-gone check (agent-gone.ts) also works for a command that waits. Pure: the controller's
 * waiting loop (agent-shell.ts) feeds it.
 */
import { answeredBusyBehind, BOOT_LOCK_LABEL, BOOT_STEP_NAMES, type BootStepName } from '../agent/boot-step.js';
import { memberFields } from '../store/etcd/member-json.js';

/** The boot step a member record names, as read (shown to people only). */
export interface BootStepFact {
  readonly step: BootStepName;
  readonly since: string;
  /** The copy's or rewind's source; null for the other steps. */
  readonly source: string | null;
  readonly reclone: boolean;
}

// Shown to people: a short, printable text only.
const printable = (text: string): string => text.replace(/[^\x20-\x7e]/g, '?').slice(0, 64);

function isStepName(value: unknown): value is BootStepName {
  return BOOT_STEP_NAMES.includes(value as BootStepName);
}

/**
 * The member record's boot step, or null (no record, no step, a malformed one, or a step this
 * controller does not know: waited for). `boot_step` first; a record without one (an older agent)
 * is read by its `boot_copy`. Not trusted beyond the message.
 */
export function bootStepOf(memberValue: string | null): BootStepFact | null {
  const fields = memberFields(memberValue);
  if (fields === null) return null;
  const step = fields['boot_step'];
  if (typeof step === 'object' && step !== null) {
    const { step: name, since, source, reclone } = step as Record<string, unknown>;
    if (!isStepName(name) || typeof since !== 'string' || (typeof source !== 'string' && source !== null) || typeof reclone !== 'boolean') return null;
    return { step: name, since: printable(since), source: source === null ? null : printable(source), reclone };
  }
  const copy = fields['boot_copy'];
  if (typeof copy !== 'object' || copy === null) return null;
  const { source, since, reclone } = copy as Record<string, unknown>;
  if (typeof source !== 'string' || typeof since !== 'string' || typeof reclone !== 'boolean') return null;
  return { step: 'copy', source: printable(source), since: printable(since), reclone };
}

/** What the boot does, for the busy answer. */
function doing(node: string, step: BootStepFact): string {
  const source = step.source ?? 'the recorded master';
  switch (step.step) {
    case 'copy':
      return `the agent's boot ${step.reclone ? 'reclones' : 'clones'} ${source} onto ${node}`;
    case 'rewind':
      return `the agent's boot rewinds ${node} to follow ${source}: the master's CHECKPOINT, then pg_rewind`;
    case 'initdb':
      return `the agent's boot creates a new cluster on ${node}`;
    default:
      // Not answered busy (answeredBusyBehind): named for completeness only.
      return `the agent's boot runs its ${step.step} step on ${node}`;
  }
}

/**
 * The busy answer for a command that waits (queued, not started) behind a long boot step; null: keep
 * waiting. Only when its record says it waits behind the boot (`queuedBehind`, the agent's words):
 * a member record can be stale (a killed agent's, a late write), and a command queued behind another
 * command or the short start waits.
 */
export function busyBehindBootStep(node: string, queuedBehind: string | null, started: boolean, step: BootStepFact | null): string | null {
  if (queuedBehind !== BOOT_LOCK_LABEL || started || step === null || !answeredBusyBehind(step.step)) return null;
  return `busy: boot ${step.step} since ${step.since} (${doing(node, step)}; PostgreSQL is not running there until it ends); nothing run, not waited for`;
}
