import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './errors.js';

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * A preHandler that admits `Authorization: Bearer <token>` (RFC 6750 §2.1) and nothing else. Without a
 * configured token every request is refused: an admin API must never be open by omission.
 */
export function bearerAuth(token: string | undefined) {
  const expected = token ? digest(token) : undefined;
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!expected) {
      return sendError(reply, 403, 'ERR_HTTP_DISABLED', 'the admin API is disabled: set http.token');
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    // compare digests, so neither the length nor the content of the token leaks through timing
    if (!match?.[1] || !timingSafeEqual(digest(match[1]), expected)) {
      reply.header('www-authenticate', 'Bearer realm="sms-bridge"');
      return sendError(reply, 401, 'ERR_HTTP_UNAUTHORIZED', 'a valid bearer token is required');
    }
  };
}
