/**
 * Security headers on every response (DESIGN.md, "Security rules"): nothing is cached
 * (RFC 6749 §5.1 asks it of token responses; we ask it of everything), nothing is framed,
 * no referrer leaks a code or a token.
 */
import type { FastifyInstance } from 'fastify';

const HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'cache-control': 'no-store',
  pragma: 'no-cache',
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
});

export function securityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (_req, reply, payload) => {
    for (const [k, v] of Object.entries(HEADERS)) if (!reply.hasHeader(k)) reply.header(k, v);
    return payload;
  });
}
