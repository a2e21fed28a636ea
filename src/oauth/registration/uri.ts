/**
 * Strict parsing of registered URIs. What is checked is what will later be compared byte for
 * byte (RFC 6749 §3.1.2.2, RFC 9700 §4.1.3: exact redirect URI matching), so the raw string
 * must mean exactly what the parsed URL says:
 * - only RFC 3986 characters, well-formed percent escapes: the WHATWG parser silently drops
 *   tabs and newlines and turns `\` into `/`, which would let the checked URL differ from the
 *   stored string;
 * - an absolute URI with a scheme; http and https with an authority (`https:host` is refused);
 * - no fragment (RFC 6749 §3.1.2), no user information (RFC 9700 §4.1.1 and §4.11);
 * - the authority in normalized form (lowercase host, no default port, canonical IP literal),
 *   so `0x7f.1`, `EXAMPLE.com:443` or a percent-encoded host cannot dodge a host comparison.
 */
import type { OAuthError } from '../errors.js';

export interface StrictUri {
  /** Lowercase, without the colon. */
  readonly scheme: string;
  readonly url: URL;
}

const URI_CHARS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+$/;
const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const SPECIAL = new Set(['http', 'https']);

/** Parses `raw`, or throws `fail('<field> must ...')`. */
export function parseStrictUri(raw: string, field: string, fail: (description: string) => OAuthError): StrictUri {
  if (!URI_CHARS.test(raw) || BAD_PERCENT.test(raw)) throw fail(`${field} must contain only URI characters (RFC 3986)`);
  const m = SCHEME.exec(raw);
  let url: URL | undefined;
  try {
    url = m === null ? undefined : new URL(raw);
  } catch {
    url = undefined;
  }
  if (m === null || url === undefined) throw fail(`${field} must be an absolute URI`);
  const scheme = m[1]!.toLowerCase();
  if (raw.includes('#')) throw fail(`${field} must not contain a fragment`);
  const rest = raw.slice(m[0].length);
  const authority = rest.startsWith('//') ? /^[^/?#]*/.exec(rest.slice(2))![0] : null;
  if (authority !== null && authority.includes('@')) throw fail(`${field} must not contain user information`);
  if (SPECIAL.has(scheme) && (authority === null || url.hostname === '')) throw fail(`${field} must have a host`);
  if (authority !== null && authority.toLowerCase() !== url.host.toLowerCase()) {
    throw fail(`${field} must be in normalized form (lowercase host, no default port)`);
  }
  return { scheme, url };
}

/**
 * Host names and addresses that reach the machine itself: `localhost` and its subdomains
 * (RFC 6761 §6.3), 127.0.0.0/8, ::1, the unspecified addresses and IPv4-mapped loopback.
 * `hostname` is as the WHATWG parser normalizes it (dotted-decimal IPv4, bracketed IPv6).
 */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, '');
  return (
    h === 'localhost' ||
    h.endsWith('.localhost') ||
    /^127\.\d+\.\d+\.\d+$/.test(h) ||
    h === '0.0.0.0' ||
    h === '[::1]' ||
    h === '[::]' ||
    /^\[::ffff:(7f[0-9a-f]{2}:[0-9a-f]{1,4}|0:0)\]$/.test(h)
  );
}
