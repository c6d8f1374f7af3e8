/**
 * A controller in deployment `agents`: the master's node agent keeps synchronous_standby_names and
 * the recorded set there (agent/sync/), so the controller only reports the set the agents recorded
 * (its state writes carry it unchanged: store/etcd/etcd-cluster-store.ts) and refuses whatever would
 * name standbys itself (pure: the configuration in, a refusal or null out).
 */
import type { HandyRepConfig } from '../../config/schema.js';
import type { SyncRecord } from '../../model/sync-record.js';

/** The agents keep the synchronous set (in `agents` even with synchronous_mode off: their keeper clears what `on` left). */
export function agentsKeepSync(config: HandyRepConfig): boolean {
  return config.handyrep.deployment === 'agents';
}

/**
 * Why `operation` (a promotion, a failover, a switchover: each names standbys on the master
 * through the controller) is refused, or null when the controller may run it. `recorded`: the set
 * the agents recorded, as the controller followed it. It refuses too when that set promises a
 * quorum, whatever the controller's own file says (files out of step, review s8 S2: a controller
 * with mode off would promote a server the agents' record excludes, with nothing named for it).
 */
export function agentsSyncRefusal(config: HandyRepConfig, operation: string, recorded: SyncRecord | null = null): string | null {
  if (!agentsKeepSync(config)) return null;
  const mode = config.failover.synchronous_mode;
  if (mode !== 'off') return `${operation} refused: handyrep.deployment is agents with failover.synchronous_mode ${mode}: the master's node agent keeps synchronous_standby_names and the recorded synchronous set, a controller there changes neither (the agents elect the master; use deployment ha for controller failovers); nothing changed`;
  if (recorded === null || recorded.quorum === 0) return null;
  return `${operation} refused: handyrep.deployment is agents and the agents recorded a synchronous set ([${recorded.members.join(', ')}] quorum ${recorded.quorum}, master ${recorded.master ?? 'unknown'}) though this controller's failover.synchronous_mode is off (its file is out of step with the agents'): the agents elect the master; nothing changed`;
}

/**
 * A reload may not move the controller into or out of deployment `agents`: its leader key
 * announces the deployment it was started with (the master's agent reads it to know whether the
 * leader keeps the synchronous set), and its store keeps or writes the set by it.
 */
export function deploymentReloadRefusal(running: HandyRepConfig, next: HandyRepConfig): string | null {
  const from = running.handyrep.deployment;
  const to = next.handyrep.deployment;
  if (from === to || (from !== 'agents' && to !== 'agents')) return null;
  return `handyrep.deployment cannot change from ${from} to ${to} while running (the leader key announces it to the agents, who keep the synchronous set in agents): restart HandyRep`;
}
