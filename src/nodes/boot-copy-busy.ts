/**
 * A command queued behind its agent's boot copy (issue 14): the agent's boot holds the node while
 * it copies the master onto it (hours, for a large master), and makes every command of the
 * controller wait (`queued` in the command record). Waiting is no operation's contract here: the
 * node has no PostgreSQL to stop, start, probe or rewind until the copy ends, and a clone command
 * would copy what the boot copies already. So the controller answers such a command at once,
 * `busy: boot copy since …`, instead of after its own timeout; the operation fails (or retries)
 * under its own rules. The agent says it copies in its member record (`boot_copy`,
 * src/agent/boot-copy-keeper.ts), kept alive meanwhile, so the agent-gone check (agent-gone.ts)
 * also works for a command that waits. Pure: the controller's waiting loop (agent-shell.ts) feeds it.
 */

/** The `boot_copy` part of a member record. */
export interface BootCopyFact {
  readonly source: string;
  readonly since: string;
  readonly reclone: boolean;
}

/** The member record's `boot_copy`, or null (absent, null, malformed, or not a record). Not trusted beyond the message. */
export function bootCopyOf(memberValue: string | null): BootCopyFact | null {
  if (memberValue === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(memberValue);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const copy = (value as Record<string, unknown>)['boot_copy'];
  if (typeof copy !== 'object' || copy === null) return null;
  const { source, since, reclone } = copy as Record<string, unknown>;
  if (typeof source !== 'string' || typeof since !== 'string' || typeof reclone !== 'boolean') return null;
  // Shown to people: a short, printable text only.
  const printable = (text: string): string => text.replace(/[^\x20-\x7e]/g, '?').slice(0, 64);
  return { source: printable(source), since: printable(since), reclone };
}

/** The busy answer for a command that waits (queued, not started) while the agent's boot copies; null: keep waiting. */
export function busyBehindBootCopy(node: string, queued: boolean, started: boolean, copy: BootCopyFact | null): string | null {
  if (!queued || started || copy === null) return null;
  return `busy: boot copy since ${copy.since} (the agent's boot ${copy.reclone ? 'reclones' : 'clones'} ${copy.source} onto ${node}; PostgreSQL is not running there until it ends); nothing run, not waited for`;
}
