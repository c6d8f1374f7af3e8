/**
 * /metrics (Prometheus text) and /openapi.json, without authentication: neither carries more
 * than a read password shows, and both are read by tools that rarely do Basic auth. The OpenAPI
 * document is generated once per start (the operations table does not change while running).
 */
import type { FastifyInstance } from 'fastify';
import { OPERATIONS } from '../../api/operations.js';
import type { DaemonMetrics } from '../metrics.js';
import { buildOpenApi } from '../openapi.js';
import { JSON_TYPE } from '../reply.js';

/** Register /openapi.json and /metrics. */
export function registerDocumentRoutes(app: FastifyInstance, metrics: DaemonMetrics, version: string): void {
  const openapi = JSON.stringify(buildOpenApi(OPERATIONS, version));
  app.get('/openapi.json', (_request, reply) => reply.header('content-type', JSON_TYPE).send(openapi));
  app.get('/metrics', async (_request, reply) => reply.header('content-type', metrics.contentType).send(await metrics.render()));
}
