/**
 * GET /oauth2/authorize/consent shows the consent page for a signed-in browser; POST takes the
 * decision. Allow: a grant and a single-use code bound to the client, the redirect URI and the
 * PKCE challenge, then 303 to the client with `code`, `state`, `iss`. Deny: 303 with
 * `error=access_denied`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { singleValued } from '../../http/form.js';
import type { OAuthContext } from '../context.js';
import { verifyClient } from '../registration/client-id.js';
import { createGrant } from '../grants.js';
import { hashSecret, newSecret } from '../secrets.js';
import { csrfToken, readRequestToken, readSession, sessionFits } from '../session.js';
import { readFormRequest } from './form-request.js';
import { errorPage, loginPage, redirectToClient } from './pages.js';
import { showNext } from './authorize.js';

/** Authorization codes live two minutes (RFC 6749 §4.1.2 recommends at most ten). */
export const CODE_TTL_MS = 120_000;

export function consentPageEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    let requestToken: string | undefined;
    try {
      requestToken = singleValued(req.query)['request'];
    } catch {
      requestToken = undefined;
    }
    const request = requestToken === undefined ? null : await readRequestToken(ctx.host, requestToken);
    if (request === null) return errorPage(ctx, reply, 400, 'Form expired', 'This request has expired. Go back to the application and start again.');
    let client;
    try {
      client = await verifyClient(request.client_id, ctx.host.keys);
    } catch {
      return errorPage(ctx, reply, 400, 'Unknown application', 'The application is no longer registered with this server.');
    }
    return showNext(ctx, req, reply, request, requestToken!, client.client_name, client.client_uri);
  };
}

export function consentEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const form = await readFormRequest(ctx, req, reply);
    if (form === null) return reply;
    const { body, request, client } = form;
    const session = await readSession(ctx, form.cookies);
    if (session === null) {
      return errorPage(ctx, reply, 400, 'Signed out', 'Your sign-in has expired. Go back to the application and start again.');
    }
    if (!sessionFits(session, request.auth_after)) {
      // The application asked for a recent sign-in (prompt=login, max_age): no consent before it.
      return loginPage(ctx, reply, { clientName: client.client_name, request: form.requestToken, csrf: csrfToken(ctx.host, form.browser, form.requestToken) });
    }
    if (body['decision'] !== 'allow') {
      ctx.log.info({ user: session.user, client: client.client_name }, 'user denied access');
      return redirectToClient(ctx, reply, request.redirect_uri, { error: 'access_denied', error_description: 'the user denied access', state: request.state });
    }
    const now = Date.now();
    const clientHash = hashSecret(request.client_id);
    const grantId = await createGrant(ctx, {
      user: session.user,
      clientId: request.client_id,
      client,
      scope: request.scope,
      authTime: session.authTime * 1000,
      generation: session.generation,
      now,
    });
    const code = newSecret();
    await ctx.store.saveCode({
      hash: hashSecret(code),
      grantId,
      clientHash,
      redirectUri: request.redirect_uri,
      codeChallenge: request.code_challenge,
      scope: request.scope,
      nonce: request.nonce ?? null,
      createdAt: now,
      expiresAt: now + CODE_TTL_MS,
      consumedAt: null,
    });
    ctx.log.info({ user: session.user, client: client.client_name, scope: request.scope }, 'user granted access');
    return redirectToClient(ctx, reply, request.redirect_uri, { code, state: request.state });
  };
}
