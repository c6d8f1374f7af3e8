/**
 * The agent's health endpoints, with Patroni's paths and status codes so HAProxy and other proxies
 * can check the nodes directly: no controller in the data path. The reply is a pure function of
 * the agent's last round; the server only routes.
 *   /primary, /master, /leader, /read-write  200 when writable AND the recorded master AND lease fresh
 *   /replica[?lag=<bytes|NkB|NMB>]            200 when running read-only (and, if given, within that
 *                                             lag behind the MASTER's position: its agent's fresh
 *                                             record, or what the WAL sender last reported while this
 *                                             replica streams, etcd or not; neither known → 503)
 *   /read-only                                200 when running (either role)
 *   /health, /liveness                        200 when PostgreSQL runs / when the agent runs
 *   /metrics                                  Prometheus text
 * Anything else is 404; every unhealthy state is 503. HTTPS and credentials as the daemon's
 * (agent.tls_cert/tls_key, agent.require_password; health-auth.ts).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { BASIC_CHALLENGE } from '../daemon/basic-auth.js';
import type { TlsFiles } from '../daemon/tls-files.js';
import type { AgentReason } from './decide.js';
import type { HealthAuthOutcome } from './health-auth.js';
import type { MasterLagSource } from './master-lag.js';

export interface HealthFacts {
  readonly node: string;
  readonly running: boolean;
  readonly writable: boolean;
  /** The master key names this node and its lease is fresh. */
  readonly primaryConfirmed: boolean;
  /** received − replayed WAL on a replica, bytes; null when unknown. */
  readonly lagBytes: number | null;
  /** The master's furthest known position − this replica's, bytes (master-lag.ts); null when unknown. */
  readonly masterLagBytes: number | null;
  /** Where that position came from: the master's fresh member record or, without one, the WAL receiver. */
  readonly masterLagSource?: MasterLagSource | null;
  readonly timeline: number | null;
  readonly recordedMaster: string | null;
  readonly lastReason: AgentReason | null;
  readonly roundsTotal: number;
  readonly demotionsTotal: number;
  /** Wall-clock ms when the last successful master lease renewal was sent; null = never held. */
  readonly leaseRenewedAtMs: number | null;
}

export interface HealthReply {
  readonly status: number;
  readonly body: string;
  readonly contentType: string;
}

/**
 * The last round's facts as of a request: `/primary` also needs the master lease fresh NOW and no
 * fence under way (a round can be a second old, and a stale lease's fence takes a moment).
 */
export function factsNow(facts: HealthFacts, leaseFresh: boolean, fencing: boolean): HealthFacts {
  return facts.primaryConfirmed && (!leaseFresh || fencing) ? { ...facts, primaryConfirmed: false } : facts;
}

export function healthReply(url: string, facts: HealthFacts): HealthReply {
  let parsed: URL;
  try {
    parsed = new URL(url, 'http://agent');
  } catch {
    return json(400, { error: 'bad request URL' });
  }
  const role = !facts.running ? 'stopped' : facts.writable ? 'master' : 'replica';
  const state = { node: facts.node, state: facts.running ? 'running' : 'stopped', role, timeline: facts.timeline, recorded_master: facts.recordedMaster, lag_bytes: facts.lagBytes, master_lag_bytes: facts.masterLagBytes, master_lag_source: facts.masterLagSource ?? null, reason: facts.lastReason };
  switch (parsed.pathname) {
    case '/primary':
    case '/master':
    case '/leader':
    case '/read-write':
      return json(facts.running && facts.writable && facts.primaryConfirmed ? 200 : 503, state);
    case '/replica': {
      const limit = parsed.searchParams.get('lag');
      const maxLag = limit === null ? null : parseLag(limit);
      if (maxLag === undefined) return json(400, { error: 'lag must be bytes or a size like 16MB' });
      // Patroni's rule: the distance to the master's last known position, not the local replay backlog.
      const withinLag = maxLag === null || (facts.masterLagBytes !== null && facts.masterLagBytes <= maxLag);
      return json(facts.running && !facts.writable && withinLag ? 200 : 503, state);
    }
    case '/read-only':
      return json(facts.running ? 200 : 503, state);
    case '/health':
      return json(facts.running ? 200 : 503, state);
    case '/liveness':
      return json(200, { node: facts.node });
    case '/metrics':
      return { status: 200, contentType: 'text/plain; version=0.0.4', body: metrics(facts) };
    default:
      return json(404, { error: `no such endpoint ${parsed.pathname}` });
  }
}

