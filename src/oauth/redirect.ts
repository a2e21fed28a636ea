/**
 * Redirect URI rules (RFC 9700 §4.1.3, RFC 8252 §7.3): the URI in a request must equal one
 * the client registered, character for character, except that for loopback IP literals the
 * port may differ (native apps get an ephemeral port at run time).
 */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]']);

function loopbackKey(uri: string): string | null {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return null;
  }
  if (u.protocol !== 'http:' || !LOOPBACK_HOSTS.has(u.hostname)) return null;
  // Everything but the port must still match.
  return `${u.protocol}//${u.hostname}${u.pathname}${u.search}`;
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
