/**
 * What the topology runtime (failover, switchover, promotion, remaster, rejoin, fencing) works
 * with. Everything it changes goes through the server book; everything it observes goes through
 * plugins, the SQL client or the node's control channel.
 */
import type { AgentRecordsRead } from '../../engine/agent-vantage.js';
import type { MasterLeaseState } from '../../engine/failover-decision.js';
import type { EventLog } from '../../log/event-log.js';
import { HandyRepError } from '../../model/errors.js';
import type { ClusterStore } from '../../store/cluster-store.js';
import type { PluginRegistry } from '../../plugins/registry.js';
import type { PluginContext, ServerRef } from '../../plugins/types.js';
import type { SqlSession } from '../../nodes/ports.js';
import { monitoringSessionAsSql } from '../../nodes/monitor-sessions.js';
import type { Checks } from '../checks.js';
import { serverRef } from '../checks.js';
import type { NodeControl } from '../node-control.js';
import type { ServerBook } from '../server-book.js';
import type { DatabaseAnswer } from './fence.js';
import type { RefusalEpisodes } from '../refusal-episodes.js';

export interface TopologyEnv {
  book: ServerBook;
  plugins: PluginRegistry;
  ctx: () => PluginContext;
  checks: Checks;
  nodeControl: NodeControl;
  log: EventLog;
  sleep: (ms: number) => Promise<void>;
  serverFile: string;
  clock: () => Date;
  /** Save the state now; true once servers.save durably holds it. */
  persist: () => Promise<boolean>;
  /** Why automatic actions are on hold now (paused, a planned stop of the master), or null. */
  hold: () => string | null;
  /**
   * Why this controller must not issue an irreversible command right now (it does not lead under
   * etcd_lease), or null. Asked right before each one, not once per change: leadership can end
   * between two steps. Absent = a single controller (always null).
   */
  mayAct?: () => string | null;
  /**
   * Records `name` as the master in the consensus store before it is promoted (etcd: the
   * `master` key, store/etcd/master-key.ts); absent = nothing to record (local store).
   */
  recordMaster?: (name: string) => Promise<{ ok: boolean; details: string }>;
  /**
   * failover.unreachable_master agent_lease: the master's node-agent lease in etcd (etcd-control.ts);
   * absent = no etcd.
   */
  masterLease?: {
    state: (master: string) => Promise<MasterLeaseState>;
    noteHealthy: (master: string) => Promise<void>;
    /** What etcd's history said of that lease at the last `state` (lease-history-proof.ts), or null. */
    note?: (master: string) => string | null;
  };
  /**
   * A short deadline (ms) for probes of `name` whose answer is already known — its agent lease
   * lapsed while it did not answer (engine/lease-watch-trigger.ts quickProbeMs) — or null for the
   * connect timeout; absent = always null.
   */
  quickProbeMs?: (name: string) => number | null;
  /**
   * The answer of a full-timeout probe of `name`'s database port that ended after its agent lease
   * was seen lapsing (runtime/silent-master-probes.ts), or null: ask it now. Absent = always null.
   */
  recentDatabaseAnswer?: (name: string) => Promise<DatabaseAnswer | null>;
  /** The agents' member records (etcd `members/`) and the store's revision of that read, vantage points besides the controller's probes (engine/agent-vantage.ts); absent = no etcd. */
  agentVantage?: () => Promise<AgentRecordsRead>;
  /** Where the journal lives; absent = the local files beside serverFile. */
  store?: ClusterStore;
  /**
   * The episode of repeated automatic-failover refusals (engine/refusal-episode.ts): a repeat is
   * logged, not recorded in the history nor alerted. Absent = every refusal is recorded.
   */
  refusals?: RefusalEpisodes;
}

/** Throws NOT_LEADER when this controller must not issue `what` now (design §9 rule 2). */
export function assertMayAct(env: Pick<TopologyEnv, 'mayAct'>, what: string): void {
  const why = env.mayAct?.() ?? null;
  if (why !== null) throw new HandyRepError('NOT_LEADER', `${what} not issued: ${why}`);
}

export function ref(env: TopologyEnv, name: string): ServerRef {
  return serverRef(name, env.book.get(name));
}

/**
 * Run `fn` on HandyRep's monitoring session to `server` (no new connection): only for short
 * single statements outside any transaction, since polls share the session. Long statements
 * (CHECKPOINT, pg_promote with a wait) use `withSession`.
 */
export async function withMonitoringSession<T>(env: TopologyEnv, server: ServerRef, fn: (session: SqlSession) => Promise<T>): Promise<T> {
  const ctx = env.ctx();
  return fn(monitoringSessionAsSql(ctx.monitorSessions, ctx.sqlTarget(server)));
}

/** Run `fn` in a short SQL session on `server`, always closing it. */
export async function withSession<T>(env: TopologyEnv, server: ServerRef, fn: (session: SqlSession) => Promise<T>, statementTimeoutMs?: number): Promise<T> {
  const ctx = env.ctx();
  const target = ctx.sqlTarget(server);
  const session = await ctx.sql.connect(statementTimeoutMs ? { ...target, statementTimeoutMs } : target);
  try {
    return await fn(session);
  } finally {
    await session.end();
  }
}

/**
 * `probe` of `name`, or `otherwise` when it has not answered within the server's short probe
 * deadline (quickProbeMs). The probe goes on in the background; its late answer is ignored.
 */
export async function withinQuickDeadline<T>(env: Pick<TopologyEnv, 'quickProbeMs'>, name: string, probe: Promise<T>, otherwise: T): Promise<T> {
  const deadlineMs = env.quickProbeMs?.(name) ?? null;
  if (deadlineMs === null) return probe;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(otherwise), deadlineMs);
  });
  try {
    return await Promise.race([probe, late]);
  } finally {
    clearTimeout(timer);
  }
}
