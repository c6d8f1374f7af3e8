/**
 * Load-balancer and liveness endpoints, without authentication (HAProxy checks carry none) and
 * from cached state only: /primary/<server>, /read-write/<server>, /replica/<server>[?lag=],
 * /health. Verdicts are in ../health.ts. /health with credentials is authenticated like get_status
 * (through the same gate and throttle: it must not be a way around the guessing limits).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { StatusReport } from '../../api/handyrep.js';
import { findOperation, type OperationSpec } from '../../api/operations.js';
import type { ServerMap } from '../../model/server.js';
import type { AuthGate } from '../auth-gate.js';
import type { DaemonBackend } from '../backend.js';
import { BASIC_CHALLENGE } from '../basic-auth.js';
import { followerDataProblem, fullDaemonHealth, parseLagLimit, primaryHealth, publicDaemonHealth, replicaHealth, type HealthVerdict } from '../health.js';
import { sendJson, sendJsonText } from '../reply.js';
import type { StateReplies } from '../state-replies.js';

interface ServerParams {
  Params: { server: string };
  Querystring: { lag?: string | string[] };
}

/** Register /primary, /read-write, /replica and /health. */
export function registerHealthRoutes(app: FastifyInstance, backend: DaemonBackend, replies: StateReplies, gate: AuthGate): void {
  // get_status with no parameters answers from the cached state (the library's default), and
  // the report is kept per state revision; the verdicts only read it.
  const status = async (): Promise<StatusReport> => (await replies.value('get_status', () => backend.invoke('get_status', {}))) as StatusReport;
  const send = (reply: FastifyReply, verdict: HealthVerdict): FastifyReply => sendJson(reply, verdict.status, verdict.body);
  // A verdict on a configured server is kept with its JSON for the revision (key: the path);
  // one on an unknown name (404) is not, so the kept keys stay as few as the servers.
  const keptVerdict = async (path: string, verdictOf: (report: StatusReport) => HealthVerdict, reply: FastifyReply): Promise<FastifyReply> => {
    const kept = await replies.withJson(path, async () => verdictOf(await status()), {
      keepIf: (verdict) => verdict.status !== 404,
      serialise: (verdict) => JSON.stringify(verdict.body),
    });
    return sendJsonText(reply, kept.value.status, kept.json);
  };

  /** A follower whose data is too old answers 503 to every check (health.ts followerDataProblem). */
  const staleReply = (server: string, reply: FastifyReply): FastifyReply | null => {
    const leadership = backend.leadership?.() ?? null;
    const problem = followerDataProblem(leadership);
    return problem === null ? null : sendJson(reply, 503, { server, stale: true, reason: problem, leader: leadership?.report.leader ?? null, leader_url: leadership?.report.leader_url ?? null });
  };
  const primary = async (server: string, reply: FastifyReply): Promise<FastifyReply> =>
    staleReply(server, reply) ?? keptVerdict(`/primary/${server}`, (report) => primaryHealth(report, server), reply);
  app.get<ServerParams>('/primary/:server', (request, reply) => primary(request.params.server, reply));
  app.get<ServerParams>('/read-write/:server', (request, reply) => primary(request.params.server, reply));

  app.get<ServerParams>('/replica/:server', async (request, reply) => {
    const server = request.params.server;
    const stale = staleReply(server, reply);
    if (stale) return stale;
    const lag = request.query.lag;
    let maxLag: number | null = null;
    if (lag !== undefined) {
      maxLag = typeof lag === 'string' ? parseLagLimit(lag) : null;
      if (maxLag === null) {
        return sendJson(reply, 400, { result: 'FAIL', details: 'lag must be one number of bytes, optionally with a unit: 1048576, 512kB, 16MB, 1GB', parameter: 'lag' });
      }
    }
    if (maxLag === null) return keptVerdict(`/replica/${server}`, (report) => replicaHealth(report, server, null, null), reply);
    const report = await status();
    let lagBytes: number | null = null;
    if (Object.hasOwn(report.servers, server)) {
      const info = (await backend.invoke('get_server_info', { servername: server })) as ServerMap;
      lagBytes = info[server]?.lag_bytes ?? null;
    }
    return send(reply, replicaHealth(report, server, lagBytes, maxLag));
  });

  const getStatus = findOperation('get_status') as OperationSpec;
  app.get('/health', async (request, reply) => {
    const authorization = request.headers.authorization;
    const leadership = backend.leadership?.() ?? null;
    // Computed now, not kept with the state revision: a follower's data ages without changes.
    const lead = leadership === null ? {} : { leadership: { ...leadership.report, stale: followerDataProblem(leadership) !== null } };
    if (authorization === undefined) {
      // Without the read password: no controller names or URLs, only whether this one leads and how fresh it is.
      const open = leadership === null ? {} : { leadership: { leading: leadership.report.leading, data_age_ms: leadership.report.data_age_ms, stale: followerDataProblem(leadership) !== null } };
      return sendJson(reply, 200, { ...publicDaemonHealth(await status(), backend.monitorStatus()), ...open });
    }
    const outcome = await gate.check({ authorization, address: request.ip, spec: getStatus });
    if (!outcome.ok) {
      if (outcome.status === 401) reply.header('www-authenticate', BASIC_CHALLENGE);
      if (outcome.status === 429) reply.header('retry-after', String(outcome.retryAfterSeconds));
      return sendJson(reply, outcome.status, { result: 'FAIL', details: outcome.reason });
    }
    return sendJson(reply, 200, { ...fullDaemonHealth(await status(), backend.monitorStatus()), ...lead });
  });
}
