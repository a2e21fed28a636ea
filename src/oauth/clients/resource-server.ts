/**
 * Resource servers at the introspection endpoint (RFC 7662 §2.1): a mail server such as
 * Dovecot checks the tokens that mail apps, other clients, got. Each one is configured per
 * host (`oauth2_introspection_credentials = ["dovecot:long-secret:imap"]`) and authenticates
 * like a confidential client, with its name as client_id: HTTP Basic (both parts
 * form-urlencoded, RFC 6749 §2.3.1) or client_id and client_secret in the body.
 *
 * A name never looks like a registered client_id (a JWT, with dots), so the two cannot be
 * confused: a request whose client_id is not a configured name is left to client
 * authentication. The secret is compared in constant time (over SHA-256 digests, so the
 * lengths do not show either).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IntrospectionCredential } from '../../config/keys.js';
import { basicCredentials } from '../../http/basic-auth.js';
import { invalidClient } from '../errors.js';
import type { OAuthHost } from '../host.js';

const fail = (why: string) => invalidClient('client authentication failed', new Error(why));

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** The presented client_id and secret, or null when the request carries none we can read. */
function presented(authorization: string | undefined, body: Record<string, string>): { id: string; secret: string | undefined } | null {
  const decoded = basicCredentials(authorization);
  if (decoded !== null) {
    const colon = decoded.indexOf(':');
    if (colon === -1) return null;
    try {
      return {
        id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
        secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
      };
    } catch {
      return null;
    }
  }
  const id = body['client_id'];
  return id === undefined || authorization !== undefined ? null : { id, secret: body['client_secret'] };
}

/**
 * The resource server making this request, null when the request is not one (then it is a
 * client's, for clients/authenticate.ts), or an invalid_client error when it names a resource
 * server with a wrong or missing secret, or uses two methods at once.
 */
export function authenticateResourceServer(host: OAuthHost, authorization: string | undefined, body: Record<string, string>): IntrospectionCredential | null {
  if (host.introspectionCredentials.length === 0) return null;
  const who = presented(authorization, body);
  if (who === null) return null;
  const cred = host.introspectionCredentials.find((c) => c.name === who.id);
  if (cred === undefined) return null;
  if (authorization !== undefined && body['client_secret'] !== undefined) throw fail('two authentication methods at once');
  if (authorization !== undefined && body['client_id'] !== undefined && body['client_id'] !== who.id) throw fail('client_id differs from the Basic user');
  if (who.secret === undefined || !timingSafeEqual(digest(who.secret), digest(cred.secret))) throw fail(`wrong secret for resource server ${cred.name}`);
  return cred;
}
