/**
 * `GET|POST /<function>`: every web function of the operations table, looked up per request, so
 * functions added to the table are served without a change here. Order: function known? →
 * authentication (an onRequest hook: before the body is read, so an unauthenticated caller never
 * makes the daemon read or parse a body) → parameters → invoke. The library is the only actor; this route only
 * translates HTTP to a call by name and the outcome back to HTTP. A dashboard session (cookie +
 * CSRF token, dashboard/caller.ts) stands in for Basic credentials with the access level it proved. A state-only function called
 * without parameters is answered from the answer kept for the current state revision.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { findOperation, type OperationSpec } from '../../api/operations.js';
import type { AuthGate } from '../auth-gate.js';
import type { DaemonBackend } from '../backend.js';
import { BASIC_CHALLENGE } from '../basic-auth.js';
import { replyForError, type ErrorContext } from '../http-error.js';
import { collectWireParams, shownName, type WireParams } from '../param-sources.js';
import { sendJson, sendJsonText, sendRefusal } from '../reply.js';
import type { StateReplies } from '../state-replies.js';
import { crossSiteRefusal } from '../cross-site.js';
import { sessionAllows, sessionCaller } from '../dashboard/caller.js';
import type { SessionStore } from '../dashboard/sessions.js';
import { webParams, webSignature } from '../web-params.js';
import { describeError, HandyRepError } from '../../model/errors.js';
import { FORWARDED_HEADER, forwardDecision } from '../forwarding.js';

/** How long a forwarded call may take (a switchover, a clone with wait: minutes). */
const FORWARD_TIMEOUT_MS = 15 * 60 * 1000;

/** What the operation route calls. */
export interface OperationRouteDeps {
  backend: DaemonBackend;
  gate: AuthGate;
  /** Answers of state-only functions, kept per state revision. */
  replies: StateReplies;
  /** Dashboard sessions: a call without an Authorization header may carry a session cookie + CSRF token. */
  sessions?: SessionStore;
}

/** Register `GET|POST /:function`. */
export function registerOperationRoute(app: FastifyInstance, deps: OperationRouteDeps): void {
  app.route({
    method: ['GET', 'POST'],
    url: '/:function',
    // No implicit HEAD: a HEAD of /restart must not restart anything.
    exposeHeadRoute: false,
    onRequest: (request, reply) => admitOperation(deps, request, reply),
    handler: (request, reply) => handleOperation(deps, request, reply),
  });
}

function functionName(request: FastifyRequest): string {
  return (request.params as { function: string }).function;
}

/** Function known and caller authenticated, or the refusal is sent (the body stays unread). */
async function admitOperation(deps: OperationRouteDeps, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const name = functionName(request);
  const spec = findOperation(name);
  if (!spec?.web) {
    const shown = shownName(name);
    const why = spec ? 'is not available on the web API' : 'does not exist';
    return sendRefusal(request, reply, 404, { result: 'FAIL', details: `function "${shown}" ${why}; see /openapi.json`, function: shown });
  }
  if (spec.access === 'admin') {
    const header = (name: string): string | undefined => {
      const value = request.headers[name];
      return typeof value === 'string' ? value : undefined;
    };
    const crossSite = crossSiteRefusal({ secFetchSite: header('sec-fetch-site'), origin: header('origin'), host: header('host') });
    if (crossSite !== null) return sendRefusal(request, reply, 403, { result: 'FAIL', details: `${spec.name} refused: ${crossSite}; admin functions are called from the dashboard, the CLI or a script` });
  }
  if (deps.sessions && request.headers.authorization === undefined) {
    const caller = sessionCaller(deps.sessions, request, true);
    if (caller !== null) {
      if (!caller.ok) return sendRefusal(request, reply, caller.status, { result: 'FAIL', details: caller.reason });
      if (sessionAllows(caller, spec)) return undefined;
      return sendRefusal(request, reply, 403, { result: 'FAIL', details: `${spec.name} is not allowed to the password this session was opened with (${caller.access})` });
    }
  }
  try {
    const outcome = await deps.gate.check({ authorization: request.headers.authorization, address: request.ip, spec });
    if (outcome.ok) return undefined;
    if (outcome.status === 401) reply.header('www-authenticate', BASIC_CHALLENGE);
    if (outcome.status === 429) reply.header('retry-after', String(outcome.retryAfterSeconds));
    return sendRefusal(request, reply, outcome.status, { result: 'FAIL', details: outcome.reason });
  } catch (err) {
    const failed = replyForError(err, errorContext(spec, new Map()), deps.backend.log);
    return sendRefusal(request, reply, failed.status, failed.body);
  }
}

