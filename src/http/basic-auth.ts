/**
 * HTTP Basic credentials (RFC 7617 §2): `Basic <token68>`, the scheme in any case, one read for
 * every face that takes them (the auth API's caller, OAuth clients, resource servers).
 *
 * token68 (RFC 7235 §2.1) allows "=" only at its end. Node's base64 decoder stops at the first
 * "=", so a looser pattern would ignore whatever follows it and accept `<credentials>=junk`.
 */
const BASIC = /^Basic\s+([A-Za-z0-9+/]+=*)\s*$/i;

/** The decoded `user:password` of a Basic `Authorization` header, or null when it is not one. */
export function basicCredentials(header: string | undefined): string | null {
  const m = header === undefined ? null : BASIC.exec(header);
  return m === null ? null : Buffer.from(m[1]!, 'base64').toString('utf8');
}
