/**
 * POST /oauth2/revoke (RFC 7009). The client authenticates; revoking a refresh token revokes
 * its whole grant (§2.1: access tokens of the same grant SHOULD go too), an access token just
 * itself. Unknown tokens, and tokens of another client, get the same 200 as a success, so
 * the endpoint cannot be used to probe which tokens exist.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { authenticateClient } from '../clientauth.js';
import type { OAuthContext } from '../context.js';
import { OAuthError } from '../errors.js';
import { hashSecret } from '../secrets.js';
import { enforceRate, sendOAuthError } from './respond.js';

export function revokeEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    try {
      enforceRate(ctx.limits.token, req, reply, 'revocation requests');
      const body = req.body as Record<string, string>;
      const client = await authenticateClient(ctx.host, req.headers.authorization, body);
      const token = body['token'];
      if (token === undefined) throw new OAuthError('invalid_request', 'token is required');
      const found = await ctx.store.findToken(hashSecret(token));
      if (found !== null && found.grant.clientHash === client.clientHash) {
        const now = Date.now();
        if (found.token.kind === 'refresh') await ctx.store.revokeGrant(found.grant.id, now);
        else await ctx.store.revokeToken(found.token.hash, now);
        ctx.log.info({ grant: found.grant.id, kind: found.token.kind }, 'token revoked by its client');
      }
      return reply.code(200).send();
    } catch (err) {
      return sendOAuthError(ctx, reply, err);
    }
  };
}
