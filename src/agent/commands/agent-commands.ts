/**
 * Whether this agent executes commands (its server's control_method is `agent`), and the executor
 * wired to etcd and the local runner when it does. An agent of a node the controller reaches by
 * ssh runs none: nobody should write commands for it, and it must not obey any.
 */
import type { HandyRepConfig } from '../../config/schema.js';
import type { EtcdContext } from '../../store/etcd/client.js';
import { resolvedServer } from './command-plan.js';
import { localStepRunner } from './command-runner.js';
import { etcdCommandStore } from './etcd-command-store.js';
import { CommandExecutor, type ExecutorDeps } from './executor.js';
import { readPartialCopy } from '../copy-marker.js';
import type { NodeLock } from './node-lock.js';
import type { ProcessGroupWatcher } from '../../nodes/run-process.js';

export function commandExecutorFor(
  config: Readonly<HandyRepConfig>,
  node: string,
  ctx: EtcdContext,
  callMs: number,
  log: (line: string) => void,
  /** One fresh round of the agent (not one already under way: it may have looked before the command). */
  freshRound: () => Promise<unknown>,
  /** A commanded stop is the agent's own stop, not a crash (no restart_on_crash, the lease released). */
  stoppingOnPurpose: () => void,
  /** Shared with the agent's boot (node-lock.ts). */
  lock?: NodeLock,
  /** The agent's copy process groups (copy-groups.ts): a clone's copy is killed with the boot's at stop. */
  groups?: ProcessGroupWatcher,
  /** Its master lease and PostgreSQL, for the guard of a clone or rewind (command-guard.ts). */
  localFacts?: ExecutorDeps['localFacts'],
): CommandExecutor | null {
  const server = resolvedServer(config, node);
  if (server?.control_method !== 'agent') return null;
  const partialCopy = (): string | null => {
    const verdict = readPartialCopy(server.pgdata, node);
    return verdict.kind === 'redo' || verdict.kind === 'blocked' ? verdict.sentence : null;
  };
  return new CommandExecutor(config, node, { store: etcdCommandStore(ctx, node, callMs), run: localStepRunner(config, undefined, log, groups), log, afterPostgresAction: freshRound, beforeStop: stoppingOnPurpose, partialCopy, ...(lock ? { lock } : {}), ...(localFacts ? { localFacts } : {}) });
}
