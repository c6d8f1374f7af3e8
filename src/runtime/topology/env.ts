/**
 * What the topology runtime (failover, switchover, promotion, remaster, rejoin, fencing) works
 * with. Everything it changes goes through the server book; everything it observes goes through
 * plugins, the SQL client or the node's control channel.
 */
import type { EventLog } from '../../log/event-log.js';
import type { PluginRegistry } from '../../plugins/registry.js';
import type { PluginContext, ServerRef } from '../../plugins/types.js';
import type { SqlSession } from '../../nodes/ports.js';
import { monitoringSessionAsSql } from '../../nodes/monitor-sessions.js';
import type { Checks } from '../checks.js';
import { serverRef } from '../checks.js';
import type { NodeControl } from '../node-control.js';
import type { ServerBook } from '../server-book.js';

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
