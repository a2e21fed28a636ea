/**
 * GET and POST /oauth2/authorize (RFC 6749 §4.1.1; OIDC Core §3.1.2.1: POST with a form
 * body, the same parameters), in order:
 *  1. parameters: each at most once (RFC 6749 §3.1);
 *  2. client: a valid client_id of this host — else an error page, never a redirect;
 *  3. redirect_uri: one the client registered (loopback port excepted); it may be left out
 *     when the client registered exactly one (RFC 6749 §3.1.2.3), but not in an OpenID Connect
 *     request (scope openid), where it is REQUIRED (OIDC Core §3.1.2.1) — else an error page
 *     (RFC 9700 §4.1.3: no error redirect to an unvalidated URI);
 *  4. `request` and `request_uri` (OIDC Core §6): request_not_supported,
 *     request_uri_not_supported (§3.1.2.6), as the discovery document does not offer them;
 *  5. response_type=code and the client registered the authorization_code grant;
 *  6. PKCE: code_challenge with code_challenge_method=S256 (RFC 7636, RFC 9700 §2.1.1);
 *  7. scope: known scopes, within what the client registered (consent/scopes.ts: offline_access only
 *     for a client that can get a refresh token);
 *  8. OpenID Connect `prompt` and `max_age` (OIDC Core §3.1.2.1): `login` (or
 *     `select_account`) and `max_age` ask for a sign-in more recent than the session's;
 *     `none` asks for no page at all: with a recent enough session and the user's consent
 *     on record for this client and every scope asked, the code is issued at once; otherwise
 *     login_required or consent_required;
 *  then the login page, or the consent page when this browser has a recent enough session.
 *
 * Where errors of steps 4-8 go. RFC 6749 §4.1.2.1 sends them to the redirect URI, but that
 * URI, though registered, is whatever a stranger registered: registration is open, so an
 * automatic redirect would make this server an open redirector (RFC 9700 §4.11.2, RFC 6749
 * §10.15). RFC 9700 §4.11.2 wants the user authenticated first and a redirect only to a URI
 * the server trusts. So an error is redirected (with `state` and `iss`) only when this
 * browser's signed-in user has a consent on record for this very client_id
 * (consent/on-record.ts): that user already reviewed the client and chose to go there.
 * Otherwise, with no session, or a user who never approved this client, the error is shown
 * on our own error page (400) with its code, and the browser stays here. The same holds for
 * `prompt=none`: without a session or without consent for the client it is answered on our
 * page (login_required, consent_required); with consent for the client, login_required (a
 * session too old for `max_age`) and consent_required (a scope never granted) are
 * redirected. After the consent page, the user's own Deny is redirected as access_denied
 * (consent.ts): the user has then signed in and seen the client.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { paramsOf, type Form } from '../../http/form.js';
import { clientDisplay } from '../clients/identity.js';
import { consentOnRecord } from '../consent/on-record.js';
import type { OAuthContext } from '../context.js';
import { isValidChallenge } from './pkce.js';
import { matchRedirectUri } from './redirect.js';
import { lookupClient } from '../clients/lookup.js';
import type { ClientMetadata } from '../registration/metadata.js';
import { limitToClient, parseScope } from '../consent/scopes.js';
import { parseCookies } from '../session/cookies.js';
import { browserCookie, csrfToken } from '../session/csrf.js';
import { issueRequestToken, type AuthorizationRequest } from '../session/request-token.js';
import { readSession, sessionFits, type ReadSession } from '../session/session.js';
import { issueCode } from './issue-code.js';
import { consentPage, loginPage } from '../pages/authorize.js';
import { errorPage } from '../pages/layout.js';
import { redirectToClient } from './redirect-to-client.js';

/** An authorization error (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6): its code and description. */
interface Refusal {
  readonly error: string;
  readonly description: string;
}

const refuse = (error: string, description: string): Refusal => ({ error, description });

