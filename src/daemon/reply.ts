/** Sending JSON replies: always serialized here, so strings and null (get_master_name) stay JSON. */
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Content type of every JSON reply. */
export const JSON_TYPE = 'application/json; charset=utf-8';

/** Send `body` as JSON with `status`. */
export function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return sendJsonText(reply, status, JSON.stringify(body ?? null));
}

/** Send text that already is JSON (a kept answer, see state-replies.ts). */
export function sendJsonText(reply: FastifyReply, status: number, json: string): FastifyReply {
  return reply.code(status).header('content-type', JSON_TYPE).send(json);
}

/** Answer before the body was read; a connection with a body still on its way is closed, not drained. */
export function sendRefusal(request: FastifyRequest, reply: FastifyReply, status: number, body: unknown): FastifyReply {
  const headers = request.headers;
  if ((headers['content-length'] !== undefined && headers['content-length'] !== '0') || headers['transfer-encoding'] !== undefined) {
    reply.header('connection', 'close');
  }
  return sendJson(reply, status, body);
}
