/**
 * Client secrets of stateless registration (DESIGN.md):
 *
 *   client_secret = lowercase hex of HMAC-SHA256(key = per_host_key, message = client_id)
 *
 * Nothing is stored: the secret is recomputed from the client_id and compared in constant
 * time (RFC 6749 §2.3.1 leaves the comparison to the server; RFC 9700 §4.14 on brute force).
 * The per-host key used is the one the client_id's `kid` names, i.e. the one that signed it,
 * so secrets survive a key rotation exactly as long as their client_id does.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import type { HostKey, RegistrationKeys } from './keys.js';

/** The secret of `clientId` under `key`. */
export function clientSecretFor(clientId: string, key: HostKey): string {
  return createHmac('sha256', key.bytes).update(clientId, 'utf8').digest('hex');
}

/**
 * Constant-time comparison of a presented secret with the expected one. Every client secret is
 * 64 lowercase hex characters, so comparing lengths first tells a guesser nothing it did not
 * know; equal lengths are then compared with timingSafeEqual, which reveals nothing about how
 * many leading characters of a guess were right.
 */
export function secretEquals(expected: string, presented: string): boolean {
  const e = Buffer.from(expected, 'latin1');
  const p = Buffer.from(presented, 'utf8');
  return p.length === e.length && timingSafeEqual(p, e);
}

/**
 * True when `secret` is the client secret of `clientId` on this host.
 *
 * This authenticates the secret only: the caller must also accept the client_id itself with
 * verifyClient (signature, expiry, metadata) and check its token_endpoint_auth_method.
 *
 * @example
 * if (!verifyClientSecret(clientId, secret, keys)) throw invalidClient('unknown or invalid client');
 */
export function verifyClientSecret(clientId: unknown, secret: unknown, keys: RegistrationKeys): boolean {
  if (typeof clientId !== 'string' || typeof secret !== 'string' || secret === '') return false;
  let kid: unknown;
  try {
    kid = decodeProtectedHeader(clientId).kid;
  } catch {
    return false;
  }
  const key = keys.find(kid);
  if (key === undefined) return false;
  return secretEquals(clientSecretFor(clientId, key), secret);
}
