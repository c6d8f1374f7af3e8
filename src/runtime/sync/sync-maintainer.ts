/**
 * Keeps synchronous_standby_names on the master as synchronous_mode asks (issue 15), writing in
 * the order that keeps the recorded set true (engine/sync-set.ts): a replica is recorded before it
 * is named, and unrecorded only after it is no longer named and the remaining members caught up.
 * Every record is durable (servers.save fsynced) before the master is told anything.
 */
import { BYTES_PER_MB } from '../../engine/lag.js';
import { ASYNC, desiredSyncSet, planSyncChange, type SyncAction, type SyncReplicaFacts, type SyncSet } from '../../engine/sync-set.js';
import { lsnDiff } from '../../model/lsn.js';
import type { SyncRecord } from '../../model/sync-record.js';
import { ref, withMonitoringSession, type TopologyEnv } from '../topology/env.js';
import { flushLagBytes, guardedStandbyNames, readMasterReplication, standbyRow, type MasterReplication } from './master-replication.js';

/** How long a narrowing waits for the new members to flush past the master's position. */
const CATCH_UP_MS = 3000;

export function recordedSet(record: SyncRecord | null): SyncSet {
  return record ?? ASYNC;
}

function replicaFacts(env: TopologyEnv, seen: MasterReplication): SyncReplicaFacts[] {
  return env.book.names().flatMap((name) => {
    const s = env.book.get(name);
    if (s.role !== 'replica') return [];
    const row = standbyRow(seen.standbys, name);
    const lag = flushLagBytes(seen.current, row);
    return [{ name, role: s.role, enabled: s.enabled && !s.fenced, failoverPriority: s.failover_priority, nofailover: s.nofailover, streaming: row !== null, flushLagMb: lag === null ? null : lag / BYTES_PER_MB, lagLimitMb: s.lag_limit }];
  });
}

/** Record `set` durably; false (and nothing recorded as done) when servers.save could not hold it. */
export async function record(env: TopologyEnv, master: string, set: SyncSet, reason: string): Promise<boolean> {
  const previous = env.book.syncRecord();
  env.book.setSync({ members: [...set.members], quorum: set.quorum, master, at: env.clock().toISOString(), reason });
  if (await env.persist()) return true;
  env.book.undoSync(previous);
  return false;
}

/** Have `quorum` members of `set` flushed past the master's current position? */
export async function caughtUp(env: TopologyEnv, master: string, set: SyncSet): Promise<boolean> {
  const server = ref(env, master);
  const target = (await withMonitoringSession(env, server, readMasterReplication)).current;
  if (target === null) return false;
  const deadline = env.clock().getTime() + CATCH_UP_MS;
  for (;;) {
    const seen = await withMonitoringSession(env, server, readMasterReplication);
    const done = set.members.filter((m) => {
      const flush = standbyRow(seen.standbys, m)?.flush ?? null;
      return flush !== null && lsnDiff(flush, target) >= 0;
    });
    if (done.length >= set.quorum) return true;
    if (env.clock().getTime() >= deadline) return false;
    await env.sleep(50);
  }
}

/** One maintenance pass; returns what changed (null when nothing did). */
export async function maintainSyncStandbys(env: TopologyEnv): Promise<string | null> {
  const failover = env.ctx().config.failover;
  const master = env.book.masterName();
  const current = env.book.syncRecord();
  if (master === null || (failover.synchronous_mode === 'off' && current === null)) return null;
  const server = ref(env, master);
  const seen = await withMonitoringSession(env, server, readMasterReplication);
  if (failover.synchronous_mode === 'off') {
    // HandyRep named standbys before: stop naming them, then forget the record.
    if (seen.named.trim() !== '') await withMonitoringSession(env, server, (s) => guardedStandbyNames(env, s, ''));
    env.book.setSync(null);
    await env.persist();
    return 'synchronous_mode off: synchronous_standby_names cleared';
  }
  const policy = { mode: failover.synchronous_mode, count: failover.synchronous_node_count, method: failover.synchronous_method };
  const recorded = recordedSet(current);
  const desired = desiredSyncSet(policy, replicaFacts(env, seen), recorded);
  const actions = planSyncChange(recorded, seen.named, desired, policy.method);
  const done: string[] = [];
  for (const action of actions) {
    const note = await runAction(env, master, action, desired.reason);
    if (note === null) break;
    done.push(note);
  }
  return done.length === 0 ? null : done.join('; ');
}

async function runAction(env: TopologyEnv, master: string, action: SyncAction, reason: string): Promise<string | null> {
  switch (action.kind) {
    case 'record':
      return (await record(env, master, action.set, `about to name: ${reason}`)) ? `recorded [${action.set.members.join(', ')}] quorum ${action.set.quorum}` : null;
    case 'apply':
      await withMonitoringSession(env, ref(env, master), (s) => guardedStandbyNames(env, s, action.value));
      env.log.info('SYNC', `synchronous_standby_names on ${master} = '${action.value}'`, master);
      return `named '${action.value}'`;
    case 'narrow': {
      if (action.catchUp && !(await caughtUp(env, master, action.set))) return null;
      return (await record(env, master, action.set, reason)) ? `recorded [${action.set.members.join(', ')}] quorum ${action.set.quorum}` : null;
    }
  }
}
