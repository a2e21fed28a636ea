/**
 * {issuer}/oauth2/logout: OpenID Connect RP-Initiated Logout 1.0, the end_session_endpoint.
 * GET and POST (§2), parameters id_token_hint, client_id, post_logout_redirect_uri, state
 * (others, such as logout_hint and ui_locales, are ignored). In order:
 *  1. a repeated parameter: an error page (never a redirect);
 *  2. id_token_hint: counts only when it is an id_token of this host (ES256 by one of its
 *     keys, iss the issuer); expired is fine (§2: the OP should accept it). Anything else is
 *     no hint at all;
 *  3. client_id, when given with a valid hint, must be the hint's aud (§2); the client is the
 *     hint's aud, verified as a registration of this host;
 *  4. post_logout_redirect_uri: followed only with a valid hint and a client that registered
 *     that exact URI in post_logout_redirect_uris (§3: without a hint the OP must not redirect;
 *     RFC 9700 §4.11.2: no redirect to a client the user has not approved: the hint shows it
 *     got a token from them). Given but not registered: an error page. `state` is echoed on
 *     the redirect (§2) and nowhere else;
 *  5. the browser's session (session/session.ts). A request attributed to it (a valid hint for the
 *     session's subject, or no session at all) proceeds; otherwise, since anyone can link to
 *     this endpoint, the user is asked to confirm with a form (CSRF token bound to this
 *     browser and the signed logout request, as the authorization forms are): POST
 *     /oauth2/logout/confirm, which never redirects (the signed-in user did not approve the
 *     client whose hint, if any, came with the request);
 *  6. signing out ends every session of the user at this host on the server (the per-user
 *     cut-off, OAuthStore.endSessions), so a copied session cookie dies with it, and clears
 *     the cookie; then the redirect, or Gatehouse's own signed-out page.
 */
import { compactVerify, createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OAuthContext } from '../context.js';
import type { OAuthHost } from '../host.js';
import { formOf, paramsOf, type Form } from '../../http/form.js';
import { lookupClient } from '../clients/lookup.js';
import { withParams } from '../authorize/redirect.js';
import { cookie, parseCookies } from '../session/cookies.js';
import { browserCookie, checkCsrf, CSRF_COOKIE, csrfToken } from '../session/csrf.js';
import { readSession, SESSION_COOKIE, type ReadSession } from '../session/session.js';
import { cssHref, errorPage } from '../pages/layout.js';
import { ID_TOKEN_ALG } from './alg.js';
import { oidcKeys } from './keys.js';

export const END_SESSION_PATH = '/oauth2/logout';
export const END_SESSION_CONFIRM_PATH = '/oauth2/logout/confirm';

const PARAMS = ['id_token_hint', 'client_id', 'post_logout_redirect_uri', 'state'] as const;
type Params = Partial<Record<(typeof PARAMS)[number], string>>;

/** A confirmed logout request lives as long as an authorization request. */
const LOGOUT_REQUEST_TTL_S = 600;
const LOGOUT_REQUEST_TYP = 'gh-logout-request+jwt';

/** What a valid id_token_hint says. */
interface Hint {
  readonly sub: string;
  readonly aud: string;
}

/** The parameters of a GET (query) or POST (form body); null when they cannot be decoded. */
function readParams(req: FastifyRequest): Params | null {
  let source: Form;
  try {
    source = paramsOf(req);
  } catch {
    return null;
  }
  const out: Params = {};
  for (const name of PARAMS) {
    const v = source[name];
    if (v !== undefined && v !== '') out[name] = v;
  }
  return out;
}

/** The hint's sub and aud when it is an id_token this host issued (expired or not), else null. */
async function verifyHint(host: OAuthHost, hint: string | undefined): Promise<Hint | null> {
  if (hint === undefined) return null;
  try {
    const { payload } = await compactVerify(hint, createLocalJWKSet(oidcKeys(host).jwks as { keys: never[] }), { algorithms: [ID_TOKEN_ALG] });
    const claims = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
    if (claims['iss'] !== host.issuer || typeof claims['sub'] !== 'string' || typeof claims['aud'] !== 'string') return null;
    return { sub: claims['sub'], aud: claims['aud'] };
  } catch {
    return null;
  }
}

type Target = { readonly ok: true; readonly redirect: string | null } | { readonly ok: false; readonly message: string };

