/**
 * The agent's health endpoints, with Patroni's paths and status codes so HAProxy and other proxies
 * can check the nodes directly: no controller in the data path. The reply is a pure function of
 * the agent's last round; the server only routes.
 *   /primary, /master, /leader, /read-write  200 when writable AND the recorded master AND lease fresh
 *   /replica[?lag=<bytes|NkB|NMB>]            200 when running read-only (and within lag, if given)
 *   /read-only                                200 when running (either role)
 *   /health, /liveness                        200 when PostgreSQL runs / when the agent runs
 *   /metrics                                  Prometheus text
 * Anything else is 404; every unhealthy state is 503.
 */
import { createServer, type Server } from 'node:http';
import type { AgentReason } from './decide.js';

export interface HealthFacts {
  readonly node: string;
  readonly running: boolean;
  readonly writable: boolean;
  /** The master key names this node and its lease is fresh. */
  readonly primaryConfirmed: boolean;
  /** received − replayed WAL on a replica, bytes; null when unknown. */
  readonly lagBytes: number | null;
  readonly timeline: number | null;
  readonly recordedMaster: string | null;
  readonly lastReason: AgentReason | null;
  readonly roundsTotal: number;
  readonly demotionsTotal: number;
}

export interface HealthReply {
  readonly status: number;
  readonly body: string;
  readonly contentType: string;
}

export function healthReply(url: string, facts: HealthFacts): HealthReply {
  let parsed: URL;
  try {
    parsed = new URL(url, 'http://agent');
  } catch {
    return json(400, { error: 'bad request URL' });
  }
  const role = !facts.running ? 'stopped' : facts.writable ? 'master' : 'replica';
  const state = { node: facts.node, state: facts.running ? 'running' : 'stopped', role, timeline: facts.timeline, recorded_master: facts.recordedMaster, lag_bytes: facts.lagBytes, reason: facts.lastReason };
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
      const withinLag = maxLag === null || (facts.lagBytes !== null && facts.lagBytes <= maxLag);
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
    `handyrep_agent_rounds_total${label} ${f.roundsTotal}`,
    `handyrep_agent_demotions_total${label} ${f.demotionsTotal}`,
    '',
  ].join('\n');
}

function json(status: number, body: unknown): HealthReply {
  return { status, body: `${JSON.stringify(body)}\n`, contentType: 'application/json' };
}

/** A plain HTTP server answering GET/HEAD/OPTIONS from `facts()`. */
export function startHealthServer(address: string, port: number, facts: () => HealthFacts): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS') {
      res.writeHead(405, { allow: 'GET, HEAD, OPTIONS' }).end();
      return;
    }
    const reply = healthReply(req.url ?? '/', facts());
    res.writeHead(reply.status, { 'content-type': reply.contentType, 'cache-control': 'no-store' });
    res.end(req.method === 'GET' ? reply.body : undefined);
  });
  server.requestTimeout = 5000;
  server.headersTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve(server));
  });
}
