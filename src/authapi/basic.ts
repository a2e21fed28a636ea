/**
 * HTTP Basic authentication of the caller (Prosody's `http_auth_credentials`, RFC 7617).
 * Compared in constant time: both sides are hashed first, so neither length nor content
 * leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** A checker for the `Authorization` header, or null when no credentials are configured. */
export function basicChecker(credentials: string | null): ((header: string | undefined) => boolean) | null {
  if (credentials === null) return null;
  const expected = digest(credentials);
  return (header) => {
    // token68 (RFC 7235 §2.1): padding only at the end. Node's decoder stops at the first "=",
    // so anything after it would otherwise be ignored and `<credentials>=junk` accepted.
    const m = header === undefined ? null : /^Basic\s+([A-Za-z0-9+/]+=*)\s*$/i.exec(header);
    const given = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
    // Always compare, even when the header is missing, so both paths cost the same.
    return timingSafeEqual(digest(given), expected) && m !== null;
  };
}