/** Where to send the user afterwards: the client's registered URI (with state), or nowhere. */
async function target(ctx: OAuthContext, p: Params, hint: Hint | null): Promise<Target> {
  if (hint !== null && p.client_id !== undefined && p.client_id !== hint.aud) {
    return { ok: false, message: 'The sign-out request names another application than the one it comes from.' };
  }
  if (p.post_logout_redirect_uri === undefined || hint === null) return { ok: true, redirect: null };
  let registered: readonly string[];
  try {
    registered = (await lookupClient(ctx.host, hint.aud)).metadata.post_logout_redirect_uris ?? [];
  } catch {
    return { ok: true, redirect: null };
  }
  if (!registered.includes(p.post_logout_redirect_uri)) {
    return { ok: false, message: 'The application asked to return to an address it did not register.' };
  }
  return { ok: true, redirect: withParams(p.post_logout_redirect_uri, { state: p.state }) };
}

/** Ends the user's sessions on the server (every instance) and clears this browser's cookie. */
async function signOut(ctx: OAuthContext, reply: FastifyReply, session: ReadSession | null, redirect: string | null, via: string): Promise<FastifyReply> {
  if (session !== null) {
    await ctx.store.endSessions(ctx.host.host, session.user, Date.now());
    ctx.log.info({ user: session.user, via }, 'user signed out');
  }
  reply.header('set-cookie', cookie(ctx.host, SESSION_COOKIE, '', 0, 'Lax'));
  if (redirect !== null) return reply.code(303).header('location', redirect).send();
  return signedOutPage(ctx, reply);
}

export function signedOutPage(ctx: OAuthContext, reply: FastifyReply): FastifyReply {
  const body = ctx.templates.render('signed-out.html', { title: 'Signed out', site_name: ctx.host.siteName, css_href: cssHref(ctx), host: ctx.host.host });
  return reply.code(200).type('text/html; charset=utf-8').send(body);
}

async function issueLogoutRequest(host: OAuthHost, user: string): Promise<string> {
  return new SignJWT({ user })
    .setProtectedHeader({ alg: 'HS256', typ: LOGOUT_REQUEST_TYP })
    .setAudience(host.issuer)
    .setIssuedAt()
    .setExpirationTime(`${LOGOUT_REQUEST_TTL_S}s`)
    .sign(host.requestKey);
}

async function readLogoutRequest(host: OAuthHost, token: string | undefined): Promise<{ user: string } | null> {
  if (token === undefined) return null;
  try {
    const { payload } = await jwtVerify(token, host.requestKey, { algorithms: ['HS256'], typ: LOGOUT_REQUEST_TYP, audience: host.issuer });
    if (typeof payload['user'] !== 'string') return null;
    return { user: payload['user'] };
  } catch {
    return null;
  }
}

/** GET and POST {issuer}/oauth2/logout. */
export function endSessionEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const p = readParams(req);
    if (p === null) return errorPage(ctx, reply, 400, 'Invalid request', 'The sign-out request repeats a parameter or cannot be read.');
    const hint = await verifyHint(ctx.host, p.id_token_hint);
    const to = await target(ctx, p, hint);
    if (!to.ok) return errorPage(ctx, reply, 400, 'Invalid request', to.message);
    const cookies = parseCookies(req.headers.cookie);
    const session = await readSession(ctx, cookies);
    if (session === null || (hint !== null && hint.sub === ctx.host.subject(session.user, session.generation))) {
      return signOut(ctx, reply, session, to.redirect, 'end_session');
    }
    // Not attributable to this session: the user decides, on a form only this browser can post.
    const browser = browserCookie(ctx.host, cookies, reply);
    const request = await issueLogoutRequest(ctx.host, session.user);
    const body = ctx.templates.render('logout-confirm.html', {
      title: 'Sign out?',
      site_name: ctx.host.siteName,
      css_href: cssHref(ctx),
      jid: ctx.host.jid(session.user),
      action: `${ctx.host.basePath}${END_SESSION_CONFIRM_PATH}`,
      request,
      csrf: csrfToken(ctx.host, browser, request),
    });
    return reply.code(200).type('text/html; charset=utf-8').send(body);
  };
}

/** POST {issuer}/oauth2/logout/confirm: the user's answer to the confirmation form. */
export function endSessionConfirmEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const form = formOf(req);
    const field = (name: string): string | undefined => form[name];
    const requestToken = field('request');
    const request = await readLogoutRequest(ctx.host, requestToken);
    const cookies = parseCookies(req.headers.cookie);
    if (request === null || !checkCsrf(ctx.host, cookies[CSRF_COOKIE], requestToken!, field('csrf'))) {
      return errorPage(ctx, reply, 403, 'Form expired', 'This form is no longer valid. You were not signed out.');
    }
    const session = await readSession(ctx, cookies);
    if (field('decision') !== 'signout') {
      return errorPage(ctx, reply, 200, 'Still signed in', 'You are still signed in. You can close this page.');
    }
    // Whoever is signed in now is signed out; a session that already ended has nothing to end.
    return signOut(ctx, reply, session, null, 'end_session confirmed');
  };
}
