/**
 * The daemon's HTTP application (fastify): routes generated from the operations table, health,
 * metrics and OpenAPI endpoints, the web dashboard (routes/dashboard-routes.ts), body parsers for JSON and urlencoded forms, and error handlers
 * that turn every framework-level problem (bad body, unknown path, malformed URL) into a JSON RD
 * with a 4xx status. Building it starts nothing: the caller listens (or injects, in tests).
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { AuthGate } from './auth-gate.js';
import type { AuthBinding } from './auth-gate.js';
import { FailureThrottle, type ThrottleOptions } from './auth-throttle.js';
import type { DaemonBackend } from './backend.js';
import { DaemonMetrics } from './metrics.js';
import { FormBody } from './param-sources.js';
import { sendJson, sendRefusal } from './reply.js';
import { StateReplies } from './state-replies.js';
import { registerDocumentRoutes } from './routes/document-routes.js';
import { registerHealthRoutes } from './routes/health-routes.js';
import { registerOperationRoute } from './routes/operation-route.js';
import { registerDashboardRoutes } from './routes/dashboard-routes.js';
import { loadDashboardAssets, type DashboardAsset } from './dashboard/assets.js';
import { DashboardHub } from './dashboard/event-hub.js';
import { SessionStore } from './dashboard/sessions.js';

const DEFAULT_SESSION_IDLE_MS = 30 * 60_000;

/** What the HTTP application is built from. */
export interface DaemonAppOptions {
  backend: DaemonBackend;
  /** The auth plugin and its context, as currently configured. */
  auth: () => AuthBinding;
  throttle: ThrottleOptions;
  /** Connection count and slow-client timeouts; Node's and fastify's defaults when absent (tests by injection). */
  limits?: ConnectionLimits;
  /** PEM certificate and key: serve HTTPS. */
  tls?: { cert: Buffer; key: Buffer } | null;
  version: string;
  /** The dashboard's session idle time (daemon.dashboard_session_idle_seconds); default 30 minutes. */
  sessionIdleMs?: () => number;
  /** The built dashboard files (tests give their own); default: dist/dashboard. */
  dashboardAssets?: ReadonlyMap<string, DashboardAsset>;
}

/** Limits on connections and on how slowly a client may send its request. */
export interface ConnectionLimits {
  maxConnections: number;
  headerTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

/** Largest request body accepted; parameters are small, a bigger body is refused with 413. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/** The fastify application with every route; not listening yet. */
export function buildDaemonApp(options: DaemonAppOptions): FastifyInstance {
  const common = {
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { maxParamLength: 200 },
    // Malformed URLs and similar routing problems: a JSON RD like every other error.
    frameworkErrors: (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) =>
      sendJson(reply, 400, { result: 'FAIL', details: `bad request: ${error.message}`, parameter: '(url)' }),
  } as const;
  const limits = options.limits;
  // Node checks the header and request timeouts every connectionsCheckingInterval (30 s by default).
  const serverTimeouts = limits
    ? { headersTimeout: limits.headerTimeoutMs, requestTimeout: limits.requestTimeoutMs, keepAliveTimeout: limits.keepAliveTimeoutMs, connectionsCheckingInterval: Math.max(100, Math.min(1000, limits.headerTimeoutMs / 4)) }
    : {};
  const timed = limits ? { ...common, requestTimeout: limits.requestTimeoutMs, keepAliveTimeout: limits.keepAliveTimeoutMs } : common;
  // Both variants are used through the same routes; fastify types them by server kind only.
  const app = (options.tls
    ? Fastify({ ...timed, https: { cert: options.tls.cert, key: options.tls.key, ...serverTimeouts } })
    : Fastify({ ...timed, http: serverTimeouts })) as unknown as FastifyInstance;
  if (limits) app.server.maxConnections = limits.maxConnections;

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, FormBody.parse(body as string));
  });

  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      // Body-level problems found before the route ran: unparsable JSON, unsupported type, too large.
      return sendJson(reply, status, { result: 'FAIL', details: `bad request body: ${error.message}`, parameter: '(body)' });
    }
    options.backend.log.error('DAEMON', `internal error: ${error.stack ?? error.message}`);
    return sendJson(reply, 500, { result: 'FAIL', details: 'internal error (logged on the controller)' });
  });

  const notFound = (request: FastifyRequest, reply: FastifyReply): FastifyReply =>
    sendRefusal(request, reply, 404, { result: 'FAIL', details: `no such path: ${request.method} ${request.url.slice(0, 200)}; see /openapi.json` });
  // Answered in onRequest, before any body of the request is read.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.is404) notFound(request, reply);
    else done();
  });
  app.setNotFoundHandler(notFound);

  const gate = new AuthGate({ binding: options.auth, throttle: new FailureThrottle(options.throttle), log: options.backend.log });
  const replies = new StateReplies(() => options.backend.stateRevision());
  registerHealthRoutes(app, options.backend, replies, gate);
  registerDocumentRoutes(app, new DaemonMetrics(options.backend, () => gate.stats()), options.version);
  const sessions = new SessionStore(options.sessionIdleMs ?? (() => DEFAULT_SESSION_IDLE_MS));
  const hub = new DashboardHub(options.backend);
  // Before the listener closes: open event streams would otherwise hold the close forever.
  app.addHook('preClose', (done) => {
    hub.close();
    done();
  });
  registerDashboardRoutes(app, { gate, sessions, hub, assets: options.dashboardAssets ?? loadDashboardAssets(), secure: Boolean(options.tls) });
  const routeDeps = { backend: options.backend, gate, replies, sessions };
  registerOperationRoute(app, routeDeps);
  return app;
}