async function handleOperation(deps: OperationRouteDeps, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  // admitOperation let only web functions of the table through.
  const spec = findOperation(functionName(request)) as OperationSpec;
  let wire: WireParams = new Map();
  try {
    wire = collectWireParams(request.query, request.body);
    if (spec.stateOnly && wire.size === 0) {
      const kept = await deps.replies.withJson(spec.name, () => deps.backend.invoke(spec.name, {}));
      return sendJsonText(reply, 200, kept.json);
    }
    const result = await deps.backend.invoke(spec.name, webParams(webSignature(spec), wire));
    return sendJson(reply, 200, result);
  } catch (err) {
    if (err instanceof HandyRepError && err.code === 'NOT_LEADER') return forwardOrRefuse(deps, request, reply, spec, wire);
    const failed = replyForError(err, errorContext(spec, wire), deps.backend.log);
    return sendJson(reply, failed.status, failed.body);
  }
}

/** A follower's answer to a mutating call: the leader's answer (forwarding.ts), or 503 naming the leader. */
async function forwardOrRefuse(deps: OperationRouteDeps, request: FastifyRequest, reply: FastifyReply, spec: OperationSpec, wire: WireParams): Promise<FastifyReply> {
  const leadership = deps.backend.leadership?.() ?? null;
  if (leadership === null) return sendJson(reply, 503, { result: 'FAIL', details: 'this controller does not lead', code: 'NOT_LEADER' });
  const authorization = request.headers.authorization;
  const decision = forwardDecision({
    report: leadership.report,
    forwardInsecure: leadership.forwardInsecure,
    alreadyForwarded: request.headers[FORWARDED_HEADER] !== undefined,
    hasAuthorization: typeof authorization === 'string',
    functionName: spec.name,
  });
  if (!decision.forward) return sendJson(reply, 503, { result: 'FAIL', details: decision.reason, code: 'NOT_LEADER', leader: leadership.report.leader, leader_url: leadership.report.leader_url });
  try {
    const answer = await fetch(decision.target, {
      method: 'POST',
      headers: { authorization: authorization as string, 'content-type': 'application/json', [FORWARDED_HEADER]: 'follower' },
      body: JSON.stringify(Object.fromEntries(wire)),
      redirect: 'error',
      signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
    });
    reply.header('x-handyrep-leader', decision.target.origin);
    return sendJsonText(reply, answer.status, await answer.text());
  } catch (err) {
    deps.backend.log.warn('DAEMON', `${spec.name}: forwarding to the leader ${decision.target.origin} failed: ${describeError(err)}`);
    return sendJson(reply, 503, { result: 'FAIL', details: `the leader at ${decision.target.origin} did not answer the forwarded call: ${describeError(err)}; it may or may not have run it`, code: 'NOT_LEADER' });
  }
}

function errorContext(spec: OperationSpec, wire: WireParams): ErrorContext {
  const sig = webSignature(spec);
  const context: ErrorContext = {
    functionName: spec.name,
    wireNames: Object.keys(sig.params),
    given: Object.fromEntries([...wire].map(([key, value]) => [shownName(key), value])),
    acceptsExtraKeys: sig.recordParam !== null,
  };
  if (sig.form) {
    context.wireName = sig.form.wireName;
    context.defaultParameter = sig.form.mainParameter;
  }
  return context;
}
