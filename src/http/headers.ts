/**
 * Security headers on every response (DESIGN.md, "Security rules"): nothing is cached
 * (RFC 6749 §5.1 asks it of token responses; we ask it of everything), nothing is framed,
 * no referrer leaks a code or a token. They are set when the request arrives, so a route
 * that needs another value (a cacheable stylesheet) simply sets its own; and in a
 * synchronous hook, with the request id, because this runs on every request.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

const HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'cache-control': 'no-store',
  pragma: 'no-cache',
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
});

/** Security headers, and `x-request-id` echoing the request's id (app.ts calls it on every request). */
export function setSecurityHeaders(req: FastifyRequest, reply: FastifyReply): void {
  reply.headers(HEADERS);
  reply.header('x-request-id', req.id);
}