export function authorizeEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    let params: Form;
    try {
      params = paramsOf(req);
    } catch (err) {
      return errorPage(ctx, reply, 400, 'Invalid request', (err as Error).message);
    }
    let client: ClientMetadata;
    try {
      client = (await lookupClient(ctx.host, params['client_id'])).metadata;
    } catch {
      return errorPage(ctx, reply, 400, 'Unknown application', 'The application that sent you here is not registered with this server.');
    }
    const redirectUri = matchRedirectUri(client.redirect_uris, params['redirect_uri']);
    if (redirectUri === null) {
      return errorPage(ctx, reply, 400, 'Invalid request', 'The application asked to return you to an address it did not register.');
    }
    const omitted = params['redirect_uri'] === undefined;
    if (omitted && (params['scope'] ?? '').split(' ').includes('openid')) {
      return errorPage(ctx, reply, 400, 'Invalid request', 'The application did not say where to return you (redirect_uri is required for OpenID Connect).');
    }
    const clientId = params['client_id']!;
    const state = params['state'];
    const cookies = parseCookies(req.headers.cookie);
    // Read only when needed (an error, prompt=none): who is signed in, and their consent.
    let trust: { session: ReadSession | null; consent: ReadonlySet<string> | null } | undefined;
    const trusted = async () => {
      if (trust === undefined) {
        const session = await readSession(ctx, cookies);
        trust = { session, consent: session === null ? null : await consentOnRecord(ctx, session.user, clientId) };
      }
      return trust;
    };
    /** An error: redirected only to a client this user approved (header comment), else our page. */
    const fail = async (r: Refusal): Promise<FastifyReply> => {
      if ((await trusted()).consent !== null) {
        return redirectToClient(ctx, reply, redirectUri, { error: r.error, error_description: r.description, state });
      }
      ctx.log.info({ client: client.client_name, error: r.error }, 'authorization error shown, not redirected: client not approved by this user');
      return errorPage(ctx, reply, 400, 'The application cannot continue', `${client.client_name} sent a request that cannot be completed (${r.error}: ${r.description}). You have not approved this application before, so you are not sent back to it automatically.`);
    };

    const checked = check(params, client);
    if ('error' in checked) return fail(checked);
    const { scope, challenge, prompt, authAfter } = checked;
    const request: AuthorizationRequest = {
      client_id: clientId,
      redirect_uri: redirectUri,
      ...(omitted ? { redirect_uri_omitted: true as const } : {}),
      scope: scope.join(' '),
      code_challenge: challenge,
      ...(state !== undefined ? { state } : {}),
      ...(params['nonce'] !== undefined ? { nonce: params['nonce'] } : {}),
      ...(authAfter !== undefined ? { auth_after: authAfter } : {}),
    };
    if (prompt.has('none')) {
      const { session, consent } = await trusted();
      if (!sessionFits(session, authAfter)) return fail(refuse('login_required', 'the user must sign in'));
      if (consent === null || !scope.every((s) => consent.has(s))) return fail(refuse('consent_required', 'the user must approve this application'));
      return issueCode(ctx, reply, request, client, session);
    }
    return showNext(ctx, req, reply, request, await issueRequestToken(ctx.host, request), client);
  };
}

/** Steps 4-8 of the header: the validated request, or the first refusal. */
function check(
  params: Record<string, string>,
  client: ClientMetadata,
): Refusal | { scope: string[]; challenge: string; prompt: Set<string>; authAfter: number | undefined } {
  if (params['request'] !== undefined) return refuse('request_not_supported', 'request objects are not supported');
  if (params['request_uri'] !== undefined) return refuse('request_uri_not_supported', 'request_uri is not supported');
  if (params['response_type'] !== 'code') return refuse('unsupported_response_type', 'only response_type=code is supported');
  if (!client.grant_types.includes('authorization_code')) return refuse('unauthorized_client', 'client did not register the authorization_code grant');
  const challenge = params['code_challenge'];
  if (challenge === undefined || !isValidChallenge(challenge)) return refuse('invalid_request', 'code_challenge (PKCE) is required');
  if (params['code_challenge_method'] !== 'S256') return refuse('invalid_request', 'code_challenge_method must be S256');
  const requested = parseScope(params['scope']);
  if (requested === null) return refuse('invalid_scope', 'unknown scope');
  const scope = limitToClient(requested, client);
  if (scope.length === 0) return refuse('invalid_scope', 'no scope requested that the client registered');

  const prompt = parsePrompt(params['prompt']);
  if (prompt === null) return refuse('invalid_request', 'prompt must be none, or any of login, consent, select_account');
  const maxAge = params['max_age'];
  if (maxAge !== undefined && !/^\d{1,10}$/.test(maxAge)) return refuse('invalid_request', 'max_age must be a number of seconds');
  // In ms, against the session's issue time: a sign-in in the same second as this request
  // must not pass for a fresh one.
  const now = Date.now();
  let authAfter: number | undefined;
  if (prompt.has('login') || prompt.has('select_account')) authAfter = now;
  if (maxAge !== undefined) authAfter = Math.max(authAfter ?? 0, now - Number(maxAge) * 1000);
  return { scope, challenge, prompt, authAfter };
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
  client: ClientMetadata,
): Promise<FastifyReply> {
  const cookies = parseCookies(req.headers.cookie);
  const browser = browserCookie(ctx.host, cookies, reply);
  const csrf = csrfToken(ctx.host, browser, requestToken);
  const session = await readSession(ctx, cookies);
  const shown = clientDisplay(client, request.redirect_uri);
  if (!sessionFits(session, request.auth_after)) return loginPage(ctx, reply, { clientName: shown.name, request: requestToken, csrf });
  return consentPage(ctx, reply, { client: shown, scope: request.scope, user: session.user, request: requestToken, csrf });
}
