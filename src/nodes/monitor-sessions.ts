/**
 * One long-lived SQL session per monitored server (issue 12): a poll is one query on it, not a
 * new session (fork and authentication on the server every poll). A session the server drops is
 * reported at once (`onLost`), so a crash is noticed when it happens, not at the next poll; it is
 * reopened by the next query. The transitions are engine/monitor-session.ts.
 */
import { nextSession, retryOnNewSession, type SessionEvent, type SessionPhase } from '../engine/monitor-session.js';
import { HandyRepError } from '../model/errors.js';
import type { MonitoringSessions, SqlClient, SqlRow, SqlSession, SqlTarget, SqlValue } from './ports.js';
import { sqlTargetDescription, SqlConnectError } from './sql-client.js';

interface Entry {
  phase: SessionPhase;
  session: SqlSession | null;
  /** The connect in progress, shared by concurrent queries. */
  opening: Promise<SqlSession> | null;
  /** The parameters the session was opened with; other parameters (a reload) mean a new session. */
  fingerprint: string;
}

/** Told when a session in use was dropped by the other side. */
export type SessionLostListener = (target: SqlTarget, reason: string) => void;

class SilentServer extends Error {}

export class MonitorSessions implements MonitoringSessions {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly sql: SqlClient,
    private readonly onLost: SessionLostListener,
  ) {}

  /** Sessions open now (for tests and metrics). */
  openCount(): number {
    return [...this.entries.values()].filter((e) => e.phase === 'open').length;
  }

  async query<Row extends SqlRow = SqlRow>(target: SqlTarget, text: string, timeoutMs: number, params?: readonly SqlValue[]): Promise<Row[]> {
    const entry = this.entry(target);
    // At most two attempts: the second only on a new session, after the reused one failed.
    for (let attempt = 1; ; attempt += 1) {
      const reused = entry.phase === 'open' && entry.session !== null;
      const session = await this.session(entry, target);
      try {
        return await answerWithin(session.query<Row>(text, params), timeoutMs);
      } catch (err) {
        const silent = err instanceof SilentServer;
        this.apply(entry, silent ? 'query_timeout' : 'query_failed', session);
        if (silent) throw new SqlConnectError('timeout', `${sqlTargetDescription(target)}: no answer within ${timeoutMs} ms; session closed`);
        if (attempt > 1 || !retryOnNewSession('other', reused)) throw err;
      }
    }
  }

  async closeAll(): Promise<void> {
    const ending: Promise<void>[] = [];
    for (const entry of this.entries.values()) {
      const session = entry.session;
      const step = nextSession(entry.phase, 'close');
      entry.phase = step.phase;
      entry.session = null;
      if (session !== null) ending.push(session.end());
    }
    await Promise.all(ending);
  }

  private entry(target: SqlTarget): Entry {
    const key = `${target.host}:${target.port}`;
    // Built on every query (each poll): a plain join, not JSON.
    // TLS and password methods too: a session opened under weaker settings must not outlive them.
    const tls = target.tls === undefined ? '' : `${target.tls.mode}\u0001${target.tls.rootcert ?? ''}\u0001${target.tls.cert ?? ''}\u0001${target.tls.key ?? ''}`;
    const fingerprint = `${target.database}\u0000${target.user}\u0000${target.password ?? ''}\u0000${target.connectTimeoutMs}\u0000${target.statementTimeoutMs}\u0000${target.applicationName ?? ''}\u0000${tls}\u0000${target.allowedPasswordMethods?.join(',') ?? ''}`;
    let entry = this.entries.get(key);
    if (entry !== undefined && entry.fingerprint !== fingerprint) {
      // New parameters (configuration reloaded): the old session goes, quietly.
      if (entry.session !== null) void entry.session.end();
      entry = undefined;
    }
    if (entry === undefined) {
      entry = { phase: 'none', session: null, opening: null, fingerprint };
      this.entries.set(key, entry);
    }
    return entry;
  }

  /** The entry's open session, or a new one (concurrent callers share one connect). */
  private async session(entry: Entry, target: SqlTarget): Promise<SqlSession> {
    if (entry.phase === 'open' && entry.session !== null) return entry.session;
    if (entry.opening !== null) return entry.opening;
    const step = nextSession(entry.phase, 'query');
    entry.phase = step.phase;
    const opening = this.sql.connect(target);
    entry.opening = opening;
    try {
      const session = await opening;
      const connected = nextSession(entry.phase, 'connected');
      if (connected.end) {
        // Closed (shutdown) while connecting: nothing may stay open.
        void session.end();
        throw new HandyRepError('SQL', `${sqlTargetDescription(target)}: monitoring sessions were closed`);
      }
      entry.phase = connected.phase;
      entry.session = session;
      session.onLost?.((reason) => {
        if (entry.session !== session) return;
        const lost = this.apply(entry, 'lost', session);
        if (lost.wake) this.onLost(target, reason);
      });
      return session;
    } catch (err) {
      entry.phase = nextSession(entry.phase, 'connect_failed').phase;
      throw err;
    } finally {
      if (entry.opening === opening) entry.opening = null;
    }
  }

  /** Apply an event about `session`; ignored when the entry moved on to another session. */
  private apply(entry: Entry, event: SessionEvent, session: SqlSession): { wake: boolean } {
    if (entry.session !== session) return { wake: false };
    const step = nextSession(entry.phase, event);
    entry.phase = step.phase;
    if (step.end) {
      entry.session = null;
      // Bounded and never rejects in practice; nothing waits for a session being cut.
      session.end().catch(() => undefined);
    }
    return { wake: step.wake };
  }
}

/** The query's answer, or SilentServer after `timeoutMs` (the caller cuts the session). */
async function answerWithin<T>(answer: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const silence = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SilentServer()), timeoutMs);
  });
  try {
    return await Promise.race([answer, silence]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The same port without keeping anything open: a session per query. For contexts that do not
 * monitor (the daemon's authentication, tools), so nothing lingers.
 */
export function oneShotSessions(sql: SqlClient): MonitoringSessions {
  return {
    async query<Row extends SqlRow = SqlRow>(target: SqlTarget, text: string, timeoutMs: number, params?: readonly SqlValue[]): Promise<Row[]> {
      const session = await sql.connect(target);
      try {
        return await answerWithin(session.query<Row>(text, params), timeoutMs);
      } catch (err) {
        if (err instanceof SilentServer) throw new SqlConnectError('timeout', `${sqlTargetDescription(target)}: no answer within ${timeoutMs} ms`);
        throw err;
      } finally {
        await session.end();
      }
    },
    closeAll: () => Promise.resolve(),
  };
}

/** How long a query on a monitoring session may take: any statement, plus the grace a silent server gets. */
export function sessionQueryLimitMs(target: SqlTarget): number {
  return target.statementTimeoutMs + Math.max(target.connectTimeoutMs, 1000);
}

/**
 * The monitoring session to `target` seen as a SqlSession, for short single statements outside
 * any transaction (the session is shared with polls); `end` leaves it open.
 */
export function monitoringSessionAsSql(sessions: MonitoringSessions, target: SqlTarget): SqlSession {
  const limitMs = sessionQueryLimitMs(target);
  return {
    query: <Row extends SqlRow = SqlRow>(text: string, params?: readonly SqlValue[]) => sessions.query<Row>(target, text, limitMs, params),
    end: () => Promise.resolve(),
  };
}
