/**
 * CSRF tokens of the browser pages: HMAC over a random per-browser cookie and the request token,
 * so a form is only accepted from the browser that got it, for the request it was made for.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { OAuthHost } from '../host.js';
import { randomBase64url } from '../tokens/secrets.js';
import { cookie } from './cookies.js';
import { REQUEST_TTL_S } from './request-token.js';

export const CSRF_COOKIE = 'gh_csrf';
/**
 * The CSRF cookie's name under an https issuer: the `__Host-` prefix makes browsers take it
 * only from this origin, Secure, with Path=/ and no Domain (RFC 6265bis §4.1.3.2), so a
 * sibling subdomain or a plain-http response cannot plant a value of its choosing.
 */
export const HOST_CSRF_COOKIE = '__Host-gh_csrf';

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
