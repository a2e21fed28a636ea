/**
 * OpenID Connect routes of a host, under its issuer (registered by plugin.ts):
 *  - GET /.well-known/openid-configuration: OpenID Connect Discovery 1.0 §4, the issuer with
 *    the well-known path appended; the same document as RFC 8414's, which already carries the
 *    OpenID fields (metadata.ts);
 *  - GET /oauth2/jwks: the JWK Set of id_token keys (RFC 7517 §5), cacheable for a short
 *    while so relying parties need not fetch it for every token;
 *  - GET and POST /oauth2/userinfo (userinfo.ts);
 *  - GET and POST /oauth2/logout, POST /oauth2/logout/confirm: RP-Initiated Logout 1.0
 *    (end-session.ts).
 */
import type { FastifyInstance } from 'fastify';
import { allowCrossOrigin } from '../../http/cors.js';
import type { OAuthContext } from '../context.js';
import { serverMetadata } from '../endpoints/metadata.js';
import { END_SESSION_CONFIRM_PATH, END_SESSION_PATH, endSessionConfirmEndpoint, endSessionEndpoint } from './end-session.js';
import { oidcKeys } from './keys.js';
import { userinfoEndpoint } from './userinfo.js';

export { oidcMetadata } from './metadata.js';

/**
 * How long a JWKS may be cached. A rotation that must not break verification publishes the
 * new key (appended to oauth2_registration_key) at least this long before it signs (moved
 * first); relying parties that meet an unknown kid refetch anyway.
 */
export const JWKS_MAX_AGE_S = 300;

export async function oidcRoutes(app: FastifyInstance, ctx: OAuthContext): Promise<void> {
  // Derive the keys now: a start-up cost, not the first token request's.
  const jwks = oidcKeys(ctx.host).jwks;
  const configuration = serverMetadata(ctx.host);
  app.get('/.well-known/openid-configuration', async () => configuration);
  app.get('/oauth2/jwks', async (_req, reply) =>
    reply.type('application/json; charset=utf-8').header('cache-control', `public, max-age=${JWKS_MAX_AGE_S}`).send(jwks),
  );
  const userinfo = userinfoEndpoint(ctx);
  app.get('/oauth2/userinfo', userinfo);
  app.post('/oauth2/userinfo', userinfo);
  const endSession = endSessionEndpoint(ctx);
  app.get(END_SESSION_PATH, endSession);
  app.post(END_SESSION_PATH, endSession);
  app.post(END_SESSION_CONFIRM_PATH, endSessionConfirmEndpoint(ctx));
  // Relying parties in the browser read these directly (http/cors.ts).
  allowCrossOrigin(app, '/.well-known/openid-configuration', ['GET']);
  allowCrossOrigin(app, '/oauth2/jwks', ['GET']);
  allowCrossOrigin(app, '/oauth2/userinfo', ['GET', 'POST']);
}
