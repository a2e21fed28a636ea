/**
 * POST /oauth2/introspect (RFC 7662). Two kinds of caller:
 *  - a confidential client, about its own tokens only: anything else is `{"active": false}`,
 *    like an unknown, expired or revoked token (§2.2), so the answer reveals nothing about
 *    other clients' tokens;
 *  - a resource server of `oauth2_introspection_credentials` (clients/resource-server.ts),
 *    about any token of its host, e.g. Dovecot checking a mail app's token. When its entry
 *    names a scope, a token without that scope is `{"active": false}`: the resource server
 *    need not check scopes itself (Dovecot 2.3 checks only `active`, unless its own `scope`
 *    setting is set). A refresh token is never active to a resource server.
 * An active answer carries the token's scope, its client's client_id, `username` (the
 * account's local part), `sub` (as in the id_token), token_type, exp, iat, iss, and `aud`: the
 * resource of a JWT access token, else the client_id.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { formOf } from '../../http/form.js';
import { authenticateClient, withoutEmptyCredentials } from '../clients/authenticate.js';
import { authenticateResourceServer } from '../clients/resource-server.js';
import type { OAuthContext } from '../context.js';
import { invalidClient, invalidRequest } from '../errors.js';
import { jwtAudience } from '../tokens/jwt-access.js';
import { hashSecret } from '../tokens/secrets.js';
import { enforceRate } from '../respond/rate-limit.js';
import { sendOAuthError } from '../respond/send-error.js';

export function introspectEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    try {
      enforceRate(ctx.limits.token, req, reply, 'introspection requests');
      const body = withoutEmptyCredentials(formOf(req));
      const resourceServer = authenticateResourceServer(ctx.host, req.headers.authorization, body);
      let clientHash: string | null = null;
      if (resourceServer === null) {
        const client = await authenticateClient(ctx.host, req.headers.authorization, body);
        if (client.metadata.token_endpoint_auth_method === 'none') {
          throw invalidClient('introspection needs client authentication', new Error('public client'));
        }
        clientHash = client.clientHash;
      }
      const token = body['token'];
      if (token === undefined) throw invalidRequest('token is required');
      const found = await ctx.store.findToken(hashSecret(token));
      const now = Date.now();
      if (
        found === null ||
        found.grant.host !== ctx.host.host ||
        (clientHash !== null && found.grant.clientHash !== clientHash) ||
        found.token.revokedAt !== null ||
        found.grant.revokedAt !== null ||
        found.token.usedAt !== null ||
        found.token.expiresAt <= now ||
        // A refresh token is a credential for the token endpoint only (RFC 6749 §1.5): to a
        // resource server it is never an active token, else a mail app's refresh token would
        // log in to IMAP.
        (resourceServer !== null && found.token.kind !== 'access') ||
        (resourceServer !== null && resourceServer.scope !== null && !found.token.scope.split(' ').includes(resourceServer.scope))
      ) {
        if (resourceServer !== null) ctx.log.info({ resourceServer: resourceServer.name }, 'introspection: token not active');
        return reply.send({ active: false });
      }
      const { token: t, grant: g } = found;
      return reply.send({
        active: true,
        scope: t.scope,
        client_id: g.clientId,
        username: g.user,
        sub: ctx.host.subject(g.user, g.generation),
        token_type: t.kind === 'access' ? 'Bearer' : 'refresh_token',
        exp: Math.floor(t.expiresAt / 1000),
        iat: Math.floor(t.createdAt / 1000),
        iss: ctx.host.issuer,
        aud: (t.kind === 'access' ? jwtAudience(token) : undefined) ?? g.clientId,
      });
    } catch (err) {
      return sendOAuthError(ctx, reply, err);
    }
  };
}
