/** Sending JSON replies: always serialized here, so strings and null (get_master_name) stay JSON. */
import type { FastifyReply } from 'fastify';

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
