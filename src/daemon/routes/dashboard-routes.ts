/**
 * The web dashboard: its page and built assets at `/` and `/assets/<file>` (no data in them, so
 * served to anyone), login and logout (a session cookie: HttpOnly, SameSite=Strict; the CSRF token
 * goes to the page in the reply body), `/session` (who am I), `/basic-login` (HTTP Basic instead of
 * a session) and `/events` (Server-Sent Events, replaying from Last-Event-ID). Actions are not
 * here: the page calls the operation routes like any REST client (operation-route.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthGate } from '../auth-gate.js';
import { BASIC_CHALLENGE } from '../basic-auth.js';
import { collectWireParams } from '../param-sources.js';
import { sendJson, sendRefusal } from '../reply.js';
import type { DashboardAsset } from '../dashboard/assets.js';
import { accessOfAuthorization, readCaller, type CallerVerdict } from '../dashboard/caller.js';
import { clearedSessionCookie, sessionCookie, sessionIdOf } from '../dashboard/cookies.js';
import { CLIENT_BACKLOG_BYTES, type DashboardHub } from '../dashboard/event-hub.js';
import { sseFrame } from '../dashboard/event-ring.js';
import type { SessionStore } from '../dashboard/sessions.js';

export interface DashboardRouteDeps {
  gate: AuthGate;
  sessions: SessionStore;
  hub: DashboardHub;
  assets: ReadonlyMap<string, DashboardAsset>;
  /** Served over HTTPS: the cookie is marked Secure. */
  secure: boolean;
}

/** Nothing but our own files; no inline script or style can run, whatever text reaches the page. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const HEARTBEAT_MS = 15_000;

export function registerDashboardRoutes(app: FastifyInstance, deps: DashboardRouteDeps): void {
  app.get('/', (request, reply) => sendAsset(request, reply, deps.assets.get('index.html'), 'index.html'));
  app.get('/assets/:file', (request, reply) => {
    const file = (request.params as { file: string }).file;
    return sendAsset(request, reply, file === 'index.html' ? undefined : deps.assets.get(file), file);
  });
  app.post('/login', (request, reply) => login(deps, request, reply));
  app.post('/logout', (request, reply) => {
    const id = sessionIdOf(request.headers.cookie);
    if (id !== null) deps.sessions.end(id);
    return reply.header('set-cookie', clearedSessionCookie(deps.secure)).header('cache-control', 'no-store').code(200).send({ result: 'SUCCESS', details: 'logged out' });
  });
  app.get('/session', async (request, reply) => {
    const caller = await readCaller(deps.gate, deps.sessions, request);
    if (!caller.ok) return refuse(request, reply, caller);
    return reply.header('cache-control', 'no-store').send({ result: 'SUCCESS', details: `logged in (${caller.access})`, access: caller.access, via: caller.via, csrf: caller.csrf });
  });
  // The browser asks for Basic credentials here, then keeps sending them to this origin.
  app.get('/basic-login', async (request, reply) => {
    const caller = await accessOfAuthorization(deps.gate, request.headers.authorization, request.ip);
    if (!caller.ok) return refuse(request, reply, caller);
    return reply.redirect('/', 303);
  });
  app.get('/events', (request, reply) => streamEvents(deps, request, reply));
}

function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: DashboardAsset | undefined, name: string): FastifyReply {
  if (asset === undefined) {
    const why = name === 'index.html' ? 'the dashboard is not built: run npm run build' : `no dashboard asset ${JSON.stringify(name.slice(0, 100))}`;
    return sendJson(reply, name === 'index.html' ? 503 : 404, { result: 'FAIL', details: why });
  }
  const gzip = /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
  reply
    .header('content-type', asset.type)
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-cache')
    .header('vary', 'accept-encoding');
  if (gzip) reply.header('content-encoding', 'gzip');
  return reply.send(gzip ? asset.gzip : asset.body);
}

function refuse(request: FastifyRequest, reply: FastifyReply, caller: Extract<CallerVerdict, { ok: false }>): FastifyReply {
  // No Basic challenge for the page's own calls: the browser would pop its password dialog over the login form.
  if (caller.challenge && request.url.startsWith('/basic-login')) reply.header('www-authenticate', BASIC_CHALLENGE);
  if (caller.retryAfterSeconds !== undefined) reply.header('retry-after', String(caller.retryAfterSeconds));
  return sendRefusal(request, reply, caller.status, { result: 'FAIL', details: caller.reason });
}

async function login(deps: DashboardRouteDeps, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  let password: unknown;
  try {
    password = collectWireParams(undefined, request.body).get('password');
  } catch (err) {
    return sendJson(reply, 400, { result: 'FAIL', details: (err as Error).message, parameter: 'password' });
  }
  if (typeof password !== 'string' || password === '' || password.length > 1024) {
    return sendJson(reply, 400, { result: 'FAIL', details: 'login: give the password as a non-empty string (JSON {"password": "…"} or a form field)', parameter: 'password' });
  }
  const authorization = `Basic ${Buffer.from(`dashboard:${password}`).toString('base64')}`;
  const caller = await accessOfAuthorization(deps.gate, authorization, request.ip);
  if (!caller.ok) return refuse(request, reply, { ...caller, challenge: false, reason: caller.status === 401 ? 'wrong password' : caller.reason });
  const { id, session } = deps.sessions.create(caller.access, await deps.gate.allowedFunctions(authorization, request.ip));
  return reply
    .header('set-cookie', sessionCookie(id, deps.secure))
    .header('cache-control', 'no-store')
    .send({ result: 'SUCCESS', details: `logged in with the ${caller.access} password`, access: caller.access, csrf: session.csrf });
}

/** GET /events: a snapshot (or the missed events), then every event as it happens. */
async function streamEvents(deps: DashboardRouteDeps, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const caller = await readCaller(deps.gate, deps.sessions, request);
  if (!caller.ok) return refuse(request, reply, caller);
  const lastHeader = request.headers['last-event-id'];
  const joined = deps.hub.keepEventsWhileJoining();
  try {
    return await openStream(deps, request, reply, caller, typeof lastHeader === 'string' ? lastHeader : undefined);
  } finally {
    joined();
  }
}

