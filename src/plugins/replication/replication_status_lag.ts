/**
 * replication_status_lag: streaming state from the replica's own WAL receiver, lag in bytes as the
 * master's current WAL position minus the replica's replay position (falling back to received
 * minus replayed when the master cannot be asked: the caller knows which from masterLsn), lag in seconds as the age of the last replayed
 * transaction while WAL is waiting to be replayed (0 when caught up, so an idle master is no lag).
 *
 * Reading the replica's own view means no dependence on application_name matching server names.
 */
import { lsnDiff, parseLsn } from '../../model/lsn.js';
import type { ReplicationObservation } from '../../engine/observations.js';
import type { ReplicationStatusPlugin } from '../types.js';

interface ReplicaRow {
  in_recovery: boolean;
  receiver_status: string | null;
  sender_host: string | null;
  last_msg_age: number | null;
  receive_lsn: string | null;
  replay_lsn: string | null;
  replay_age: number | null;
  timeline: number | null;
}

const REPLICA_QUERY = `
SELECT pg_is_in_recovery() AS in_recovery,
       r.status AS receiver_status,
       r.sender_host,
       extract(epoch FROM now() - r.last_msg_receipt_time)::float8 AS last_msg_age,
       pg_last_wal_receive_lsn()::text AS receive_lsn,
       pg_last_wal_replay_lsn()::text AS replay_lsn,
       CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END AS replay_age,
       r.received_tli AS timeline
FROM (SELECT 1) AS one LEFT JOIN pg_stat_wal_receiver AS r ON true`;

export const replicationStatusLag: ReplicationStatusPlugin = {
  name: 'replication_status_lag',
  kind: 'replication_status',
  description: 'Streaming state from pg_stat_wal_receiver; lag in bytes against the master and in seconds.',
  async replicationStatus(ctx, replica, master) {
    const session = await ctx.sql.connect(ctx.sqlTarget(replica));
    let row: ReplicaRow | undefined;
    try {
      row = (await session.query<ReplicaRow & Record<string, unknown>>(REPLICA_QUERY))[0];
    } finally {
      await session.end();
    }
    if (!row) throw new Error('replication status query returned no row');
    if (!row.in_recovery) throw new Error('server is not in recovery');

    const receive = parseLsn(row.receive_lsn);
    const replay = parseLsn(row.replay_lsn);
    let lagBytes: number | null = receive && replay ? Math.max(0, lsnDiff(receive, replay)) : null;
    const masterLsn = master && replay ? await currentMasterLsn(ctx, master).catch(() => null) : null;
    if (masterLsn && replay) lagBytes = Math.max(0, lsnDiff(masterLsn, replay));
    const observation: ReplicationObservation = {
      streaming: row.receiver_status === 'streaming',
      upstreamHost: row.sender_host,
      lagBytes,
      masterLsn,
      lagSeconds: row.replay_age === null ? null : Math.max(0, Number(row.replay_age)),
      receiveLsn: receive,
      replayLsn: replay,
      lastMessageAgeSeconds: row.last_msg_age === null ? null : Number(row.last_msg_age),
      timeline: row.timeline === null ? null : Number(row.timeline),
    };
    return observation;
  },
};

async function currentMasterLsn(
  ctx: Parameters<ReplicationStatusPlugin['replicationStatus']>[0],
  master: Parameters<ReplicationStatusPlugin['replicationStatus']>[2] & object,
): Promise<ReturnType<typeof parseLsn>> {
  const session = await ctx.sql.connect(ctx.sqlTarget(master));
  try {
    const rows = await session.query<{ lsn: string }>(
      'SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS lsn',
    );
    return parseLsn(rows[0]?.lsn);
  } finally {
    await session.end();
  }
}
