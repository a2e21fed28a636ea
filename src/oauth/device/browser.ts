/** The browser on the device pages: its CSRF cookie (session/csrf.ts), and what a code-entry form is bound to. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OAuthContext } from '../context.js';
import { parseCookies } from '../session/cookies.js';
import { browserCookie } from '../session/csrf.js';

/** The CSRF "request" a code-entry form is bound to (there is no request yet). */
export const CODE_ENTRY_FORM = 'gh-device-code-entry';

/** This browser's CSRF cookie value, set afresh when missing or malformed. */
export function browserId(ctx: OAuthContext, req: FastifyRequest, reply: FastifyReply): string {
  return browserCookie(ctx.host, parseCookies(req.headers.cookie), reply);
}
