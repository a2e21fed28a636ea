/**
 * OAuth access tokens used as passwords (issue "OAuth for XMPP clients"): a client that got a
 * token by OAuth logs in to ejabberd or Prosody with SASL PLAIN, the token as the password.
 * The bridge and the auth HTTP API accept it for its own user only, while it is unexpired,
 * unrevoked, and carries an XMPP client scope. Anything else falls through to the auth
 * script, which answers as it would for any password.
 */
import type { Query } from '../extauth/query.js';
import type { OAuthStore } from '../storage/port.js';
import { hashSecret } from './tokens/secrets.js';

/**
 * Our opaque access tokens: 256 random bits, base64url (tokens/secrets.ts). A JWT access
 * token (tokens/jwt-access.ts) never matches: it is for the resource it names, not for XMPP
 * logins, and goes to the auth script like any other password, which refuses it.
 */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;
/** Scopes that allow an XMPP client login (XEP-0493). */
const CLIENT_SCOPES = new Set(['xmpp', 'xmpp:client:normal']);

export type TokenVerifier = (q: Query) => Promise<boolean>;

/** A verifier for the hosts that serve OAuth; other hosts never match. */
export function tokenVerifier(store: OAuthStore, oauthHosts: ReadonlySet<string>): TokenVerifier {
  return async (q) => {
    if (q.command !== 'auth' || q.password === undefined || !TOKEN_SHAPE.test(q.password) || !oauthHosts.has(q.host)) return false;
    const found = await store.findToken(hashSecret(q.password));
    if (found === null) return false;
    const { token, grant } = found;
    return (
      token.kind === 'access' &&
      token.revokedAt === null &&
      grant.revokedAt === null &&
      token.expiresAt > Date.now() &&
      grant.host === q.host &&
      grant.user === q.user &&
      token.scope.split(' ').some((s) => CLIENT_SCOPES.has(s))
    );
  };
}
