/**
 * Opaque secrets (authorization codes, access and refresh tokens): 256 random bits,
 * base64url. Only their SHA-256 reaches storage (DESIGN.md: tokens stored only as hashes),
 * so a leaked database holds nothing usable.
 */
import { createHash, randomBytes } from 'node:crypto';

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** An id for grants and requests: 128 random bits. */
export function newId(): string {
  return randomBytes(16).toString('base64url');
}
