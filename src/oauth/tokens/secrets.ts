/**
 * Opaque secrets (authorization codes, access and refresh tokens): 256 random bits,
 * base64url. Only their SHA-256 reaches storage (DESIGN.md: tokens stored only as hashes),
 * so a leaked database holds nothing usable.
 */
import { createHash, randomFillSync } from 'node:crypto';

/**
 * Random bytes are drawn from the CSPRNG 4 KiB at a time (as node:crypto's randomUUID does):
 * one system call per 128 tokens instead of one each. Every byte is handed out once, and only
 * as an encoded copy.
 */
const POOL = Buffer.alloc(4096);
let offset = POOL.length;

/** `bytes` fresh random bytes (at most 256), base64url-encoded. */
export function randomBase64url(bytes: number): string {
  if (!(Number.isInteger(bytes) && bytes > 0 && bytes <= 256)) throw new RangeError('bytes must be 1..256');
  if (offset + bytes > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const out = POOL.toString('base64url', offset, offset + bytes);
  offset += bytes;
  return out;
}

export function newSecret(): string {
  return randomBase64url(32);
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** An id for grants and requests: 128 random bits. */
export function newId(): string {
  return randomBase64url(16);
}