/** Bytes from "1048576", "16MB", "512kB" (Patroni's units); undefined when not a size. */
export function parseLag(text: string): number | undefined {
  const match = /^(\d{1,15})\s*(B|kB|KB|MB|GB|TB)?$/.exec(text.trim());
  if (!match) return undefined;
  const factor: Record<string, number> = { B: 1, kB: 1024, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
  return Number(match[1]) * (factor[match[2] ?? 'B'] as number);
}

function metrics(f: HealthFacts): string {
  const label = `{node="${f.node}"}`;
  return [
    `handyrep_agent_postgres_running${label} ${f.running ? 1 : 0}`,
    `handyrep_agent_postgres_writable${label} ${f.writable ? 1 : 0}`,
    `handyrep_agent_primary_confirmed${label} ${f.primaryConfirmed ? 1 : 0}`,
    `handyrep_agent_replica_lag_bytes${label} ${f.lagBytes ?? 'NaN'}`,
    `handyrep_agent_master_lag_bytes${label} ${f.masterLagBytes ?? 'NaN'}`,
    `handyrep_agent_rounds_total${label} ${f.roundsTotal}`,
    `handyrep_agent_demotions_total${label} ${f.demotionsTotal}`,
    `handyrep_agent_master_lease_renewed_timestamp_seconds${label} ${f.leaseRenewedAtMs === null ? 'NaN' : (f.leaseRenewedAtMs / 1000).toFixed(3)}`,
    '',
  ].join('\n');
}

function json(status: number, body: unknown): HealthReply {
  return { status, body: `${JSON.stringify(body)}\n`, contentType: 'application/json' };
}

export interface HealthServerOptions {
  /** HTTPS when given. */
  readonly tls: TlsFiles | null;
  /** Decides each request's credentials before it is answered. */
  readonly auth: (authorization: string | undefined, address: string) => Promise<HealthAuthOutcome>;
}

/** An HTTP(S) server answering GET/HEAD/OPTIONS from `facts()`, after `auth`. */
export function startHealthServer(address: string, port: number, facts: () => HealthFacts, options: HealthServerOptions): Promise<Server> {
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS') {
      res.writeHead(405, { allow: 'GET, HEAD, OPTIONS' }).end();
      return;
    }
    void options.auth(req.headers.authorization, req.socket.remoteAddress ?? '').then(
      (outcome) => {
        const reply = outcome.ok ? healthReply(req.url ?? '/', facts()) : refusal(outcome);
        const headers: Record<string, string> = { 'content-type': reply.contentType, 'cache-control': 'no-store' };
        if (reply.status === 401) headers['www-authenticate'] = BASIC_CHALLENGE;
        if (!outcome.ok && outcome.retryAfterSeconds !== undefined) headers['retry-after'] = String(outcome.retryAfterSeconds);
        res.writeHead(reply.status, headers);
        res.end(req.method === 'GET' ? reply.body : undefined);
      },
      () => res.writeHead(500).end(),
    );
  };
  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handle) : createHttpServer(handle);
  server.requestTimeout = 5000;
  server.headersTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve(server));
  });
}

function refusal(outcome: Extract<HealthAuthOutcome, { ok: false }>): HealthReply {
  return json(outcome.status, { error: outcome.reason });
}
