/** The per-address request limits of the token, introspection, revocation and registration endpoints. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { addressKey } from '../../net/address-key.js';
import type { RateLimiter } from '../../http/ratelimit.js';
import { temporarilyUnavailable } from '../errors.js';

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
