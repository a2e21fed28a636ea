/**
 * POST /oauth2/introspect (RFC 7662). Only confidential clients may ask, and only about their
 * own tokens: anything else is `{"active": false}`, like an unknown, expired or revoked token
 * (§2.2), so the answer reveals nothing about other clients' tokens.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { formOf } from '../../http/form.js';
import { authenticateClient } from '../clients/authenticate.js';
import type { OAuthContext } from '../context.js';
import { invalidClient, invalidRequest } from '../errors.js';
import { hashSecret } from '../tokens/secrets.js';
import { enforceRate } from '../respond/rate-limit.js';
import { sendOAuthError } from '../respond/send-error.js';

export function introspectEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    try {
      enforceRate(ctx.limits.token, req, reply, 'introspection requests');
      const body = formOf(req);
      const client = await authenticateClient(ctx.host, req.headers.authorization, body);
      if (client.metadata.token_endpoint_auth_method === 'none') {
        throw invalidClient('introspection needs client authentication', new Error('public client'));
      }
      const token = body['token'];
      if (token === undefined) throw invalidRequest('token is required');
      const found = await ctx.store.findToken(hashSecret(token));
      const now = Date.now();
      if (
        found === null ||
        found.grant.clientHash !== client.clientHash ||
        found.token.revokedAt !== null ||
        found.grant.revokedAt !== null ||
        found.token.usedAt !== null ||
        found.token.expiresAt <= now
      ) {
        return reply.send({ active: false });
      }
      const { token: t, grant: g } = found;
      return reply.send({
        active: true,
        scope: t.scope,
        client_id: client.clientId,
        username: g.user,
        sub: ctx.host.subject(g.user, g.generation),
        token_type: t.kind === 'access' ? 'Bearer' : 'refresh_token',
        exp: Math.floor(t.expiresAt / 1000),
        iat: Math.floor(t.createdAt / 1000),
        iss: ctx.host.issuer,
        aud: client.clientId,
      });
    } catch (err) {
      return sendOAuthError(ctx, reply, err);
    }
  };
}
