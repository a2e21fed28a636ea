/** JSON error responses of the OAuth API endpoints (RFC 6749 §5.2). */
import type { FastifyReply } from 'fastify';
import type { OAuthContext } from '../context.js';
import { isOAuthError } from '../errors.js';
import { edgeError, renderError } from './render-error.js';

export function sendOAuthError(ctx: OAuthContext, reply: FastifyReply, err: unknown): FastifyReply {
  err = edgeError(err);
  const { status, body } = renderError(err);
  if (!isOAuthError(err) || !err.expose) ctx.log.error({ err: (err as Error).message }, 'OAuth request failed');
  else if (err.cause !== undefined) ctx.log.info({ error: err.error, cause: (err.cause as Error).message }, 'OAuth request refused');
  // RFC 6749 §5.2: a 401 for invalid_client carries the scheme the client may use.
  if (status === 401) reply.header('www-authenticate', 'Basic realm="oauth2"');
  return reply.code(status).send(body);
}
