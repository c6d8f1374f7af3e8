/** Sending JSON replies: always serialized here, so strings and null (get_master_name) stay JSON. */
import type { FastifyReply } from 'fastify';

/** Content type of every JSON reply. */
export const JSON_TYPE = 'application/json; charset=utf-8';

/** Send `body` as JSON with `status`. */
export function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('content-type', JSON_TYPE).send(JSON.stringify(body ?? null));
}
