/**
 * Who is calling, for the dashboard's routes and for operation calls made with the session cookie:
 * the cookie's session (its CSRF token checked), or HTTP Basic decided by the auth gate as for
 * every REST call. Access levels come from the same gate and the same operations table.
 */
import type { FastifyRequest } from 'fastify';
import { findOperation, type Access, type OperationSpec } from '../../api/operations.js';
import type { AuthGate } from '../auth-gate.js';
import { sessionIdOf } from './cookies.js';
import { csrfMatches, type SessionStore } from './sessions.js';

export const CSRF_HEADER = 'x-csrf-token';

/**
 * An admin function of the table (named for the log): a password that may call it is an admin's;
 * a right password refused with 403 is a reader's.
 */
const ADMIN_PROBE: OperationSpec = { ...(findOperation('manual_failover') as OperationSpec), name: 'dashboard login' };

export type CallerVerdict =
  | { ok: true; access: Access; via: 'session' | 'basic'; csrf: string | null; allowed?: ReadonlySet<string> }
  | { ok: false; status: 401 | 403 | 429; reason: string; challenge: boolean; retryAfterSeconds?: number };

/** The access level a password proves (through the auth plugin, throttled like any attempt). */
export async function accessOfAuthorization(gate: AuthGate, authorization: string | undefined, address: string): Promise<CallerVerdict> {
  const outcome = await gate.check({ authorization, address, spec: ADMIN_PROBE });
  if (outcome.ok) return { ok: true, access: 'admin', via: 'basic', csrf: null };
  if (outcome.status === 403) return { ok: true, access: 'read', via: 'basic', csrf: null };
  if (outcome.status === 429) return { ok: false, status: 429, reason: outcome.reason, challenge: false, retryAfterSeconds: outcome.retryAfterSeconds };
  return { ok: false, status: 401, reason: outcome.reason, challenge: true };
}

/**
 * The caller of a dashboard route or of an operation call that carries no Authorization header:
 * null when it sent no session cookie either (the caller falls back to Basic).
 * `needsCsrf`: an operation call must echo the session's CSRF token.
 */
export function sessionCaller(sessions: SessionStore, request: FastifyRequest, needsCsrf: boolean): CallerVerdict | null {
  const found = sessions.find(sessionIdOf(request.headers.cookie));
  if (found.kind === 'none') return null;
  if (found.kind === 'ended') return { ok: false, status: 401, reason: 'the dashboard session has expired or was logged out: log in again', challenge: false };
  const sent = request.headers[CSRF_HEADER];
  if (needsCsrf && !csrfMatches(found.session, typeof sent === 'string' ? sent : undefined)) {
    return { ok: false, status: 403, reason: `missing or wrong CSRF token: a dashboard session must send its token in the ${CSRF_HEADER} header`, challenge: false };
  }
  return { ok: true, access: found.session.access, via: 'session', csrf: found.session.csrf, allowed: found.session.allowed };
}

/** The caller of a dashboard read route (session first, else Basic, or no credentials, through the gate). */
export async function readCaller(gate: AuthGate, sessions: SessionStore, request: FastifyRequest): Promise<CallerVerdict> {
  if (request.headers.authorization === undefined) {
    const bySession = sessionCaller(sessions, request, false);
    if (bySession !== null) return bySession;
    // No credentials at all: only an open plugin (zero_auth, loopback) lets that through.
    const open = await accessOfAuthorization(gate, undefined, request.ip);
    return open.ok ? open : { ok: false, status: open.status, reason: open.status === 401 ? 'log in first (dashboard session or HTTP Basic)' : open.reason, challenge: false };
  }
  return accessOfAuthorization(gate, request.headers.authorization, request.ip);
}

/** May a session call `spec`? What the auth plugin allowed its password at login. */
export function sessionAllows(caller: Extract<CallerVerdict, { ok: true }>, spec: Pick<OperationSpec, 'name'>): boolean {
  return caller.allowed?.has(spec.name) === true;
}
