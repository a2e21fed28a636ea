/**
 * POST /oauth2/token (RFC 6749 §3.2). Client authentication first (clients/authenticate.ts), then
 * the handler of its grant_type (grants/: authorization-code.ts, refresh-token.ts,
 * device-code.ts, password.ts), which checks the grant and mints tokens (tokens/issue.ts).
 * A `resource` (RFC 8707) must name one of the host's `oauth2_jwt_resources`, else
 * invalid_target; the access token is then a JWT for it (tokens/jwt-access.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { formOf } from '../../http/form.js';
import { authenticateClient } from '../clients/authenticate.js';
import type { OAuthContext } from '../context.js';
import { invalidRequest, invalidTarget, unsupportedGrantType } from '../errors.js';
import { authorizationCodeGrant } from '../grants/authorization-code.js';
import { deviceCodeGrant } from '../grants/device-code.js';
import type { GrantHandler } from '../grants/grant.js';
import { passwordGrant } from '../grants/password.js';
import { refreshTokenGrant } from '../grants/refresh-token.js';
import { enforceRate } from '../respond/rate-limit.js';
import { sendOAuthError } from '../respond/send-error.js';

export function tokenEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    try {
      enforceRate(ctx.limits.token, req, reply, 'token requests');
      const body = formOf(req);
      const client = await authenticateClient(ctx.host, req.headers.authorization, body);
      const type = body['grant_type'];
      if (type === undefined) throw invalidRequest('grant_type is required');
      const handler = GRANT_HANDLERS[type];
      if (handler === undefined) throw unsupportedGrantType();
      const resource = body['resource'];
      if (resource !== undefined && !ctx.host.jwtResources.has(resource)) {
        throw invalidTarget('the resource is not one this server issues tokens for');
      }
      return reply.send(await handler(ctx, client, body, { address: req.ip, resource: resource ?? null }));
    } catch (err) {
      return sendOAuthError(ctx, reply, err);
    }
  };
}

/** grant_type -> handler (null prototype: `__proto__` is not a grant type). */
const GRANT_HANDLERS: Readonly<Record<string, GrantHandler>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, GrantHandler>, {
    authorization_code: authorizationCodeGrant,
    refresh_token: refreshTokenGrant,
    'urn:ietf:params:oauth:grant-type:device_code': deviceCodeGrant,
    password: passwordGrant,
  }),
);
