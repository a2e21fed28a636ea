/**
 * HTTP Basic authentication of the caller (Prosody's `http_auth_credentials`, RFC 7617).
 * Compared in constant time: both sides are hashed first, so neither length nor content
 * leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { basicCredentials } from '../http/basic-auth.js';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** A checker for the `Authorization` header, or null when no credentials are configured. */
export function basicChecker(credentials: string | null): ((header: string | undefined) => boolean) | null {
  if (credentials === null) return null;
  const expected = digest(credentials);
  return (header) => {
    const given = basicCredentials(header);
    // Always compare, even when the header is missing, so both paths cost the same.
    return timingSafeEqual(digest(given ?? ''), expected) && given !== null;
  };
}
