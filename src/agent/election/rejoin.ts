/**
 * After the agent fenced its own master (lease stale, or `master` naming another node), whether
 * role discovery may run again to start the node as a standby of the recorded master (pure). Only
 * in deployment `agents`: in `ha` the controller's rejoin (failover.auto_rejoin) does it, and two
 * actors must never rewind the same node. Never as master: only when the key names another node
 * and PostgreSQL is stopped; otherwise the agent waits (etcd unreachable, no record, or the record
 * names this node again: then an operator decides).
 */
import type { Deployment } from '../../config/schema.js';
import type { MasterKeyView } from '../decide.js';

export function rejoinAfterFence(deployment: Deployment, node: string, master: MasterKeyView, postgresRunning: boolean): boolean {
  return deployment === 'agents' && !postgresRunning && master.state === 'present' && master.record.name !== node;
}
