/**
 * What the effects layer observed about a server, as plain data. The engine decides statuses from
 * these; it never performs the observation itself.
 */
import type { ConnectFailureKind } from '../nodes/ports.js';

/** Result of a lightweight poll. */
export type PollOutcome =
  /** walPosition: a master's current WAL position, when the plugin read it in the same session (poll_connect does). */
  | { ok: true; inRecovery: boolean | null; latencyMs: number; walPosition?: string | null }
  | { ok: false; kind: ConnectFailureKind; reason: string; latencyMs: number };

export type Check = { ok: true } | { ok: false; reason: string };

/** What a replication status plugin observed about one replica. */
export interface ReplicationObservation {
  /** The WAL receiver is streaming from an upstream. */
  streaming: boolean;
  /** Upstream host the WAL receiver is connected to, when streaming. */
  upstreamHost: string | null;
  lagBytes: number | null;
  /** The master's WAL position lagBytes was measured against; null when the master could not be asked. */
  masterLsn?: string | null;
  lagSeconds: number | null;
  /** Last WAL position received and replayed on the replica. */
  receiveLsn: string | null;
  replayLsn: string | null;
  /** Seconds since the WAL receiver last heard from its upstream. */
  lastMessageAgeSeconds: number | null;
  timeline: number | null;
}

/** SQL-level facts from a verification session. */
export interface SqlFacts {
  inRecovery: boolean;
  timeline: number | null;
  walPosition: string | null;
  versionNum: number | null;
}

/** Everything one verification of a server observed. */
export interface VerifyObservation {
  /** The control channel (ssh or local) ran the test command. */
  control: Check;
  /** A database session could be opened, with its facts. */
  sql: ({ ok: true } & SqlFacts) | { ok: false; kind: ConnectFailureKind; reason: string };
  /** Master only: a test write committed. Undefined when not attempted. */
  write?: Check;
  /** From the restart plugin's status action, asked when SQL failed but the control channel works. */
  running?: boolean | null;
  /** Replica only: replication status, or why it could not be read. */
  replication?: { ok: true; value: ReplicationObservation } | { ok: false; reason: string };
}
