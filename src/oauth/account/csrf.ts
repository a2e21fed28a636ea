/**
 * CSRF tokens of the account page's forms (DESIGN.md: "CSRF token on every form, bound to the
 * request"). There is no authorization request to bind them to, so a token binds the
 * browser's random `gh_csrf` cookie to a purpose label:
 *   - the sign-in form:            HMAC(csrfKey, browser + '.account');
 *   - forms of a signed-in user:   HMAC(csrfKey, browser + '.account:' + user),
 * so a page shown to one user cannot act for another who signs in later in the same browser.
 *
 * They reuse session/csrf.ts's HMAC (`browser + '.' + label`): the labels cannot collide with the
 * authorization-request tokens it otherwise binds, which are JWTs (base64url segments joined
 * by dots, never `account...`); a username never contains ':' (session/username.ts refuses it).
 * The cookie is SameSite=Strict, so a cross-site POST does not even carry it.
 */
import type { FastifyReply } from 'fastify';
import type { OAuthHost } from '../host.js';
import { browserCookie, browserOf, checkCsrf, csrfToken, isBrowserId } from '../session/csrf.js';

/** The purpose label of a form: the sign-in form (no user yet) or a signed-in user's forms. */
export function accountPurpose(user: string | null): string {
  return user === null ? 'account' : `account:${user}`;
}

export function accountCsrf(host: OAuthHost, browser: string, user: string | null): string {
  return csrfToken(host, browser, accountPurpose(user));
}

/** Constant-time check of a posted token (false when the cookie or the token is missing). */
export function checkAccountCsrf(host: OAuthHost, cookies: Record<string, string>, user: string | null, given: unknown): boolean {
  const browser = browserOf(host, cookies);
  if (!isBrowserId(browser) || typeof given !== 'string') return false;
  return checkCsrf(host, browser, accountPurpose(user), given);
}

/** This browser's CSRF cookie value, its lifetime restarted with each page view. */
export function browserId(host: OAuthHost, cookies: Record<string, string>, reply: FastifyReply): string {
  return browserCookie(host, cookies, reply, true);
}
