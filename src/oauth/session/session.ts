/**
 * Browser state of the authorization flow, all signed, none stored:
 *  - the session cookie (optional second login spared): who signed in and when;
 *  - the authorization-request token: the validated request, carried through the login and
 *    consent forms so that nothing a user can edit is trusted on POST;
 *  - the CSRF token: HMAC over a random per-browser cookie and the request token, so a form
 *    is only accepted from the browser that got it, for the request it was made for.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import type { OAuthStore } from '../../storage/port.js';
import type { OAuthHost } from '../host.js';
import { randomBase64url } from '../tokens/secrets.js';

export const SESSION_COOKIE = 'gh_session';
export const CSRF_COOKIE = 'gh_csrf';
/**
 * The CSRF cookie's name under an https issuer: the `__Host-` prefix makes browsers take it
 * only from this origin, Secure, with Path=/ and no Domain (RFC 6265bis §4.1.3.2), so a
 * sibling subdomain or a plain-http response cannot plant a value of its choosing.
 */
export const HOST_CSRF_COOKIE = '__Host-gh_csrf';
const SESSION_TTL_S = 3600;
const REQUEST_TTL_S = 600;

export interface Session {
  readonly user: string;
  /** Seconds since the epoch (OIDC auth_time). */
  readonly authTime: number;
  /** The account generation the user signed in to (OAuthStore.accountGeneration). */
  readonly generation: number;
}

/** A session as read back: also when it was issued, ms (at sign-in, or a password change). */
export interface ReadSession extends Session {
  readonly issuedMs: number;
}

/** The authorization request as validated by GET /authorize. */
export interface AuthorizationRequest {
  readonly client_id: string;
  readonly redirect_uri: string;
  /**
   * True when the request named no redirect_uri (the client's only one was used): then the
   * token request need not name it either (RFC 6749 §4.1.3).
   */
  readonly redirect_uri_omitted?: true;
  readonly scope: string;
  readonly state?: string;
  readonly code_challenge: string;
  readonly nonce?: string;
  /**
   * A session counts only if it was issued (its user signed in) at or after this time, ms
   * (OIDC `prompt=login`, `max_age`); absent: any session counts.
   */
  readonly auth_after?: number;
}

/** True when there is a session, issued at or after `authAfter` (ms) if given. */
export function sessionFits(session: ReadSession | null, authAfter: number | undefined): session is ReadSession {
  return session !== null && session.issuedMs >= (authAfter ?? 0);
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  if (header === undefined) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    if (!(name in out)) out[name] = part.slice(eq + 1).trim();
  }
  return out;
}

export function cookie(host: OAuthHost, name: string, value: string, maxAgeS: number, sameSite: 'Lax' | 'Strict'): string {
  const parts = [`${name}=${value}`, `Path=${host.basePath || '/'}`, 'HttpOnly', `SameSite=${sameSite}`, `Max-Age=${maxAgeS}`];
  if (host.secure) parts.push('Secure');
  return parts.join('; ');
}

/**
 * A signed session for `s`. `at` (ms) is when it was issued: a password change ends every
 * session issued before it (OAuthStore.endSessions), which a signed cookie alone could not.
 */
export async function issueSession(host: OAuthHost, s: Session, at: number = Date.now()): Promise<string> {
  return new SignJWT({ user: s.user, auth_time: s.authTime, at, gen: s.generation })
    .setProtectedHeader({ alg: 'HS256', typ: 'gh-session+jwt' })
    .setAudience(host.issuer)
    .setIssuedAt(Math.floor(at / 1000))
    .setExpirationTime(Math.floor(at / 1000) + SESSION_TTL_S)
    .sign(host.sessionKey);
}

export function sessionCookie(host: OAuthHost, token: string): string {
  return cookie(host, SESSION_COOKIE, token, SESSION_TTL_S, 'Lax');
}

/**
 * The signed-in session of this browser, or null: none, forged, expired, issued before the
 * user's sessions were ended (a password change, an account removed, a sign-out), or for a
 * generation of the account that has ended (the name was removed or registered again). When
 * storage cannot say, there is no session: the user signs in again rather than keep one that
 * may have been ended.
 */
