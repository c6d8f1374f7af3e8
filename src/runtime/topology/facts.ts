/**
 * Facts gathered right before a topology decision, in parallel: each replica's WAL positions and
 * WAL receiver (candidates), and whether each replica host can reach the master (vantage points).
 */
import type { CandidateFacts } from '../../engine/selection.js';
import { classifyProbe, type ProbeRun, type VantageReport } from '../../engine/master-failure.js';
import { candidateLagMb } from '../../engine/lag.js';
import { describeError } from '../../model/errors.js';
import { parseLsn, lsnDiff } from '../../model/lsn.js';
import type { ServerRef } from '../../plugins/types.js';
import { ref, withMonitoringSession, type TopologyEnv } from './env.js';

interface ReplicaRow {
  in_recovery: boolean;
  receive_lsn: string | null;
  replay_lsn: string | null;
  receiver_status: string | null;
  last_msg_age: number | null;
}

const REPLICA_FACTS = `
SELECT pg_is_in_recovery() AS in_recovery,
       pg_last_wal_receive_lsn()::text AS receive_lsn,
       pg_last_wal_replay_lsn()::text AS replay_lsn,
       r.status AS receiver_status,
       extract(epoch FROM now() - r.last_msg_receipt_time)::float8 AS last_msg_age
FROM (SELECT 1) AS one LEFT JOIN pg_stat_wal_receiver AS r ON true`;

export interface ReplicaSnapshot {
  name: string;
  row: ReplicaRow | null;
  error: string | null;
}

/** Query every enabled replica (or the given names) in parallel. */
export async function snapshotReplicas(env: TopologyEnv, names?: readonly string[]): Promise<ReplicaSnapshot[]> {
  const list = names ?? enabledReplicaNames(env);
  return Promise.all(
    list.map(async (name) => {
      try {
        const row = await withMonitoringSession(env, ref(env, name), async (s) => (await s.query<ReplicaRow & Record<string, unknown>>(REPLICA_FACTS))[0] ?? null);
        return { name, row, error: null };
      } catch (err) {
        return { name, row: null, error: describeError(err) };
      }
    }),
  );
}

/**
 * Candidate facts from replica snapshots. The lag is what each candidate received against the
 * master's last known WAL position (the book's lag only when that position is unknown).
 */
export function candidateFacts(env: TopologyEnv, snapshots: readonly ReplicaSnapshot[]): CandidateFacts[] {
  const masterName = env.book.masterName();
  const masterPosition = masterName === null ? null : env.book.get(masterName).wal_position;
  return snapshots.map(({ name, row }) => {
    const s = env.book.get(name);
    const receive = parseLsn(row?.receive_lsn ?? null) ?? parseLsn(row?.replay_lsn ?? null);
    const replay = parseLsn(row?.replay_lsn ?? null);
    return {
      name,
      enabled: s.enabled,
      role: s.role,
      status: s.status,
      failoverPriority: s.failover_priority,
      nofailover: s.nofailover,
      reachable: row !== null,
      inRecovery: row?.in_recovery ?? null,
      receiveLsn: receive,
      replayLsn: replay,
      replayLagBytes: receive && replay ? Math.max(0, lsnDiff(receive, replay)) : null,
      lagMb: candidateLagMb(masterPosition, receive, s.lag_mb),
      lagLimitMb: s.lag_limit,
    };
  });
}

/** The enabled replicas: the candidates and vantage points. */
export function enabledReplicaNames(env: TopologyEnv): string[] {
  return env.book.names().filter((n) => env.book.get(n).role === 'replica' && env.book.get(n).enabled);
}

/**
 * Ask each replica host to probe the master with pg_isready, and read its WAL receiver from the
 * replica's snapshot (which may still be on its way: the probes do not wait for it).
 */
export async function vantageReports(env: TopologyEnv, master: ServerRef, names: readonly string[], snapshots: Promise<readonly ReplicaSnapshot[]>): Promise<VantageReport[]> {
  const ctx = env.ctx();
  const timeoutSeconds = Math.max(1, Math.ceil(ctx.timeouts.connectMs / 1000));
  return Promise.all(
    names.map(async (name) => {
      const replica = ref(env, name);
      const argv = [`${replica.pg_bin_dir}/pg_isready`, '-q', '-h', master.hostname, '-p', String(master.port), '-t', String(timeoutSeconds)];
      let run: ProbeRun;
      try {
        const result = await ctx.shellFor(replica).run(argv, { timeoutMs: ctx.timeouts.connectMs + timeoutSeconds * 1000 + 1000 });
        run = { exitCode: result.exitCode, timedOut: result.timedOut };
      } catch (err) {
        run = { error: describeError(err) };
      }
      const { probe, probeDetail } = classifyProbe(name, run);
      return { replica: name, probe, probeDetail, walReceiver: walReceiverOf(await snapshots, name) };
    }),
  );
}

/** The replica's WAL receiver as a vantage point sees it, from its snapshot; null when it could not be queried. */
function walReceiverOf(snapshots: readonly ReplicaSnapshot[], name: string): VantageReport['walReceiver'] {
  const row = snapshots.find((s) => s.name === name)?.row ?? null;
  return row ? { streaming: row.receiver_status === 'streaming', lastMessageAgeSeconds: row.last_msg_age === null ? null : Number(row.last_msg_age) } : null;
}

/**
 * Reports whose probes ran earlier, with the WAL receivers read again from `snapshots` (taken now):
 * a receiver that last heard from the master a second before its first failed check says nothing
 * about the master seconds later, and reading it again costs one query per replica.
 */
export function withFreshWalReceivers(reports: readonly VantageReport[], snapshots: readonly ReplicaSnapshot[]): VantageReport[] {
  return reports.map((r) => ({ ...r, walReceiver: walReceiverOf(snapshots, r.replica) }));
}
