import type { FastifyReply } from 'fastify';

/** Codes the HTTP API answers with in `{ error: { code, message } }`; clients should test the code. */
export type HttpErrorCode =
  | 'ERR_HTTP_DISABLED'
  | 'ERR_HTTP_UNAUTHORIZED'
  | 'ERR_HTTP_INVALID'
  | 'ERR_HTTP_NOT_FOUND'
  | 'ERR_HTTP_CONFLICT'
  | 'ERR_HTTP_INTERNAL';

export function sendError(
  reply: FastifyReply,
  status: number,
  code: HttpErrorCode,
  message: string,
): FastifyReply {
  return reply.code(status).send({ error: { code, message } });
}
