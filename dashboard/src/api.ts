/**
 * Calls to the daemon: login/logout/session, and every action through the same REST operation
 * routes any client uses (`POST /<function>` with a JSON body), with the session's CSRF token.
 */
import type { Access, Rd } from './types';

let csrf: string | null = null;

export interface SessionInfo {
  access: Access;
  via: 'session' | 'basic';
}

async function json(response: Response): Promise<Rd> {
  try {
    return (await response.json()) as Rd;
  } catch {
    return { result: 'FAIL', details: `HTTP ${response.status} without a JSON reply` };
  }
}

/** Who we are, or null when not logged in (or the session expired). */
export async function currentSession(): Promise<SessionInfo | null> {
  const response = await fetch('/session', { credentials: 'same-origin' });
  if (response.status !== 200) return null;
  const body = (await response.json()) as { access: Access; via: 'session' | 'basic'; csrf: string | null };
  csrf = body.csrf;
  return { access: body.access, via: body.via };
}

export async function login(password: string): Promise<{ ok: true; access: Access } | { ok: false; reason: string }> {
  const response = await fetch('/login', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ password }),
  });
  const body = await json(response);
  if (response.status !== 200) return { ok: false, reason: body.details };
  csrf = String(body['csrf']);
  return { ok: true, access: body['access'] as Access };
}

export async function logout(): Promise<void> {
  await fetch('/logout', { method: 'POST', credentials: 'same-origin' });
  csrf = null;
}

/** Told when a call finds the session gone (401): the page shows the login form again. */
let onSessionLost: () => void = () => undefined;
export function whenSessionLost(listener: () => void): void {
  onSessionLost = listener;
}

/** Call an operation by name; any refusal (400, 401, 403, 409, 5xx) comes back as a FAIL RD saying why. */
export async function call(name: string, params: Record<string, unknown> = {}): Promise<Rd> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (csrf !== null) headers['x-csrf-token'] = csrf;
  let response: Response;
  try {
    response = await fetch(`/${encodeURIComponent(name)}`, { method: 'POST', credentials: 'same-origin', headers, body: JSON.stringify(params) });
  } catch (err) {
    return { result: 'FAIL', details: `the daemon did not answer: ${(err as Error).message}` };
  }
  const body = await json(response);
  if (response.status === 401) onSessionLost();
  if (response.status !== 200 && body.result !== 'FAIL') return { result: 'FAIL', details: `HTTP ${response.status}` };
  return body;
}
