/**
 * Redirect URI rules (RFC 9700 §4.1.3, RFC 8252 §7.3): the URI in a request must equal one
 * the client registered, character for character, except that for loopback IP literals the
 * port may differ (native apps get an ephemeral port at run time). Nothing else may differ:
 * the comparison is on the strings, never on URLs as a parser normalizes them, so user
 * information (`http://evil@127.0.0.1/cb`), dot segments (`/x/../cb`), other spellings of the
 * address (`http://2130706433/cb`, `http://127.1/cb`, `[0:0:0:0:0:0:0:1]`), an upper-case
 * scheme and a fragment (RFC 6749 §3.1.2) all fail to match.
 */

/**
 * `http://127.0.0.1` or `http://[::1]`, an optional port of 1 to 5 digits without a leading
 * zero, then the rest (path and query) in RFC 3986 characters, no fragment.
 */
const LOOPBACK = /^http:\/\/(127\.0\.0\.1|\[::1\])(?::([1-9][0-9]{0,4}))?([/?][A-Za-z0-9\-._~:/?[\]@!$&'()*+,;=%]*)?$/;

/** The URI without its port, when it is a loopback redirect URI; else null. */
function loopbackKey(uri: string): string | null {
  const m = LOOPBACK.exec(uri);
  if (m === null) return null;
  if (m[2] !== undefined && Number(m[2]) > 65535) return null;
  return `http://${m[1]}${m[3] ?? ''}`;
}

/** The registered URI `requested` matches, or null. Undefined `requested` works for one registered URI. */
export function matchRedirectUri(registered: readonly string[], requested: string | undefined): string | null {
  if (requested === undefined) return registered.length === 1 ? registered[0]! : null;
  if (registered.includes(requested)) return requested;
  const key = loopbackKey(requested);
  if (key !== null && registered.some((r) => loopbackKey(r) === key)) return requested;
  return null;
}

/**
 * Add parameters to a redirect URI's query (RFC 6749 §4.1.2), keeping its own query. `iss`
 * tells the client which server answered (RFC 9207).
 */
export function withParams(uri: string, params: Record<string, string | undefined>): string {
  const u = new URL(uri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.append(k, v);
  return u.toString();
}
