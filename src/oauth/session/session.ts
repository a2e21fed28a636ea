/**
 * The session cookie of the browser pages (optional second login spared): who signed in and
 * when, signed, not stored. With the request token (request-token.ts) and the CSRF token
 * (csrf.ts), the browser state of the authorization flow.
 */
import { jwtVerify, SignJWT } from 'jose';
import type { OAuthStore } from '../../storage/port.js';
import type { OAuthHost } from '../host.js';
import { cookie } from './cookies.js';

export const SESSION_COOKIE = 'gh_session';
const SESSION_TTL_S = 3600;

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

/** True when there is a session, issued at or after `authAfter` (ms) if given. */
export function sessionFits(session: ReadSession | null, authAfter: number | undefined): session is ReadSession {
  return session !== null && session.issuedMs >= (authAfter ?? 0);
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
