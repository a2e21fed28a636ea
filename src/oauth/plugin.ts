/**
 * The OAuth endpoints of one host, under its issuer's path (DESIGN.md "Endpoints live under
 * the host's issuer"). Form bodies everywhere (RFC 6749 §3.2, §4.1.3; decoded by http/form.ts)
 * but registration, which takes JSON only (RFC 7591 §3.1); a body of another type is a 415,
 * a repeated parameter or an unreadable body or query an `invalid_request`.
 */
import type { FastifyInstance } from 'fastify';
import { allowCrossOrigin } from '../http/cors.js';
import { jsonParsers } from '../http/form.js';
import { accountRoutes } from './account/routes.js';
import { deviceRoutes } from './device/routes.js';
import { oidcRoutes } from './oidc/routes.js';
import type { OAuthContext } from './context.js';
import { authorizeEndpoint } from './authorize/endpoint.js';
import { consentEndpoint, consentPageEndpoint } from './authorize/consent.js';
import { introspectEndpoint } from './endpoints/introspect.js';
import { loginEndpoint } from './authorize/login.js';
import { serverMetadata } from './endpoints/metadata.js';
import { registerEndpoint } from './endpoints/register.js';
import { sendOAuthError } from './respond/send-error.js';
import { revokeEndpoint } from './endpoints/revoke.js';
import { tokenEndpoint } from './endpoints/token.js';
import { invalidRequest } from './errors.js';

export async function oauthRoutes(app: FastifyInstance, ctx: OAuthContext): Promise<void> {
  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      // The parser's message may echo input: answer with a fixed description.
      return sendOAuthError(ctx, reply, invalidRequest('the request body or query is malformed or repeats a parameter', err, status === 413 || status === 415 ? status : 400));
    }
    return sendOAuthError(ctx, reply, err);
  });

  const metadata = serverMetadata(ctx.host);
  app.get('/.well-known/oauth-authorization-server', async () => metadata);
  app.get('/oauth2/style.css', async (_req, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(ctx.templates.css));
  // RFC 7591 §3.1: registration alone takes JSON, and only JSON (a form is a 415).
  await app.register(async (json) => {
    jsonParsers(json);
    json.post('/oauth2/register', registerEndpoint(ctx));
  });
  app.get('/oauth2/authorize', authorizeEndpoint(ctx));
  // OIDC Core §3.1.2.1: the authorization endpoint takes POST too, with the same parameters.
  app.post('/oauth2/authorize', authorizeEndpoint(ctx));
  app.post('/oauth2/authorize/login', loginEndpoint(ctx));
  app.get('/oauth2/authorize/consent', consentPageEndpoint(ctx));
  app.post('/oauth2/authorize/consent', consentEndpoint(ctx));
  app.post('/oauth2/token', tokenEndpoint(ctx));
  app.post('/oauth2/revoke', revokeEndpoint(ctx));
  app.post('/oauth2/introspect', introspectEndpoint(ctx));
  await deviceRoutes(app, ctx);
  await oidcRoutes(app, ctx);
  await accountRoutes(app, ctx);
  // What a browser application on another origin calls directly (http/cors.ts); never the
  // cookie-based pages, nor introspection (for resource servers).
  allowCrossOrigin(app, '/.well-known/oauth-authorization-server', ['GET']);
  allowCrossOrigin(app, '/oauth2/register', ['POST']);
  allowCrossOrigin(app, '/oauth2/token', ['POST']);
  allowCrossOrigin(app, '/oauth2/revoke', ['POST']);
}

/** RFC 8414 §3.1: for an issuer with a path, metadata also lives at /.well-known/...{path}. */
export function wellKnownAtRoot(app: FastifyInstance, ctx: OAuthContext): void {
  if (ctx.host.basePath === '') return;
  const metadata = serverMetadata(ctx.host);
  app.get(`/.well-known/oauth-authorization-server${ctx.host.basePath}`, async () => metadata);
  allowCrossOrigin(app, `/.well-known/oauth-authorization-server${ctx.host.basePath}`, ['GET']);
}
