/**
 * Dashboard login sessions: a random id (the HttpOnly cookie) → the access level the password
 * proved, the functions it may call, and a CSRF token the page must echo on every call. Nothing else is kept: no password,
 * no user name. Sessions end after an idle time, at logout, or when the table is full (oldest first).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Access } from '../../api/operations.js';

export interface DashboardSession {
  readonly access: Access;
  /** The web functions the password may call, as the auth plugin answered at login. */
  readonly allowed: ReadonlySet<string>;
  readonly csrf: string;
  lastSeenMs: number;
}

/** What a cookie proved: a live session, an ended one (expired or unknown), or none was sent. */
export type SessionLookup = { kind: 'live'; id: string; session: DashboardSession } | { kind: 'ended' } | { kind: 'none' };

/** Bounded so a login flood cannot grow memory without limit. */
const MAX_SESSIONS = 1000;

const token = (): string => randomBytes(32).toString('base64url');

export class SessionStore {
  private readonly sessions = new Map<string, DashboardSession>();

  constructor(
    private readonly idleMs: () => number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new session for a proven access level; returns its id (the cookie value). */
  create(access: Access, allowed: ReadonlySet<string>): { id: string; session: DashboardSession } {
    this.sweep();
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    const id = token();
    const session: DashboardSession = { access, allowed, csrf: token(), lastSeenMs: this.now() };
    this.sessions.set(id, session);
    return { id, session };
  }

  /** The session of a cookie value, refreshed; an idle one is ended here. */
  find(id: string | null): SessionLookup {
    if (id === null) return { kind: 'none' };
    const session = this.sessions.get(id);
    if (session === undefined) return { kind: 'ended' };
    const now = this.now();
    if (now - session.lastSeenMs > this.idleMs()) {
      this.sessions.delete(id);
      return { kind: 'ended' };
    }
    session.lastSeenMs = now;
    // Re-insert: the map's order stays least recently used first (eviction takes the oldest).
    this.sessions.delete(id);
    this.sessions.set(id, session);
    return { kind: 'live', id, session };
  }

  /** Whether a session is still live, without counting this as activity (an open event stream is not). */
  isLive(id: string): boolean {
    const session = this.sessions.get(id);
    return session !== undefined && this.now() - session.lastSeenMs <= this.idleMs();
  }

  end(id: string): void {
    this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, session] of this.sessions) {
      if (now - session.lastSeenMs > this.idleMs()) this.sessions.delete(id);
    }
  }
}

/** Constant-time comparison of the CSRF token a request sent with the session's. */
export function csrfMatches(session: DashboardSession, sent: string | undefined): boolean {
  if (sent === undefined) return false;
  const a = Buffer.from(sent);
  const b = Buffer.from(session.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}
