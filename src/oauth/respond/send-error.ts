/** JSON error responses of the OAuth API endpoints (RFC 6749 §5.2). */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { addressKey } from '../../http/address-key.js';
import type { RateLimiter } from '../../http/ratelimit.js';
import { temporarilyUnavailable } from '../errors.js';
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

/**
 * Throws a 429 `temporarily_unavailable` (with Retry-After) when the client address (its /64
 * for IPv6, http/address-key.ts) is over the limit.
 */
export function enforceRate(limiter: RateLimiter, req: FastifyRequest, reply: FastifyReply, what: string): void {
  const wait = limiter.take(addressKey(req.ip));
  if (wait > 0) {
    reply.header('retry-after', String(Math.ceil(wait / 1000)));
    throw temporarilyUnavailable(`too many ${what}; try again later`, undefined, 429);
  }
}