export async function readSession(ctx: { readonly host: OAuthHost; readonly store: Pick<OAuthStore, 'sessionsNotBefore' | 'accountGeneration'> }, cookies: Record<string, string>): Promise<ReadSession | null> {
  const { host } = ctx;
  const token = cookies[SESSION_COOKIE];
  if (token === undefined) return null;
  try {
    const { payload } = await jwtVerify(token, host.sessionKey, { algorithms: ['HS256'], typ: 'gh-session+jwt', audience: host.issuer });
    if (typeof payload['user'] !== 'string' || typeof payload['auth_time'] !== 'number') return null;
    // Sessions from before the `at` claim: their iat, in whole seconds.
    const at = typeof payload['at'] === 'number' ? payload['at'] : (payload.iat ?? 0) * 1000;
    // Sessions from before the `gen` claim: the first generation, the only one there was.
    const generation = typeof payload['gen'] === 'number' ? payload['gen'] : 0;
    const [notBefore, current] = await Promise.all([ctx.store.sessionsNotBefore(host.host, payload['user']), ctx.store.accountGeneration(host.host, payload['user'])]);
    if (at < notBefore || generation !== current) return null;
    return { user: payload['user'], authTime: payload['auth_time'], generation, issuedMs: at };
  } catch {
    return null;
  }
}

export async function issueRequestToken(host: OAuthHost, req: AuthorizationRequest): Promise<string> {
  return new SignJWT({ ...req })
    .setProtectedHeader({ alg: 'HS256', typ: 'gh-authz-request+jwt' })
    .setAudience(host.issuer)
    .setIssuedAt()
    .setExpirationTime(`${REQUEST_TTL_S}s`)
    .sign(host.requestKey);
}

export async function readRequestToken(host: OAuthHost, token: string): Promise<AuthorizationRequest | null> {
  try {
    const { payload } = await jwtVerify(token, host.requestKey, { algorithms: ['HS256'], typ: 'gh-authz-request+jwt', audience: host.issuer });
    const p = payload as Record<string, unknown>;
    const str = (k: string) => (typeof p[k] === 'string' ? (p[k] as string) : undefined);
    if (!str('client_id') || !str('redirect_uri') || str('scope') === undefined || !str('code_challenge')) return null;
    return {
      client_id: str('client_id')!,
      redirect_uri: str('redirect_uri')!,
      ...(p['redirect_uri_omitted'] === true ? { redirect_uri_omitted: true as const } : {}),
      scope: str('scope')!,
      code_challenge: str('code_challenge')!,
      ...(str('state') !== undefined ? { state: str('state')! } : {}),
      ...(str('nonce') !== undefined ? { nonce: str('nonce')! } : {}),
      ...(Number.isSafeInteger(p['auth_after']) ? { auth_after: p['auth_after'] as number } : {}),
    };
  } catch {
    return null;
  }
}

/** A fresh per-browser CSRF cookie value. */
export function newCsrfCookie(): string {
  return randomBase64url(18);
}

/** The shape newCsrfCookie() draws: 18 random bytes in base64url. */
const BROWSER_ID = /^[A-Za-z0-9_-]{24}$/;

/** True when `value` is a CSRF cookie value as newCsrfCookie() draws them. */
export function isBrowserId(value: string | undefined): value is string {
  return value !== undefined && BROWSER_ID.test(value);
}

/**
 * This browser's CSRF cookie value for a page about to be shown: the one it has, or a new one
 * set on `reply`. With `refresh`, the cookie is set again either way, so its lifetime restarts
 * with the page (the account page, whose forms stay open long).
 */
export function browserCookie(host: OAuthHost, cookies: Record<string, string>, reply: { header(name: string, value: string): unknown }, refresh = false): string {
  const current = browserOf(host, cookies);
  const browser = isBrowserId(current) ? current : newCsrfCookie();
  if (refresh || browser !== current) reply.header('set-cookie', csrfCookie(host, browser));
  return browser;
}

export function csrfCookie(host: OAuthHost, value: string): string {
  if (!host.secure) return cookie(host, CSRF_COOKIE, value, REQUEST_TTL_S * 6, 'Strict');
  return `${HOST_CSRF_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${REQUEST_TTL_S * 6}; Secure`;
}

/** This browser's CSRF cookie value as sent (unchecked), under the host's cookie name. */
export function browserOf(host: OAuthHost, cookies: Record<string, string>): string | undefined {
  return cookies[host.secure ? HOST_CSRF_COOKIE : CSRF_COOKIE];
}

/**
 * A new CSRF cookie at sign-in: a value the browser held before (perhaps planted by someone
 * else, who could then have forms of ours made for it) is not kept across a login.
 */
export function rotatedCsrfCookie(host: OAuthHost): string {
  return csrfCookie(host, newCsrfCookie());
}

export function csrfToken(host: OAuthHost, browser: string, requestToken: string): string {
  return createHmac('sha256', host.csrfKey).update(`${browser}.${requestToken}`).digest('base64url');
}

export function checkCsrf(host: OAuthHost, browser: string | undefined, requestToken: string, given: string | undefined): boolean {
  if (browser === undefined || given === undefined) return false;
  const want = Buffer.from(csrfToken(host, browser, requestToken));
  const got = Buffer.from(given);
  return want.length === got.length && timingSafeEqual(want, got);
}
