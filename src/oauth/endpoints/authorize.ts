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
 *  7. OpenID Connect `prompt` and `max_age` (OIDC Core §3.1.2.1): `login` (or
 *     `select_account`) and `max_age` ask for a sign-in more recent than the session's;
 *     `none` asks for no page at all, so it is answered login_required or, since every
 *     authorization is approved on the consent page, consent_required;
 *  then the login page, or the consent page when this browser has a recent enough session.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { singleValued } from '../../http/form.js';
import type { OAuthContext } from '../context.js';
import { OAuthError } from '../errors.js';
import { isValidChallenge } from '../pkce.js';
import { matchRedirectUri } from '../redirect.js';
import { verifyClient } from '../registration/client-id.js';
import { limitToClient, parseScope } from '../scopes.js';
import { browserCookie, csrfToken, issueRequestToken, parseCookies, readSession, sessionFits, type AuthorizationRequest } from '../session.js';
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

    const prompt = parsePrompt(params['prompt']);
    if (prompt === null) return back('invalid_request', 'prompt must be none, or any of login, consent, select_account');
    const maxAge = params['max_age'];
    if (maxAge !== undefined && !/^\d{1,10}$/.test(maxAge)) return back('invalid_request', 'max_age must be a number of seconds');
    // In ms, against the session's issue time: a sign-in in the same second as this request
    // must not pass for a fresh one.
    const now = Date.now();
    let authAfter: number | undefined;
    if (prompt.has('login') || prompt.has('select_account')) authAfter = now;
    if (maxAge !== undefined) authAfter = Math.max(authAfter ?? 0, now - Number(maxAge) * 1000);
    if (prompt.has('none')) {
      const session = await readSession(ctx, parseCookies(req.headers.cookie));
      if (!sessionFits(session, authAfter)) return back('login_required', 'the user must sign in');
      return back('consent_required', 'the user must approve this application');
    }

    const request: AuthorizationRequest = {
      client_id: params['client_id']!,
      redirect_uri: redirectUri,
      scope: scope.join(' '),
      code_challenge: challenge,
      ...(state !== undefined ? { state } : {}),
      ...(params['nonce'] !== undefined ? { nonce: params['nonce'] } : {}),
      ...(authAfter !== undefined ? { auth_after: authAfter } : {}),
    };
    return showNext(ctx, req, reply, request, await issueRequestToken(ctx.host, request), client.client_name, client.client_uri);
  };
}

const PROMPTS = new Set(['none', 'login', 'consent', 'select_account']);

/** OIDC `prompt`: a set of known values, `none` alone; null when malformed. */
function parsePrompt(value: string | undefined): Set<string> | null {
  const values = new Set((value ?? '').split(' ').filter((v) => v !== ''));
  for (const v of values) if (!PROMPTS.has(v)) return null;
  if (values.has('none') && values.size > 1) return null;
  return values;
}

/**
 * The login page, or the consent page when the browser is signed in recently enough for the
 * request. Sets the CSRF cookie.
 */
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
  const browser = browserCookie(ctx.host, cookies, reply);
  const csrf = csrfToken(ctx.host, browser, requestToken);
  const session = await readSession(ctx, cookies);
  if (!sessionFits(session, request.auth_after)) return loginPage(ctx, reply, { clientName, request: requestToken, csrf });
  return consentPage(ctx, reply, { clientName, clientUri, scope: request.scope, user: session.user, request: requestToken, csrf });
}

export { OAuthError };
