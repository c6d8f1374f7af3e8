/**
 * This controller's presence in the cluster: its heartbeat, written on the master at every check,
 * and, before any topology change, whether another controller started earlier is alive (its
 * heartbeat in any reachable server's copy is fresh): then this one refuses and names it.
 */
import { hostname } from 'node:os';
import type { HandyRepConfig } from '../config/schema.js';
import { mergeHeartbeats, seniority, type Seniority } from '../engine/controller-seniority.js';
import type { ControllerHeartbeat } from '../model/controller-heartbeat.js';
import type { MonitoringSessions, SqlSession } from '../nodes/ports.js';
import { monitoringSessionAsSql } from '../nodes/monitor-sessions.js';
import type { EventLog } from '../log/event-log.js';
import { describeError } from '../model/errors.js';
import type { ControllerIdentity } from '../store/controller-identity.js';
import { readHeartbeats, removeHeartbeat, writeHeartbeat } from '../store/controller-table.js';
import { sqlTargetFor } from './plugin-context.js';
import { tableName } from './state-table-access.js';

interface Host {
  hostname: string;
  port: number;
}

/**
 * How long a heartbeat counts as alive: it must outlast a master failure's detection and the
 * failover itself (the heartbeat cannot be refreshed while there is no master): three poll
 * intervals, the retries, a promotion's timeout twice over (a failed candidate, then the next),
 * plus a margin; never under 10 s.
 */
export function heartbeatFreshMs(config: HandyRepConfig): number {
  const f = config.failover;
  const detection = 3 * f.poll_interval + f.fail_retries * (f.fail_retry_interval + config.handyrep.connect_timeout_seconds);
  return Math.max(10_000, Math.round((detection + 2 * f.promote_timeout_seconds) * 1000) + 5_000);
}

/** How often the heartbeat is refreshed: four times per freshness window, so one lost write is harmless. */
export function heartbeatEveryMs(config: HandyRepConfig): number {
  return Math.round(heartbeatFreshMs(config) / 4);
}

export class ControllerPresence {
  readonly id: string;
  readonly startedMs: number;
  private tableReady = false;
  private lastBeatFailed = false;

  constructor(
    private readonly sessions: MonitoringSessions,
    private readonly config: () => HandyRepConfig,
    private readonly stateFile: string,
    private readonly clock: () => Date,
    identity: ControllerIdentity,
    private readonly log: EventLog,
  ) {
    this.id = identity.id;
    this.startedMs = identity.started_ms;
  }

  /** Statements run on HandyRep's monitoring session to the server: no connection per heartbeat or seniority read. */
  private async session<T>(host: Host, fn: (session: SqlSession) => Promise<T>): Promise<T> {
    const config = this.config();
    const target = sqlTargetFor(config, host, { connectMs: Math.round(config.handyrep.connect_timeout_seconds * 1000), statementMs: Math.round(config.handyrep.statement_timeout_seconds * 1000) });
    return fn(monitoringSessionAsSql(this.sessions, target));
  }

  /** Refresh the heartbeat on the master (best effort: a failed write is retried next check). */
  async beat(master: Host): Promise<boolean> {
    const now = this.clock().getTime();
    const beat: ControllerHeartbeat = { id: this.id, hostname: hostname(), pid: process.pid, state_file: this.stateFile, started_ms: this.startedMs, heartbeat_ms: now };
    try {
      await this.session(master, async (s) => {
        const recovery = await s.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
        if (recovery[0]?.r) return;
        await writeHeartbeat(s, tableName(this.config()), beat, now - 10 * heartbeatFreshMs(this.config()), !this.tableReady);
        this.tableReady = true;
      });
      if (this.lastBeatFailed) this.log.info('CONTROLLER', 'heartbeat written again: other controllers see this one');
      this.lastBeatFailed = false;
      return true;
    } catch (err) {
      // Logged once per run of failures: other controllers may take this one for dead.
      if (!this.lastBeatFailed) this.log.warn('CONTROLLER', `cannot write this controller's heartbeat on the master: ${describeError(err)}`);
      this.lastBeatFailed = true;
      this.tableReady = false;
      return false;
    }
  }

  /** Remove the heartbeat on a clean stop (best effort). */
  async leave(master: Host): Promise<void> {
    await this.session(master, async (s) => {
      const recovery = await s.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      if (!recovery[0]?.r) await removeHeartbeat(s, tableName(this.config()), this.id);
    }).catch(() => undefined);
  }

  /** May this controller change the topology? Reads every reachable server's copy. */
  async mayAct(servers: readonly Host[]): Promise<Seniority> {
    const copies = await Promise.all(servers.map((h) => this.session(h, (s) => readHeartbeats(s, tableName(this.config()))).catch(() => [])));
    return seniority({ id: this.id, started_ms: this.startedMs }, mergeHeartbeats(copies), this.clock().getTime(), heartbeatFreshMs(this.config()));
  }
}
