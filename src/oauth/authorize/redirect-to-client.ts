/** The way back to the client at the end of the authorization code flow (RFC 6749 §4.1.2, §4.1.2.1). */
import type { FastifyReply } from 'fastify';
import type { OAuthContext } from '../context.js';
import { withParams } from './redirect.js';

/** 303 to the client's (validated) redirect URI with `iss` (RFC 9207) and `state`. */
export function redirectToClient(
  ctx: OAuthContext,
  reply: FastifyReply,
  redirectUri: string,
  params: Record<string, string | undefined>,
): FastifyReply {
  return reply.code(303).header('location', withParams(redirectUri, { ...params, iss: ctx.host.issuer })).send();
}
