/**
 * PKCE (RFC 7636). Only S256 is accepted: `plain` offers no protection against an
 * intercepted authorization request (RFC 9700 §2.1.1 requires S256 when the client can).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** code_verifier: 43-128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1). */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
/** code_challenge: BASE64URL(SHA256(verifier)), 43 characters without padding (§4.2). */
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export function isValidChallenge(challenge: string): boolean {
  return CHALLENGE.test(challenge);
}

/** True when `verifier` is well-formed and hashes to `challenge` (RFC 7636 §4.6). */
export function verifyPkce(verifier: string, challenge: string): boolean {
  if (!VERIFIER.test(verifier) || !CHALLENGE.test(challenge)) return false;
  const computed = Buffer.from(createHash('sha256').update(verifier, 'ascii').digest('base64url'));
  const expected = Buffer.from(challenge);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}
