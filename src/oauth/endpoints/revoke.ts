/**
 * POST /oauth2/revoke (RFC 7009). The client authenticates; revoking a refresh token revokes
 * its whole grant (§2.1: access tokens of the same grant SHOULD go too), an access token just
 * itself. Unknown (or already invalid) tokens get the same 200 as a success (§2.2). A token
 * issued to another client is not revoked and the request is refused (§2.1: "verifies whether
 * the token was issued to the client making the revocation request. If this validation
 * fails, the request is refused and the client is informed of the error"), with
 * `unauthorized_client` (RFC 6749 §5.2, the codes §2.2.1 uses): this client is not
 * authorized to act on that token. This tells nothing new: the caller holds the token.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { formOf } from '../../http/form.js';
import { authenticateClient } from '../clients/authenticate.js';
import type { OAuthContext } from '../context.js';
import { invalidRequest, unauthorizedClient } from '../errors.js';
import { hashSecret } from '../tokens/secrets.js';
import { enforceRate } from '../respond/rate-limit.js';
import { sendOAuthError } from '../respond/send-error.js';

export function revokeEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    try {
      enforceRate(ctx.limits.token, req, reply, 'revocation requests');
      const body = formOf(req);
      const client = await authenticateClient(ctx.host, req.headers.authorization, body);
      const token = body['token'];
      if (token === undefined) throw invalidRequest('token is required');
      const found = await ctx.store.findToken(hashSecret(token));
      if (found !== null && found.grant.clientHash !== client.clientHash) {
        throw unauthorizedClient('the token was not issued to this client', new Error('revocation of another client\'s token'));
      }
      if (found !== null) {
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
