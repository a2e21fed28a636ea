/**
 * CSRF tokens of the account page's forms (DESIGN.md: "CSRF token on every form, bound to the
 * request"). There is no authorization request to bind them to, so a token binds the
 * browser's random `gh_csrf` cookie to a purpose label:
 *   - the sign-in form:            HMAC(csrfKey, browser + '.account');
 *   - forms of a signed-in user:   HMAC(csrfKey, browser + '.account:' + user),
 * so a page shown to one user cannot act for another who signs in later in the same browser.
 *
 * They reuse session.ts's HMAC (`browser + '.' + label`): the labels cannot collide with the
 * authorization-request tokens it otherwise binds, which are JWTs (base64url segments joined
 * by dots, never `account...`); a username never contains ':' (username.ts refuses it).
 * The cookie is SameSite=Strict, so a cross-site POST does not even carry it.
 */
import type { FastifyReply } from 'fastify';
import type { OAuthHost } from '../host.js';
import { checkCsrf, CSRF_COOKIE, csrfCookie, csrfToken, newCsrfCookie } from '../session.js';

/** The shape newCsrfCookie() draws: 18 random bytes in base64url. */
const BROWSER_ID = /^[A-Za-z0-9_-]{24}$/;

/** The purpose label of a form: the sign-in form (no user yet) or a signed-in user's forms. */
export function accountPurpose(user: string | null): string {
  return user === null ? 'account' : `account:${user}`;
}

export function accountCsrf(host: OAuthHost, browser: string, user: string | null): string {
  return csrfToken(host, browser, accountPurpose(user));
}

/** Constant-time check of a posted token (false when the cookie or the token is missing). */
export function checkAccountCsrf(host: OAuthHost, cookies: Record<string, string>, user: string | null, given: unknown): boolean {
  const browser = cookies[CSRF_COOKIE];
  if (browser === undefined || !BROWSER_ID.test(browser) || typeof given !== 'string') return false;
  return checkCsrf(host, browser, accountPurpose(user), given);
}

/**
 * This browser's CSRF cookie value for a page about to be shown: the one it has, or a new one.
 * The cookie is (re)set either way, so its lifetime restarts with each page view and a form
 * stays usable as long as the cookie's Max-Age after the page was shown.
 */
export function browserId(host: OAuthHost, cookies: Record<string, string>, reply: FastifyReply): string {
  let browser = cookies[CSRF_COOKIE];
  if (browser === undefined || !BROWSER_ID.test(browser)) browser = newCsrfCookie();
  reply.header('set-cookie', csrfCookie(host, browser));
  return browser;
}
