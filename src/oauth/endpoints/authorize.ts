/**
 * GET /oauth2/authorize (RFC 6749 §4.1.1), in order:
 *  1. parameters: each at most once (RFC 6749 §3.1);
 *  2. client: a valid client_id of this host — else an error page, never a redirect;
 *  3. redirect_uri: one the client registered (loopback port excepted) — else an error page
 *     (RFC 9700 §4.1.3: no error redirect to an unvalidated URI);
 *  from here on errors are redirected to that URI with `state` and `iss`:
 *  4. response_type=code and the client registered the authorization_code grant;
 *  5. PKCE: code_challenge with code_challenge_method=S256 (RFC 7636, RFC 9700 §2.1.1);
 *  6. scope: known scopes, within what the client registered;
 *  then the login page, or the consent page when this browser has a session.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { singleValued } from '../../http/form.js';
import type { OAuthContext } from '../context.js';
import { OAuthError } from '../errors.js';
import { isValidChallenge } from '../pkce.js';
import { matchRedirectUri } from '../redirect.js';
import { verifyClient } from '../registration/client-id.js';
import { limitToClient, parseScope } from '../scopes.js';
import { CSRF_COOKIE, csrfCookie, csrfToken, issueRequestToken, newCsrfCookie, parseCookies, readSession, type AuthorizationRequest } from '../session.js';
import { consentPage, errorPage, loginPage, redirectToClient } from './pages.js';

export function authorizeEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    let params: Record<string, string>;
    try {
      params = singleValued(req.query);
    } catch (err) {
      return errorPage(ctx, reply, 400, 'Invalid request', (err as Error).message);
    }
    let client;
    try {
      client = await verifyClient(params['client_id'], ctx.host.keys);
    } catch {
      return errorPage(ctx, reply, 400, 'Unknown application', 'The application that sent you here is not registered with this server.');
    }
    const redirectUri = matchRedirectUri(client.redirect_uris, params['redirect_uri']);
    if (redirectUri === null) {
      return errorPage(ctx, reply, 400, 'Invalid request', 'The application asked to return you to an address it did not register.');
    }
    const state = params['state'];
    const back = (error: string, description: string) =>
      redirectToClient(ctx, reply, redirectUri, { error, error_description: description, state });

    if (params['response_type'] !== 'code') return back('unsupported_response_type', 'only response_type=code is supported');
    if (!client.grant_types.includes('authorization_code')) return back('unauthorized_client', 'client did not register the authorization_code grant');
    const challenge = params['code_challenge'];
    if (challenge === undefined || !isValidChallenge(challenge)) return back('invalid_request', 'code_challenge (PKCE) is required');
    if (params['code_challenge_method'] !== 'S256') return back('invalid_request', 'code_challenge_method must be S256');
    const requested = parseScope(params['scope']);
    if (requested === null) return back('invalid_scope', 'unknown scope');
    const scope = limitToClient(requested, client.scope);
    if (scope.length === 0) return back('invalid_scope', 'no scope requested that the client registered');

    const request: AuthorizationRequest = {
      client_id: params['client_id']!,
      redirect_uri: redirectUri,
      scope: scope.join(' '),
      code_challenge: challenge,
      ...(state !== undefined ? { state } : {}),
      ...(params['nonce'] !== undefined ? { nonce: params['nonce'] } : {}),
    };
    return showNext(ctx, req, reply, request, await issueRequestToken(ctx.host, request), client.client_name, client.client_uri);
  };
}

/** The login page, or the consent page when the browser is signed in. Sets the CSRF cookie. */
export async function showNext(
  ctx: OAuthContext,
  req: FastifyRequest,
  reply: FastifyReply,
  request: AuthorizationRequest,
  requestToken: string,
  clientName: string,
  clientUri: string,
): Promise<FastifyReply> {
  const cookies = parseCookies(req.headers.cookie);
  let browser = cookies[CSRF_COOKIE];
  if (browser === undefined || !/^[A-Za-z0-9_-]{24}$/.test(browser)) {
    browser = newCsrfCookie();
    reply.header('set-cookie', csrfCookie(ctx.host, browser));
  }
  const csrf = csrfToken(ctx.host, browser, requestToken);
  const session = await readSession(ctx, cookies);
  if (session === null) return loginPage(ctx, reply, { clientName, request: requestToken, csrf });
  return consentPage(ctx, reply, { clientName, clientUri, scope: request.scope, user: session.user, request: requestToken, csrf });
}

export { OAuthError };