async function openStream(deps: DashboardRouteDeps, request: FastifyRequest, reply: FastifyReply, caller: Extract<CallerVerdict, { ok: true }>, lastHeader: string | undefined): Promise<FastifyReply | undefined> {
  let replay = deps.hub.ring.since(lastHeader);
  // Read before the stream opens, so a failing read is still an ordinary error reply.
  const before = deps.hub.ring.lastId;
  const snapshot = replay.kind === 'snapshot' ? await deps.hub.snapshot() : null;
  // Events that happened while the snapshot was read follow it (a log line may come twice, none is lost).
  if (snapshot !== null) replay = deps.hub.ring.sinceSnapshot(before);
  const res = reply.raw;
  reply.hijack();
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
    connection: 'keep-alive',
  });
  res.socket?.setNoDelay(true);
  const write = (text: string): boolean => {
    if (res.destroyed) return false;
    res.write(text);
    return res.writableLength < CLIENT_BACKLOG_BYTES;
  };
  // Reconnect quickly after a daemon restart; the snapshot carries the id the client resumes from.
  write('retry: 1000\n\n');
  if (snapshot !== null) {
    write(`${before === null ? '' : `id: ${before}\n`}event: snapshot\ndata: ${JSON.stringify({ ...snapshot, access: caller.access })}\n\n`);
  }
  if (replay.kind === 'events') for (const event of replay.events) write(sseFrame(event));
  // A stream does not keep its session alive; it ends with it (logout, idle time), and the page asks to log in.
  const sessionId = caller.via === 'session' ? sessionIdOf(request.headers.cookie) : null;
  const heartbeat = setInterval(() => {
    if (sessionId !== null && !deps.sessions.isLive(sessionId)) res.end();
    else write(': keep-alive\n\n');
  }, HEARTBEAT_MS);
  heartbeat.unref();
  const unsubscribe = deps.hub.subscribe({ write, close: () => res.end() });
  res.on('close', () => {
    clearInterval(heartbeat);
    unsubscribe();
  });
  return undefined;
}
