/**
 * Which redirect URIs a client may register, by application type (following Prosody's
 * mod_http_oauth2, tightened where RFC 8252 advises):
 * - web: https on the client_uri host (without a client_uri, on the host of the first redirect
 *   URI), so a registration cannot aim codes at someone else's site (RFC 9700 §4.1).
 * - native: http on the loopback IP literals 127.0.0.1 or [::1] with any port (RFC 8252 §7.3),
 *   or a private-use scheme containing a dot, i.e. reverse domain name based (RFC 8252 §7.1).
 *   `localhost` is refused: RFC 8252 §8.3 says it is NOT RECOMMENDED, because it may resolve
 *   to a non-loopback interface or be intercepted by a firewall.
 */
import { invalidRedirectUri } from '../errors.js';
import { parseStrictUri, type StrictUri } from './uri.js';
import type { ApplicationType } from './vocabulary.js';

export type RedirectKind = 'https' | 'loopback' | 'localhost' | 'private-use' | 'other';

export interface RedirectUri extends StrictUri {
  readonly kind: RedirectKind;
}

const LOOPBACK_LITERALS = new Set(['127.0.0.1', '[::1]']);

/** Strictly parses a redirect URI and says what kind it is. */
export function parseRedirectUri(raw: string, field: string): RedirectUri {
  const uri = parseStrictUri(raw, field, invalidRedirectUri);
  return { ...uri, kind: kindOf(uri) };
}

function kindOf({ scheme, url }: StrictUri): RedirectKind {
  if (scheme === 'https') return 'https';
  if (scheme === 'http') {
    if (LOOPBACK_LITERALS.has(url.hostname)) return 'loopback';
    if (url.hostname === 'localhost' || url.hostname.endsWith('.localhost')) return 'localhost';
    return 'other';
  }
  return scheme.includes('.') ? 'private-use' : 'other';
}

/** True for the kinds only a native app may use (used to infer application_type). */
export function isNativeKind(kind: RedirectKind): boolean {
  return kind === 'loopback' || kind === 'localhost' || kind === 'private-use';
}

/** Throws invalid_redirect_uri unless `uri` suits `type` (header comment). */
export function checkRedirectUri(uri: RedirectUri, field: string, type: ApplicationType, clientHost: string | undefined, hostNamedBy = 'client_uri'): void {
  if (type === 'web') {
    if (uri.kind !== 'https') throw invalidRedirectUri(`${field} must be an https URI (application_type web)`);
    if (uri.url.hostname !== clientHost) throw invalidRedirectUri(`${field} must be on the ${hostNamedBy} host`);
    return;
  }
  if (uri.kind === 'localhost') {
    throw invalidRedirectUri(`${field} must use the loopback IP literal 127.0.0.1 or [::1], not localhost (RFC 8252 section 8.3)`);
  }
  if (uri.kind !== 'loopback' && uri.kind !== 'private-use') {
    throw invalidRedirectUri(
      `${field} must be http on 127.0.0.1 or [::1] (RFC 8252 section 7.3) or use a private-use scheme containing a dot (RFC 8252 section 7.1) (application_type native)`,
    );
  }
}
